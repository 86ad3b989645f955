"""MCUboot's image format, written and checked in-process.

    [header: 32 bytes + erased-value padding up to hdr_size]
    [payload: the application]
    [protected TLV area: info 0x6908, security counter 0x50, custom TLVs]   <- hashed
    [TLV area: info 0x6907, SHA-256 0x10, KEYHASH 0x01, signature]
    [optional: erased-value padding to the slot's trailer, and the trailer]

The bytes are those of ``imgtool sign --pad-header`` for the same options (TLV order,
``auto`` security counter, trailer layout), so MCUboot and imgtool accept our images.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fwbuild.errors import FwbuildError, ImageError
from fwbuild.keyfacts import SIGNATURE_TLV, Signer
from fwbuild.project import Version
from fwbuild.values import hex32

if TYPE_CHECKING:
    from fwbuild.keys import PublicKey

IMAGE_MAGIC = 0x96F3B83D
HEADER_SIZE = 32
HEADER_FORMAT = "<IIHHIIBBHII"  # magic, load_addr, hdr_size, protect_tlv_size, img_size, flags, version, pad1
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
TLV_KEYHASH, TLV_SHA256, TLV_SEC_CNT = 0x01, 0x10, 0x50
CUSTOM_TLV_MIN, CUSTOM_TLV_MAX = 0x00A0, 0xFFFE
TRAILER_ALIGNS = (1, 2, 4, 8, 16, 32)
DEFAULT_MAX_ALIGN = 8
DEFAULT_MAX_SECTORS = 128
BOOT_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")
TLV_NAMES = {
    0x01: "KEYHASH",
    0x02: "PUBKEY",
    0x10: "SHA256",
    0x20: "RSA2048",
    0x22: "ECDSASIG",
    0x23: "RSA3072",
    0x24: "ED25519",
    0x50: "SEC_CNT",
}
SIGNATURE_LENGTHS = {0x20: (256,), 0x22: (70, 71, 72), 0x23: (384,), 0x24: (64,)}


@dataclass(frozen=True)
class ImageOptions:
    """Everything besides the payload and the key that decides an image's bytes."""

    header_size: int
    version: Version
    security_counter: int | None = None
    custom_tlvs: tuple[tuple[int, bytes], ...] = ()
    align: int = 4  # the flash write size, for the trailer
    erased_value: int = 0xFF
    slot_size: int | None = None  # header start to slot end; None: no fit check, no pad
    pad: bool = False  # pad to slot_size and write the trailer's boot magic
    confirm: bool = False  # also set image_ok (implies pad)
    load_address: int = 0


def auto_security_counter(version: Version) -> int:
    """imgtool's ``--security-counter auto``."""
    return (version.major << 24) + (version.minor << 16) + version.revision


def trailer_size(align: int, max_sectors: int = DEFAULT_MAX_SECTORS) -> int:
    """MCUboot's swap trailer for this write size (imgtool's formula, unencrypted)."""
    max_align = max(DEFAULT_MAX_ALIGN, align)
    return max_sectors * 3 * align + max_align * 4 + _align_up(16, max_align)


def boot_magic(align: int) -> bytes:
    max_align = max(DEFAULT_MAX_ALIGN, align)
    if max_align == DEFAULT_MAX_ALIGN:
        return BOOT_MAGIC
    return struct.pack("<H", max_align) + bytes.fromhex("2de15d29410b8d77679c110f1f8a")


def _align_up(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1)


def _tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("<HH", kind, len(value)) + value


def _area(magic: int, tlvs: Sequence[tuple[int, bytes]]) -> bytes:
    body = b"".join(_tlv(k, v) for k, v in tlvs)
    return struct.pack("<HH", magic, 4 + len(body)) + body


def protected_tlvs(options: ImageOptions) -> list[tuple[int, bytes]]:
    tlvs = []
    if options.security_counter is not None:
        tlvs.append((TLV_SEC_CNT, struct.pack("<I", options.security_counter)))
    tlvs.extend(options.custom_tlvs)
    return tlvs


