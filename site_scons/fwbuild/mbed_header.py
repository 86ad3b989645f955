"""Mbed OS firmware headers: the ``header_format`` list language and its presets.

A format is a list of ``[name, type, subtype, arg]`` fields packed without padding:
``const`` (8/16/32/64 bits, le/be; arg the value), ``timestamp`` (32/64 bits; the build's
epoch), ``size`` (32/64 bits; arg a list of region names: the sum of their image bytes),
``digest`` (SHA256, SHA512, CRCITT32le/be; arg a region name, or "header" for the header
bytes before this field). Mbed computes "CRCITT32" as standard CRC-32 (zlib's); so do we.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fwbuild.errors import FwbuildError
from fwbuild.values import ValueParseError, hex32, parse_int

if TYPE_CHECKING:
    from fwbuild.layout import Layout

_ZERO64 = "0"

# mbed-bootloader's v2 header, 112 bytes big-endian: the SHA-256 sits in a 64-byte field,
# then a 16-byte campaign id and a zero signature size, then CRC-32 over bytes 0..107.
MBED_V2: tuple[tuple[Any, ...], ...] = (
    ("magic", "const", "32be", "0x5a51b3d4"),
    ("headerVersion", "const", "32be", "2"),
    ("firmwareVersion", "timestamp", "64be", None),
    ("firmwareSize", "size", "64be", ("application",)),
    ("firmwareDigest", "digest", "SHA256", "application"),
    *((f"firmwareDigestPad{i}", "const", "64be", _ZERO64) for i in range(4)),
    *((f"campaign{i}", "const", "64be", _ZERO64) for i in range(2)),
    ("signatureSize", "const", "32be", "0"),
    ("headerCRC", "digest", "CRCITT32be", "header"),
)

# Pelion's v3 header, 80 bytes little-endian. A full image has no precursor (the image a
# delta applies to), so its precursor digest is zero.
PELION_V3: tuple[tuple[Any, ...], ...] = (
    ("magic", "const", "32le", "0x5c0253a3"),
    ("firmwareSize", "size", "32le", ("application",)),
    ("firmwareVersion", "timestamp", "64le", None),
    ("firmwareDigest", "digest", "SHA256", "application"),
    *((f"precursorDigest{i}", "const", "64le", _ZERO64) for i in range(4)),
)

PRESETS = {"mbed-v2": MBED_V2, "pelion-v3": PELION_V3}
INTEGER_TYPES = ("const", "timestamp", "size")
_INT_FORMATS = {8: "B", 16: "H", 32: "I", 64: "Q"}
DIGESTS = {"SHA256": 32, "SHA512": 64, "CRCITT32le": 4, "CRCITT32be": 4}


# Mbed OS's tools (tools/config/__init__.py) put the application after a header, when
# app_offset is not given, at header_offset + the header's size rounded up to 128 bytes.
MBED_APP_ALIGN = 128


class HeaderFormatError(FwbuildError, ValueError):
    """A header_format entry is wrong; the message names it. A user error (no traceback)
    wherever it escapes to, and a ValueError for the callers that catch those."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    subtype: str
    arg: Any
    size: int


