"""The cross toolchain in an environment: arm-none-eabi-gcc (``toolchain=gnu``, the default)
or clang with ld.lld (``toolchain=llvm``) replaces the host compiler, with flags and an
``ENV`` that make objects reproducible across checkouts and machines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import SCons.Script


def setup(env) -> None:
    """Install the cross compiler and its defaults; values the SConstruct set survive."""
    env.SetDefault(
        FW_PREFIX="arm-none-eabi-",
        FW_BUILD_DIR="#build/$FW_TARGET",
        FW_PROJECT=env.Dir(".").srcnode().abspath,
        FW_OBJCOPY="${FW_PREFIX}objcopy",
        FW_LINKCOM="$LINK -o ${TARGETS[0]}.tmp -Wl,-Map=${TARGETS[1]} -T $FW_LDSCRIPT "
        "$LINKFLAGS $SOURCES $_LIBDIRFLAGS $_LIBFLAGS",
    )
    # The cross toolchain replaces the host one that "default" set up.
    env["CC"] = "${FW_PREFIX}gcc"
    env["AS"] = "${FW_PREFIX}gcc"
    env["LINK"] = "${FW_PREFIX}gcc"
    env["AR"] = "${FW_PREFIX}ar"
    env["RANLIB"] = "${FW_PREFIX}ranlib"
    env["ASFLAGS"] = ["-x", "assembler-with-cpp", "$FW_PATH_MAP"]
    env["ARFLAGS"] = "rcD"  # deterministic archives: no timestamps, owners or modes
    env["RANLIBFLAGS"] = "-D"
    # Reproducible objects: no absolute path of the checkout reaches debug information or
    # __FILE__ (see path_map), and __DATE__/__TIME__ are flagged. $( $) keeps the paths (and
    # a compiler wrapper such as ccache or distcc) out of the build signatures, so a second
    # checkout in another folder hits the same cache entries.
    env["_FW_PATH_MAP"] = path_map
    env["FW_PATH_MAP"] = "$( $_FW_PATH_MAP $)"
    env.Append(CCFLAGS=["-Wdate-time", "$FW_PATH_MAP"])
    env["CCCOM"] = "$( $FW_CC_PREFIX $) " + env["CCCOM"]
    env["ASPPCOM"] = "$( $FW_CC_PREFIX $) " + env["ASPPCOM"]
    env["ASCOM"] = "$( $FW_CC_PREFIX $) " + env["ASCOM"]
    env["OBJSUFFIX"] = ".o"
    env["PROGSUFFIX"] = ".elf"
    # "content", not "content-timestamp": generated files (app.ld, fwbuild_layout.h) rewritten
    # within the same second keep their mtime, and content-timestamp would then miss them.
    env.Decider("content")
    if env.get("FW_TOOLCHAIN", "gnu") == "llvm":
        _setup_llvm(env)
    # Tools run with PATH only (where the user's toolchain is), not the whole host environment.
    env["ENV"] = {"PATH": os.environ.get("PATH", os.defpath)}
    # ...plus what a compiler wrapper reads (ccache's cache folder, distcc's hosts).
    env["ENV"].update(
        {
            k: v
            for k, v in os.environ.items()
            if k in ("HOME", "TMPDIR") or k.startswith(("CCACHE_", "DISTCC_"))
        }
    )
    if env.get("FW_TOOLCHAIN", "gnu") == "llvm" and not SCons.Script.GetOption("help"):
        _require_llvm(env)


def _setup_llvm(env) -> None:
    """clang and ld.lld for bare-metal Arm: the target triple and newlib's headers on every
    compile; the link takes no default libraries (``link_flags`` names them)."""
    env["CC"] = env["AS"] = env["LINK"] = "clang"
    env["AR"], env["RANLIB"] = "llvm-ar", "llvm-ranlib"
    env["_FW_NEWLIB_SYSROOT"] = _sysroot_flag
    target = ["--target=arm-none-eabi", "$_FW_NEWLIB_SYSROOT"]
    env.Prepend(CCFLAGS=target, ASFLAGS=target)
    # The BareMetal driver links with ld.lld already; -fuse-ld says so. -nostdlib: its
    # defaults (-lc -lm -lgcc from a clang-runtimes folder Debian does not ship) are replaced
    # by newlib's and libgcc's archives for the core.
    # --error-limit=0: lld's last "will not fit in region" line gives the whole overflow,
    # which fwbuild.linker turns into the layout key to change.
    env.Append(LINKFLAGS=["--target=arm-none-eabi", "-fuse-ld=lld", "-nostdlib", "-Wl,--error-limit=0"])


def _require_llvm(env) -> None:
    """Every tool toolchain=llvm runs, found on PATH, or one error naming its Debian package."""
    from fwbuild.scons import memo
    from fwbuild.toolchains import LLVM_PACKAGES, LLVM_TOOLS

    tools = {**LLVM_TOOLS, env.subst("${FW_PREFIX}gcc"): "gcc-arm-none-eabi"}
    missing = [(tool, package) for tool, package in tools.items() if not env.WhereIs(tool)]
    if missing:
        names = ", ".join(f"{tool} (Debian package {package})" for tool, package in missing)
        memo.die(
            f"toolchain=llvm: {names} not found on PATH; toolchain=llvm compiles with clang, links "
            "with ld.lld and takes newlib and libgcc from the Arm GCC toolchain: run ./setup.sh "
            f"(Debian: apt-get install {' '.join(LLVM_PACKAGES)}), or build with toolchain=gnu"
        )


class _Newlib:
    """Where newlib and libgcc are for a set of core flags, as arm-none-eabi-gcc picks its
    multilib for them: the folders (real paths) and the archives by name."""

    def __init__(self, sysroot: Path, libdir: Path, libgcc: Path):
        self.sysroot, self.libdir, self.libgcc = sysroot, libdir, libgcc

    def archive(self, name: str) -> str:
        return str(self.libgcc if name == "libgcc.a" else self.libdir / name)


_NEWLIB: dict[tuple, _Newlib] = {}


def _gcc_print(env, flags: list[str], option: str) -> str:
    gcc = env.subst("${FW_PREFIX}gcc")
    result = subprocess.run([gcc, *flags, option], capture_output=True, text=True, env=env["ENV"])
    return result.stdout.strip()


def newlib(env, core_flags: list[str]) -> _Newlib:
    """newlib's multilib folder and libgcc for ``core_flags``, asked of arm-none-eabi-gcc
    once per run (``-print-file-name=libc.a``, ``-print-libgcc-file-name``)."""
    key = (env.subst("${FW_PREFIX}gcc"), env["ENV"].get("PATH"), tuple(core_flags))
    if key not in _NEWLIB:
        libc = _gcc_print(env, core_flags, "-print-file-name=libc.a")
        libgcc = _gcc_print(env, core_flags, "-print-libgcc-file-name")
        if not os.path.isabs(libc) or not os.path.isfile(libc) or not os.path.isfile(libgcc):
            from fwbuild.scons import memo

            memo.die(
                f"toolchain=llvm: no newlib for {' '.join(core_flags)} (arm-none-eabi-gcc finds "
                f"'{libc}'); install it: apt-get install libnewlib-arm-none-eabi gcc-arm-none-eabi"
            )
        libdir = Path(os.path.realpath(libc)).parent
        # <sysroot>/lib/<multilib>/libc.a: the multilib folder is what gcc prints for the flags.
        multi = _gcc_print(env, core_flags, "-print-multi-directory")
        sysroot = libdir
        for _ in Path(multi).parts if multi != "." else ():
            sysroot = sysroot.parent
        _NEWLIB[key] = _Newlib(sysroot.parent, libdir, Path(os.path.realpath(libgcc)))
    return _NEWLIB[key]


def _sysroot_flag(target, source, env, for_signature):
    """``--sysroot`` for clang: newlib's headers (<sysroot>/include), the same for every core."""
    return f"--sysroot={newlib(env, []).sysroot}"