def check_options(options: ImageOptions) -> None:
    if not HEADER_SIZE <= options.header_size <= 0xFFFF:
        raise ImageError(
            f"the MCUboot header needs {HEADER_SIZE}..65535 bytes, not {options.header_size}; "
            "move app_offset (header size = app_offset - header_offset)"
        )
    for kind, value in options.custom_tlvs:
        if not CUSTOM_TLV_MIN <= kind <= CUSTOM_TLV_MAX:
            raise ImageError(
                f"custom TLV {kind:#06x} is outside MCUboot's vendor range "
                f"{CUSTOM_TLV_MIN:#06x}..{CUSTOM_TLV_MAX:#06x}; pick a type in that range"
            )
        if len(value) > 0xFFFF:
            raise ImageError(f"custom TLV {kind:#06x} holds {len(value)} bytes, more than 65535")
    if (options.pad or options.confirm) and options.align not in TRAILER_ALIGNS:
        raise ImageError(
            f"MCUboot trailers support write sizes {', '.join(map(str, TRAILER_ALIGNS))}, not the "
            f"target's {options.align}; drop pad/confirm (an overwrite-only bootloader needs no trailer)"
        )
    if (options.pad or options.confirm) and options.slot_size is None:
        raise ImageError("pad/confirm need the slot size; give --slot-size or --target/--project")


def make_image(payload: bytes, options: ImageOptions, signer: Signer | None) -> bytes:
    """The signed slot image. Without a signer it carries the hash TLV only."""
    check_options(options)
    protected = protected_tlvs(options)
    protected_area = _area(TLV_PROT_INFO_MAGIC, protected) if protected else b""
    header = struct.pack(
        HEADER_FORMAT,
        IMAGE_MAGIC,
        options.load_address,
        options.header_size,
        len(protected_area),
        len(payload),
        0x20 if options.load_address else 0,  # RAM_LOAD, as imgtool sets it
        options.version.major,
        options.version.minor,
        options.version.revision,
        options.version.build,
        0,
    )
    padding = bytes([options.erased_value]) * (options.header_size - HEADER_SIZE)
    hashed = (header, padding, payload, protected_area)
    sha = hashlib.sha256()
    for piece in hashed:  # hashed in place: no copy of the payload just to hash it
        sha.update(piece)
    digest = sha.digest()
    tlvs = [(TLV_SHA256, digest)]
    if signer is not None:
        tlvs.append((TLV_KEYHASH, signer.public.key_hash))
        tlvs.append((signer.public.signature_tlv, signer.sign_digest(digest)))
    pieces = [*hashed, _area(TLV_INFO_MAGIC, tlvs)]
    length = sum(len(p) for p in pieces)
    if options.slot_size is not None:
        _check_fits(length, options)
    if options.pad or options.confirm:
        pieces.append(_trailer_padding(length, options))
    return b"".join(pieces)  # one allocation of the final size


def _check_fits(length: int, options: ImageOptions) -> None:
    assert options.slot_size is not None
    tsize = trailer_size(options.align) if options.align in TRAILER_ALIGNS else 0
    over = length + tsize - options.slot_size
    if over > 0:
        trailer = f" + the {tsize}-byte swap trailer" if tsize else ""
        raise ImageError(
            f"the signed image ({length} bytes: header, application and TLVs){trailer} does not "
            f"fit its {options.slot_size}-byte slot: {over} bytes too many; shrink the application "
            "or enlarge the slot (restrict_size, candidate_offset)"
        )


def _trailer_padding(length: int, options: ImageOptions) -> bytes:
    assert options.slot_size is not None
    tsize = trailer_size(options.align)
    magic = boot_magic(options.align)
    pad = bytearray([options.erased_value]) * (options.slot_size - length - len(magic))
    pad += magic
    if options.confirm:
        max_align = max(DEFAULT_MAX_ALIGN, options.align)
        pad[-(_align_up(16, max_align) + max_align)] = 0x01  # image_ok
    assert len(pad) >= tsize
    return bytes(pad)


# -- reading and checking ----------------------------------------------------------------


class VerifyError(FwbuildError):
    """One failed check: ``check`` names it (magic, sizes, tlv layout, hash, key hash, signature)."""

    def __init__(self, check: str, message: str):
        self.check = check
        super().__init__(f"{check}: {message}")


@dataclass(frozen=True)
class Tlv:
    offset: int
    kind: int
    value: bytes
    raw_kind: bytes  # the two type bytes as stored (imgtool: type, 0)

    @property
    def name(self) -> str:
        return TLV_NAMES.get(self.kind, f"{self.kind:#06x}")