def fields_of(header_format: Any) -> list[Field]:
    """Check a format (preset name or list) and return its fields."""
    if isinstance(header_format, str):
        if header_format not in PRESETS:
            raise HeaderFormatError(f"unknown preset '{header_format}'")
        header_format = PRESETS[header_format]
    if not isinstance(header_format, Sequence) or not header_format:
        raise HeaderFormatError("must be a preset name or a non-empty list of fields")
    out = []
    for i, entry in enumerate(header_format):
        if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 4:
            raise HeaderFormatError(f"entry {i} is not [name, type, subtype, arg]")
        name, kind, subtype, arg = entry
        where = f"entry {i} ('{name}')"
        if kind in INTEGER_TYPES:
            bits, order = str(subtype)[:-2], str(subtype)[-2:]
            if order not in ("le", "be") or not bits.isdigit() or int(bits) not in _INT_FORMATS:
                raise HeaderFormatError(f"{where}: subtype '{subtype}' is not 8/16/32/64 + le/be")
            if kind == "timestamp" and int(bits) < 32:
                raise HeaderFormatError(f"{where}: a timestamp needs 32 or 64 bits")
            if kind == "const":
                try:
                    value = parse_int(arg)
                except ValueParseError as exc:
                    raise HeaderFormatError(f"{where}: {exc}") from None
                if not 0 <= value < 1 << int(bits):
                    raise HeaderFormatError(f"entry {i}, field '{name}': {value} does not fit {subtype}")
            if kind == "size" and (isinstance(arg, str) or not isinstance(arg, Sequence)):
                raise HeaderFormatError(f"{where}: the size arg is a list of region names")
            out.append(Field(name, kind, subtype, arg, int(bits) // 8))
        elif kind == "digest":
            if subtype not in DIGESTS:
                raise HeaderFormatError(
                    f"{where}: unknown digest '{subtype}'; use one of {', '.join(DIGESTS)}"
                )
            if not isinstance(arg, str):
                raise HeaderFormatError(f'{where}: the digest arg is a region name or "header"')
            out.append(Field(name, kind, subtype, arg, DIGESTS[subtype]))
        else:
            raise HeaderFormatError(f"{where}: unknown type '{kind}'; use const, timestamp, size or digest")
    return out


def header_size(header_format: Any) -> int:
    return sum(f.size for f in fields_of(header_format))


def mbed_app_start(header_start: int, header_format: Any) -> int:
    """Where Mbed OS's tools put the application after a header when app_offset is not
    given: the header's end rounded up to 128 bytes (fwbuild rounds to the vector table's
    alignment, which is what VTOR needs)."""
    end = header_start + header_size(header_format)
    return (end + MBED_APP_ALIGN - 1) // MBED_APP_ALIGN * MBED_APP_ALIGN


def placement_note(layout: Layout, app_offset_given: bool) -> str | None:
    """A note when a layout with an Mbed header leaves the application start to the
    computation and Mbed OS would compute another address: a bootloader built from the
    same Mbed config would look for the application elsewhere."""
    header = layout.region("header")
    if header is None or app_offset_given or layout.header_format in (None, "mcuboot"):
        return None
    mbed = mbed_app_start(header.start, layout.header_format)
    ours = layout.application.start
    if mbed == ours:
        return None
    size = header_size(layout.header_format)
    return (
        f"{layout.target}: Mbed OS would place the application at {hex32(mbed)} (the header's "
        f"{size} bytes from {hex32(header.start)}, rounded up to {MBED_APP_ALIGN}); fwbuild places it "
        f"at {hex32(ours)} (the {layout.vector_size}-byte vector table's alignment, {layout.vector_align} "
        f'bytes); set app_offset to pin it ("{ours - layout.flash_start:#x}" keeps fwbuild\'s address) '
        "and build the bootloader with the same value"
    )


def build_header(header_format: Any, images: Mapping[str, bytes], timestamp: int) -> bytes:
    """Pack the header. ``images`` maps region names (e.g. "application") to their bytes."""
    out = bytearray()
    for field in fields_of(header_format):
        if field.kind == "digest":
            if field.arg == "header":
                data = bytes(out)
            elif field.arg in images:
                data = images[field.arg]
            else:
                raise HeaderFormatError(f"field '{field.name}': no image for region '{field.arg}'")
            out += _digest(field.subtype, data)
            continue
        if field.kind == "const":
            value = parse_int(field.arg)
        elif field.kind == "timestamp":
            value = timestamp
        else:
            missing = [r for r in field.arg if r not in images]
            if missing:
                raise HeaderFormatError(f"field '{field.name}': no image for region '{missing[0]}'")
            value = sum(len(images[r]) for r in field.arg)
        order = "<" if field.subtype.endswith("le") else ">"
        limit = 1 << (8 * field.size)
        if not 0 <= value < limit:
            raise HeaderFormatError(f"field '{field.name}': {value} does not fit {field.subtype}")
        out += struct.pack(order + _INT_FORMATS[8 * field.size], value)
    return bytes(out)


def _digest(kind: str, data: bytes) -> bytes:
    import hashlib
    import zlib

    if kind == "SHA256":
        return hashlib.sha256(data).digest()
    if kind == "SHA512":
        return hashlib.sha512(data).digest()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    return crc.to_bytes(4, "little" if kind.endswith("le") else "big")


def header_mismatch(header_format: Any, header: bytes, images: Mapping[str, bytes]) -> tuple[str, str] | None:
    """Check a header against ``images``: first its own checksum over the bytes it carries,
    then every field against a header rebuilt with the timestamp it carries. Returns
    (check, message) for the first problem ("header crc", "digest", "size" or "field"),
    or None when it matches."""
    fields = fields_of(header_format)
    need = sum(f.size for f in fields)
    if len(header) < need:
        return "size", f"the header is {len(header)} bytes, the format needs {need}"
    timestamp, offset = 0, 0
    for field in fields:
        found = header[offset : offset + field.size]
        if (
            field.kind == "digest"
            and field.arg == "header"
            and found != _digest(field.subtype, header[:offset])
        ):
            return "header crc", f"{field.name} holds {found.hex()}, the header bytes give " + _digest(
                field.subtype, header[:offset]
            ).hex()
        if field.kind == "timestamp":
            order = "<" if field.subtype.endswith("le") else ">"
            timestamp = struct.unpack(order + _INT_FORMATS[8 * field.size], found)[0]
        offset += field.size
    expected = build_header(header_format, images, timestamp)
    offset = 0
    for field in fields:
        found, wanted = header[offset : offset + field.size], expected[offset : offset + field.size]
        if found != wanted:
            check = {"digest": "digest", "size": "size"}.get(field.kind, "field")
            return (
                check,
                f"{field.name} ({field.kind} {field.subtype}) holds {found.hex()}, expected {wanted.hex()}",
            )
        offset += field.size
    return None
