"""The toolchains a build can use, and what the LLVM one needs from a GCC-flavoured target.

``gnu`` (the default) is arm-none-eabi-gcc with GNU ld. ``llvm`` is clang with ld.lld: it
compiles and links the same sources for the same targets, from the same linker script,
against the same C library: newlib from Debian's libnewlib-arm-none-eabi, and libgcc from
gcc-arm-none-eabi for the compiler's helper functions (docs/toolchains.md says why).

Target profiles carry GCC driver flags (``--specs=nosys.specs``, ``--specs=nano.specs``) and
GNU ld options lld lacks; ``llvm_link_flags`` is the one place they are mapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fwbuild.errors import ConfigError

TOOLCHAINS = ("gnu", "llvm")
DEFAULT_TOOLCHAIN = "gnu"

# The Debian packages each toolchain's tools come from (named in "not found" errors).
# LLVM builds read newlib and libgcc through arm-none-eabi-gcc, so they need it too.
GNU_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi")
LLVM_TOOLS = {"clang": "clang", "ld.lld": "lld", "llvm-ar": "llvm", "llvm-ranlib": "llvm"}
LLVM_PACKAGES = ("clang", "lld", "llvm", *GNU_PACKAGES)

# GCC's spec files the target profiles use, and the libraries each stands for in the link
# (newlib's /usr/lib/arm-none-eabi/lib/<multilib>/*.specs). GCC always links libgcc and libc.
SPECS = {
    "nosys.specs": "syscalls that fail (libnosys): no OS, no semihosting",
    "nano.specs": "newlib-nano (libc_nano) instead of newlib",
    "rdimon.specs": "syscalls through semihosting (librdimon)",
}
# Flags with nothing to do under clang and lld: lld has no warnings to silence for these.
DROPPED = {
    "-nostartfiles": "the LLVM link passes -nostdlib, which leaves out start files too",
    "-Wl,--no-warn-rwx-segments": "lld does not warn about RWX segments",
    "-Wl,--no-warn-execstack": "lld does not warn about executable stacks",
}
_SPECS_RE = re.compile(r"^--?specs=(.*)$")


@dataclass(frozen=True)
class LlvmLink:
    """What clang's driver gets instead of a profile's GCC link flags."""

    flags: tuple[str, ...]  # the flags kept, in order
    libraries: tuple[str, ...]  # archive names (libgcc.a, libc_nano.a, ...) for one --start-group
    specs: tuple[str, ...]  # the spec files mapped, for build-info.json

    @property
    def nano(self) -> bool:
        return "nano.specs" in self.specs


def llvm_link_flags(
    flags: Sequence[str], origin: Callable[[str], tuple[object, str | None]] = lambda flag: (None, None)
) -> LlvmLink:
    """Map GCC link flags to clang + lld: each ``--specs=`` becomes the archives it names,
    GNU ld options lld lacks are dropped, every other flag is kept. ``origin(flag)`` names
    the file and key a flag came from, for the error about a spec file with no mapping."""
    kept: list[str] = []
    specs: list[str] = []
    for flag in flags:
        match = _SPECS_RE.match(flag)
        if match:
            name = match.group(1)
            if name not in SPECS:
                file, key = origin(flag)
                raise ConfigError(
                    file,
                    key,
                    f"{flag}: toolchain=llvm has no equivalent of GCC's spec file '{name}' (it maps "
                    + ", ".join(sorted(SPECS))
                    + ")",
                    "drop the flag from the profile, or build with toolchain=gnu",
                )
            if name not in specs:
                specs.append(name)
        elif flag not in DROPPED:
            kept.append(flag)
    nano = "nano.specs" in specs
    libraries = ["libgcc.a", "libc_nano.a" if nano else "libc.a"]
    if "rdimon.specs" in specs:
        libraries.append("librdimon_nano.a" if nano else "librdimon.a")
    elif "nosys.specs" in specs:
        libraries.append("libnosys.a")
    return LlvmLink(tuple(kept), tuple(libraries), tuple(specs))


def profile_flag_origin(
    chain: Sequence[str],
    raw: Callable[[str], dict],
    file_of: Callable[[str], Path],
    profile: str,
    flag: str,
) -> tuple[Path | None, str | None]:
    """The target file and key (``profiles.<profile>.<ldflags|cflags>``) that give ``flag``:
    the first file of the inheritance ``chain`` (the target first) that sets the list,
    since a child's list replaces its parent's whole."""
    for kind in ("ldflags", "cflags"):
        for name in (profile, "common"):
            for member in chain:
                flags = raw(member).get("profiles", {}).get(name, {}).get(kind)
                if flags is not None:
                    if flag in flags:
                        return file_of(member), f"profiles.{name}.{kind}"
                    break  # this file's list is the one in force
    return None, None


def newlib_version(include_dir: Path) -> str:
    """newlib's version from its headers (``_newlib_version.h``), e.g. "newlib 3.3.0"."""
    for header in ("_newlib_version.h", "newlib.h"):
        try:
            text = (include_dir / header).read_text(errors="replace")
        except OSError:
            continue
        match = re.search(r'#define\s+_NEWLIB_VERSION\s+"([^"]+)"', text)
        if match:
            return f"newlib {match.group(1)}"
    return "newlib (version unknown)"