def link_flags(env, facts) -> list[str]:
    """The link flags of the target's profile for this toolchain: as they are for GNU; for
    LLVM mapped by ``fwbuild.toolchains.llvm_link_flags`` (spec files become newlib's and
    libgcc's archives for the core, in one group; GNU ld options lld lacks are dropped)."""
    flags = facts["cflags"] + facts["ldflags"]
    if env.get("FW_TOOLCHAIN", "gnu") != "llvm":
        return flags
    from fwbuild.errors import FwbuildError
    from fwbuild.scons import memo
    from fwbuild.toolchains import llvm_link_flags

    try:
        mapped = llvm_link_flags(flags, lambda flag: _flag_origin(env, flag))
    except FwbuildError as exc:
        memo.die(str(exc))
    lib = newlib(env, facts["core_flags"])
    archives = [lib.archive(name) for name in mapped.libraries]
    # -L: a SConstruct's LIBS=["m"] finds the core's libm.a, as with GCC.
    return [*mapped.flags, f"-L{lib.libdir}", "-Wl,--start-group", *archives, "-Wl,--end-group"]


def _flag_origin(env, flag):
    """The target file and profile key that give ``flag``; else the SConstruct's LINKFLAGS."""
    from fwbuild.scons import memo
    from fwbuild.toolchains import profile_flag_origin

    resolved = memo.resolved(env)
    targets = resolved.targets
    file, key = profile_flag_origin(
        resolved.target.chain, targets.raw, targets.file_of, env["FW_PROFILE"], flag
    )
    return (file, key) if file else ("SConstruct", "LINKFLAGS")


