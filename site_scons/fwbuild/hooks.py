"""Post-build hooks: the ones shipped with fwbuild, by name (``post_build_hooks`` in a target
or fwbuild.json), and the ones a firmware repo registers (``env.FirmwarePostBuild``).

Two stages: ``link`` hooks patch the .bin of a linked program before any header, digest or
signature is computed; ``image`` hooks run after signing and merging and write new files
only, never changing signed bytes. Order within a stage: named hooks in the order the
config lists them, then repo hooks in the order the SConstruct registers them.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fwbuild.errors import ConfigError, FwbuildError, HookError, ImageError
from fwbuild.fileio import remove_quietly

if TYPE_CHECKING:
    from fwbuild.layout import Layout

STAGES = ("link", "image")


@dataclass(frozen=True)
class Hook:
    name: str
    stage: str  # "link" | "image"
    run: Callable[[bytes], bytes]
    output_suffix: str = ""  # image hooks: "-crc" gives combined-crc.bin / app-crc.bin
    description: str = ""


def lpc_vector_checksum(image: bytes) -> bytes:
    """NXP LPC boot ROMs run user code only if vectors 0-7 sum to zero: vector 7 (offset
    0x1C) holds the two's complement of the sum of vectors 0-6."""
    if len(image) < 32:
        raise ImageError(f"the image is {len(image)} bytes, too short for an LPC vector table")
    words = struct.unpack_from("<7I", image, 0)
    checksum = (-sum(words)) & 0xFFFFFFFF
    return image[:0x1C] + struct.pack("<I", checksum) + image[0x20:]


def lpc_checksum_ok(image: bytes) -> bool:
    return len(image) >= 32 and sum(struct.unpack_from("<8I", image, 0)) & 0xFFFFFFFF == 0


def crc32_trailer(image: bytes) -> bytes:
    """The image with a little-endian CRC-32 (zlib's) appended, as older Multitech
    bootloaders expected."""
    return image + struct.pack("<I", zlib.crc32(image) & 0xFFFFFFFF)


REGISTRY: dict[str, Hook] = {
    "lpc_vector_checksum": Hook(
        "lpc_vector_checksum",
        "link",
        lpc_vector_checksum,
        description="vector 7 = two's complement of the sum of vectors 0-6 (NXP LPC boot ROM)",
    ),
    "crc32_trailer": Hook(
        "crc32_trailer",
        "image",
        crc32_trailer,
        "-crc",
        description="copy of the image with a little-endian CRC-32 appended",
    ),
}


def hooks_named(names: Sequence[str], file: object = None) -> list[Hook]:
    """The registry's hooks for ``names``, in the order given; an unknown name is an error."""
    out = []
    for name in names:
        if name not in REGISTRY:
            raise ConfigError(
                file,
                "post_build_hooks",
                f"unknown hook '{name}'",
                f"the shipped hooks are {', '.join(sorted(REGISTRY))}; register your own with "
                "env.FirmwarePostBuild() in the SConstruct",
            )
        out.append(REGISTRY[name])
    return out


@dataclass(frozen=True)
class HookContext:
    """What a repo hook receives. ``image`` is its input: the program's .bin (link stage) or
    the final image (image stage: combined.bin, app-signed.bin or app.bin). ``output`` is
    where it writes: a temporary name that is renamed into place when the hook succeeds."""

    hook: str
    stage: str
    target: str
    layout: Layout
    build_dir: Path
    image: Path
    output: Path | None
    outputs: Mapping[str, Path]  # every output of the build so far, by path in build_dir

    def environment(self) -> dict[str, str]:
        """The context as FWBUILD_* variables, for hook commands."""
        return {
            "FWBUILD_HOOK": self.hook,
            "FWBUILD_STAGE": self.stage,
            "FWBUILD_TARGET": self.target,
            "FWBUILD_BUILD_DIR": str(self.build_dir),
            "FWBUILD_IMAGE": str(self.image),
            "FWBUILD_OUTPUT": str(self.output or ""),
            "FWBUILD_LAYOUT": str(self.build_dir / "layout.json"),
            "FWBUILD_OUTPUTS": json.dumps({k: str(v) for k, v in self.outputs.items()}, sort_keys=True),
        }


@dataclass(frozen=True)
class RepoHook:
    """A hook a firmware repo registers: ``run(ctx)`` reads ``ctx.image`` and writes
    ``ctx.output``. ``signature`` changes when the hook's code or command does."""

    name: str
    stage: str
    run: Callable[[HookContext], object]
    output: str | None  # image stage: the file it writes, relative to the build folder
    signature: str


def run_repo_hook(hook: RepoHook, ctx: HookContext, output: Path | None) -> None:
    """Run ``hook`` with a temporary output beside ``output``, then rename it into place.
    Any failure is a HookError naming the hook; nothing half-written is left behind."""
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp") if output else None
    if output:
        remove_quietly(output)  # a failed rerun must not leave the old bytes looking current
    try:
        hook.run(replace(ctx, output=tmp))
        if tmp and not tmp.is_file():
            raise HookError(
                f"post-build hook {hook.name} wrote nothing to its output {output.name} "
                "(ctx.output, $TARGET in a command); write the file or register it without output="
            )
        if tmp:
            os.replace(tmp, output)
    except HookError:
        remove_quietly(*(p for p in (tmp,) if p))
        raise
    except (Exception, SystemExit) as exc:  # a repo's code can fail in any way
        remove_quietly(*(p for p in (tmp,) if p))
        message = str(exc) if isinstance(exc, FwbuildError) else f"{type(exc).__name__}: {exc}"
        raise HookError(f"post-build hook {hook.name} ({hook.stage} stage) failed: {message}") from None


def run_hook_command(command: str, ctx: HookContext, base_env: Mapping[str, str]) -> None:
    """Run a hook command line with the FWBUILD_* context in its environment; its output
    goes to the build log."""
    import subprocess

    result = subprocess.run(command, shell=True, env={**base_env, **ctx.environment()}, cwd=ctx.build_dir)
    if result.returncode:
        raise HookError(
            f"post-build hook {ctx.hook} ({ctx.stage} stage) failed: `{command}` exited with "
            f"status {result.returncode} (its output is above)"
        )
