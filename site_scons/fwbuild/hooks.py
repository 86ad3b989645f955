"""Post-build hooks shipped with fwbuild, by name (``post_build_hooks`` in a target or fwbuild.json).

Two stages: ``link`` hooks patch the .bin of the program linked at the flash start before any
header, digest or signature is computed; ``image`` hooks run after signing and merging and
write new files only, never changing signed bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fwbuild.errors import ConfigError, ImageError


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