def versions(env) -> dict[str, str]:
    """What build-info.json records under "toolchain": the toolchain's name and the first
    line of each tool's ``--version``, the C library and the compiler helpers linked."""
    from fwbuild.buildinfo import tool_version
    from fwbuild.scons import memo
    from fwbuild.toolchains import newlib_version

    facts = memo.facts(env)
    name = env.get("FW_TOOLCHAIN", "gnu")
    llvm = name == "llvm"
    lib = newlib(env, facts["core_flags"])
    nano = any(flag in ("--specs=nano.specs", "-specs=nano.specs") for flag in facts["ldflags"])

    def version(command: str) -> str:
        # asked once per tool and PATH in a run: target=all wrote each of 16 build-info.json
        # after four `--version` runs of the same tools
        key = (command, env["ENV"].get("PATH"))
        if key not in _VERSIONS:
            _VERSIONS[key] = tool_version(command, env["ENV"])
        return _VERSIONS[key]

    return {
        "name": name,
        "cc": version(env.subst("$CC")),
        "ld": version("ld.lld" if llvm else env.subst("${FW_PREFIX}ld")),
        "objcopy": version(env.subst("$FW_OBJCOPY")),
        "libc": f"{newlib_version(lib.sysroot / 'include')} ({'libc_nano.a' if nano else 'libc.a'})",
        "builtins": "libgcc.a of " + version(env.subst("${FW_PREFIX}gcc")),
    }


_VERSIONS: dict[tuple, str] = {}


def path_map(target, source, env, for_signature):
    """``-ffile-prefix-map`` options that take every absolute path of this checkout out of
    what the compiler writes (DW_AT_comp_dir, DW_AT_name, __FILE__).

    The compiler runs in SCons' top folder: the folder of the SConstruct that scons reads
    first, which lies above the project when that SConstruct reads the project's (as the
    repository root's does). It reads files under it: the sources, and the generated ones in
    the build folder (fwbuild_layout.h, the default start-up code). The top folder becomes
    ".", so every path under it is relative; the project and the build folder, when they lie
    outside it, become their path relative to it. Each option is one word, quoted for the
    shell: a checkout path may hold spaces.
    """
    # Every compile line asks twice (its command and its signature): at 2,000 sources the
    # substitutions and folder look-ups cost 0.3 s of a null build, so the options are
    # remembered per environment, with the values they come from and where relative
    # folders start from.
    key = (
        id(env), env.get("FW_PROJECT"), env.get("FW_BUILD_DIR"), env.get("FW_TARGET"),
        env.fs.getcwd(), os.getcwd(),
    )  # fmt: skip
    try:
        found = _PATH_MAPS.get(key)
    except TypeError:  # a value that is no dictionary key (a list): work it out each time
        return _path_map(env)
    if found is None or found[0] is not env:
        found = _PATH_MAPS[key] = (env, _path_map(env))
    return list(found[1])


_PATH_MAPS: dict[tuple, tuple] = {}  # key -> (the environment, its options)


def _path_map(env) -> list:
    from SCons.Subst import Literal

    top = env.Dir("#").abspath
    maps = []
    for folder in (os.path.abspath(env.subst("$FW_PROJECT")), env.Dir("$FW_BUILD_DIR").abspath):
        inside = os.path.commonpath([top, folder]) == top
        if not inside and folder not in (old for old, _ in maps):
            maps.append((folder, os.path.relpath(folder, top)))
    # GCC tries the last option first: the top folder wins for paths under it.
    maps.append((top, "."))
    return [Literal(f"-ffile-prefix-map={old}={new}") for old, new in maps]