@dataclass(frozen=True)
class ParsedImage:
    load_address: int
    header_size: int
    protected_size: int
    image_size: int
    flags: int
    version: Version
    protected: tuple[Tlv, ...]
    unprotected: tuple[Tlv, ...]
    hashed_end: int  # header + payload + protected TLVs end here
    end: int  # the TLV area ends here
    trailer: dict[str, object] = field(default_factory=dict)

    def tlv(self, kind: int) -> Tlv | None:
        return next((t for t in self.unprotected + self.protected if t.kind == kind), None)


def parse_image(data: bytes) -> ParsedImage:
    """Parse the header and both TLV areas strictly; raises VerifyError on the first problem."""
    if len(data) < HEADER_SIZE:
        raise VerifyError("sizes", f"{len(data)} bytes cannot hold the {HEADER_SIZE}-byte header")
    magic, load, hdr_size, prot_size, img_size, flags, major, minor, rev, build, pad1 = struct.unpack_from(
        HEADER_FORMAT, data
    )
    if magic != IMAGE_MAGIC:
        raise VerifyError("magic", f"{magic:#010x} is not MCUboot's image magic {IMAGE_MAGIC:#010x}")
    if hdr_size < HEADER_SIZE or hdr_size + img_size + prot_size + 4 > len(data):
        raise VerifyError(
            "sizes",
            f"header size {hdr_size} + image size {img_size} + protected TLVs {prot_size} run past "
            f"the {len(data)} bytes of the file",
        )
    offset = hdr_size + img_size
    protected: tuple[Tlv, ...] = ()
    if prot_size:
        protected = _parse_area(data, offset, TLV_PROT_INFO_MAGIC, "protected")
        area_len = struct.unpack_from("<H", data, offset + 2)[0]
        if area_len != prot_size:
            raise VerifyError(
                "tlv layout", f"the header says {prot_size} bytes of protected TLVs, the area says {area_len}"
            )
        offset += prot_size
    elif struct.unpack_from("<H", data, offset)[0] == TLV_PROT_INFO_MAGIC:
        raise VerifyError("tlv layout", "a protected TLV area that the header does not count")
    hashed_end = offset
    unprotected = _parse_area(data, offset, TLV_INFO_MAGIC, "unprotected")
    end = offset + struct.unpack_from("<H", data, offset + 2)[0]
    return ParsedImage(
        load_address=load,
        header_size=hdr_size,
        protected_size=prot_size,
        image_size=img_size,
        flags=flags,
        version=Version(major, minor, rev, build),
        protected=protected,
        unprotected=unprotected,
        hashed_end=hashed_end,
        end=end,
        trailer=_trailer_info(data, end),
    )


def _parse_area(data: bytes, offset: int, magic: int, what: str) -> tuple[Tlv, ...]:
    if offset + 4 > len(data):
        raise VerifyError("tlv layout", f"the {what} TLV area at {offset:#x} is past the end of the file")
    found, total = struct.unpack_from("<HH", data, offset)
    if found != magic:
        raise VerifyError(
            "tlv layout", f"the {what} TLV area at {offset:#x} starts with {found:#06x}, not {magic:#06x}"
        )
    end = offset + total
    if total < 4 or end > len(data):
        raise VerifyError("tlv layout", f"the {what} TLV area at {offset:#x} claims {total} bytes")
    tlvs = []
    pos = offset + 4
    while pos < end:
        if pos + 4 > end:
            raise VerifyError("tlv layout", f"a truncated TLV at {pos:#x} in the {what} area")
        kind, length = struct.unpack_from("<HH", data, pos)
        if pos + 4 + length > end:
            raise VerifyError(
                "tlv layout", f"the TLV at {pos:#x} (type {kind:#06x}, {length} bytes) runs past its area"
            )
        tlvs.append(Tlv(pos, kind, data[pos + 4 : pos + 4 + length], data[pos : pos + 2]))
        pos += 4 + length
    return tuple(tlvs)


def _trailer_info(data: bytes, end: int) -> dict[str, object]:
    """What a padded image carries after its TLVs: the boot magic and image_ok."""
    for max_align in (8, 16, 32):
        magic = boot_magic(max_align)
        if len(data) - end >= 16 and data.endswith(magic):
            ok_index = len(data) - _align_up(16, max_align) - max_align
            return {"magic": True, "max_align": max_align, "image_ok": data[ok_index] == 0x01}
    return {"magic": False, "bytes_after_tlvs": len(data) - end}


def verify_image(data: bytes, key: PublicKey | None = None) -> ParsedImage:
    """Check an image as strictly as fwbuild writes it: header, TLV layout and lengths,
    SHA-256, KEYHASH against ``key`` and the signature. Raises VerifyError naming the check."""
    image = parse_image(data)
    for tlv in image.unprotected:
        if tlv.raw_kind[1] != 0:
            raise VerifyError("tlv layout", f"the TLV at {tlv.offset:#x} has a non-zero pad byte")
    expected_lengths = {TLV_SHA256: (32,), TLV_KEYHASH: (32,), TLV_SEC_CNT: (4,), **SIGNATURE_LENGTHS}
    for tlv in image.unprotected + image.protected:
        allowed = expected_lengths.get(tlv.kind)
        if allowed and len(tlv.value) not in allowed:
            raise VerifyError(
                "tlv layout", f"{tlv.name} at {tlv.offset:#x} is {len(tlv.value)} bytes, not {allowed[0]}"
            )
    for tlv in image.protected:
        if tlv.kind != TLV_SEC_CNT and not CUSTOM_TLV_MIN <= tlv.kind <= CUSTOM_TLV_MAX:
            raise VerifyError(
                "tlv layout", f"unexpected protected TLV type {tlv.kind:#06x} at {tlv.offset:#x}"
            )
    known = {TLV_SHA256, TLV_KEYHASH, *SIGNATURE_TLV.values()}
    for tlv in image.unprotected:
        if tlv.kind not in known:
            raise VerifyError("tlv layout", f"unexpected TLV type {tlv.kind:#06x} at {tlv.offset:#x}")
    kinds = [t.kind for t in image.unprotected]
    if len(set(kinds)) != len(kinds):
        raise VerifyError("tlv layout", "a TLV type appears twice in the TLV area")
    hash_tlv = image.tlv(TLV_SHA256)
    if hash_tlv is None:
        raise VerifyError("hash", "no SHA-256 TLV")
    digest = hashlib.sha256(data[: image.hashed_end]).digest()
    if hash_tlv.value != digest:
        raise VerifyError(
            "hash",
            f"the SHA-256 TLV holds {hash_tlv.value.hex()[:16]}..., "
            f"the image hashes to {digest.hex()[:16]}...",
        )
    signature_tlvs = [t for t in image.unprotected if t.kind in SIGNATURE_TLV.values()]
    keyhash = image.tlv(TLV_KEYHASH)
    if key is None:
        if bool(signature_tlvs) != bool(keyhash):
            raise VerifyError("tlv layout", "a signature without KEYHASH or KEYHASH without a signature")
        return image
    if keyhash is None or not signature_tlvs:
        raise VerifyError("signature", "the image is not signed (hash TLV only)")
    if keyhash.value != key.key_hash:
        raise VerifyError(
            "key hash",
            f"KEYHASH {keyhash.value.hex()[:16]}... is not the hash of the given {key.kind} key "
            f"({key.key_hash.hex()[:16]}...)",
        )
    signature = signature_tlvs[0]
    if signature.kind != key.signature_tlv:
        raise VerifyError("signature", f"a {signature.name} signature, but the given key is {key.kind}")
    if not key.verify_digest(digest, signature.value):
        raise VerifyError("signature", f"the {signature.name} signature does not verify with the given key")
    return image


def describe(image: ParsedImage) -> list[str]:
    """Lines for ``fwbuild inspect``."""
    lines = [
        f"version          {image.version}",
        f"header size      {image.header_size} ({image.header_size:#x})",
        f"image size       {image.image_size} ({image.image_size:#x})",
        f"protected TLVs   {image.protected_size} bytes",
        f"flags            {image.flags:#010x}",
        f"load address     {hex32(image.load_address)}",
    ]
    for area, tlvs in (("protected", image.protected), ("unprotected", image.unprotected)):
        for tlv in tlvs:
            value = tlv.value
            shown = (
                str(struct.unpack("<I", value)[0])
                if tlv.kind == TLV_SEC_CNT and len(value) == 4
                else value.hex()
            )
            lines.append(f"{area:<11} TLV  {tlv.name:<9} {len(value):>4} bytes  {shown}")
    trailer = image.trailer
    if trailer.get("magic"):
        lines.append(f"trailer          boot magic, image_ok {'set' if trailer['image_ok'] else 'unset'}")
    else:
        lines.append(f"trailer          none ({trailer['bytes_after_tlvs']} bytes after the TLVs)")
    return lines
