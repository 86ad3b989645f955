"""MCUboot images against MCUboot's own imgtool (in-process: a loop of subprocesses would be
slow), and fwbuild verify's stricter checks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imgtool import keys as imgtool_keys
from imgtool import version as imgtool_version
from imgtool.image import Image, VerifyResult

from fwbuild.errors import ImageError
from fwbuild.keys import CommandSigner, SignatureError, load_private_key
from fwbuild.mcuboot import (
    ImageOptions,
    VerifyError,
    auto_security_counter,
    make_image,
    parse_image,
    verify_image,
)
from fwbuild.project import Version

VERSION = Version(1, 2, 3, 4)
PAYLOAD = bytes((i * 7 + 3) & 0xFF for i in range(3000))


def options(**changes) -> ImageOptions:
    base = dict(header_size=0x200, version=VERSION, security_counter=auto_security_counter(VERSION))
    base.update(changes)
    return ImageOptions(**base)


def imgtool_sign(tmp_path: Path, key_file: Path, opts: ImageOptions, payload: bytes = PAYLOAD) -> bytes:
    """What `imgtool sign --pad-header` writes for the same input and options."""
    src, out = tmp_path / "in.bin", tmp_path / "imgtool.bin"
    src.write_bytes(payload)
    image = Image(
        version=imgtool_version.decode_version(str(opts.version)),
        header_size=opts.header_size,
        pad_header=True,
        pad=opts.pad,
        confirm=opts.confirm,
        align=opts.align,
        slot_size=opts.slot_size or 0,
        erased_val=hex(opts.erased_value),
        security_counter=opts.security_counter,
    )
    image.load(str(src))
    custom = {kind: value for kind, value in opts.custom_tlvs} or None
    image.create(imgtool_keys.load(str(key_file)), "hash", None, custom_tlvs=custom)
    image.save(str(out))
    return out.read_bytes()


def imgtool_verifies(tmp_path: Path, data: bytes, key_file: Path | None) -> bool:
    path = tmp_path / "check.bin"
    path.write_bytes(data)
    key = imgtool_keys.load(str(key_file)) if key_file else None
    try:
        result = Image.verify(str(path), key)[0]
    except Exception:  # a corrupt header can trip imgtool's parser: that is a rejection too
        return False
    return result == VerifyResult.OK


@pytest.mark.parametrize(
    "opts",
    [
        options(),
        options(align=8, slot_size=0x4000, pad=True, confirm=True, custom_tlvs=((0xA0, b"\x01\x02"),)),
        options(header_size=0x400, security_counter=None, erased_value=0x00, slot_size=0x2000),
    ],
    ids=["plain", "padded-confirmed-custom", "no-counter-zero-fill"],
)
def test_ed25519_image_is_byte_identical_to_imgtool(tmp_path, key_files, opts):
    ours = make_image(PAYLOAD, opts, load_private_key(key_files["ed25519"]))
    assert ours == imgtool_sign(tmp_path, key_files["ed25519"], opts)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072"])
def test_every_key_type_passes_imgtool_verify(tmp_path, key_files, kind):
    signer = load_private_key(key_files[kind])
    assert signer.public.kind == kind
    # KEYHASH exactly as imgtool computes it (getpubhash)
    assert (
        signer.public.key_hash
        == hashlib.sha256(imgtool_keys.load(str(key_files[kind])).get_public_bytes()).digest()
    )
    data = make_image(PAYLOAD, options(), signer)
    assert imgtool_verifies(tmp_path, data, key_files[kind])
    assert verify_image(data, signer.public).version == VERSION
    # the same layout as imgtool's own image for this key (its signature may differ: RSA-PSS
    # and imgtool's ECDSA are randomised)
    theirs = imgtool_sign(tmp_path, key_files[kind], options())
    assert data[: parse_image(data).hashed_end] == theirs[: parse_image(theirs).hashed_end]


def test_dumpinfo_reports_version_and_security_counter(tmp_path, key_files):
    path = tmp_path / "image.bin"
    path.write_bytes(
        make_image(PAYLOAD, options(security_counter=42), load_private_key(key_files["ecdsa-p256"]))
    )
    result = subprocess.run(
        [sys.executable, "-m", "imgtool.main", "dumpinfo", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    assert "version:            1.2.3+4" in text
    assert "type: SEC_CNT (0x50)" in text and "data: 0x2a 0x00 0x00 0x00" in text


def test_unsigned_image_carries_the_hash_only(tmp_path, keys):
    data = make_image(PAYLOAD, options(), None)
    assert [t.name for t in parse_image(data).unprotected] == ["SHA256"]
    assert imgtool_verifies(tmp_path, data, None)
    verify_image(data)
    with pytest.raises(VerifyError, match="signature: the image is not signed"):
        verify_image(data, load_private_key(keys.DEV_KEY).public)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ed25519"])
def test_in_process_signatures_are_deterministic(key_files, kind):
    signer = load_private_key(key_files[kind])
    assert signer.deterministic
    assert make_image(PAYLOAD, options(), signer) == make_image(PAYLOAD, options(), signer)


def test_image_that_does_not_fit_its_slot():
    with pytest.raises(ImageError, match=r"does not fit its 3800-byte slot: \d+ bytes too many"):
        make_image(PAYLOAD, options(slot_size=3800, align=4), None)
    # the swap trailer counts too: 128 sectors x 3 x 4 + 4 x 8 + 16 = 1584 bytes
    fits_without_trailer = 0x200 + len(PAYLOAD) + 16 + 40 + 100
    with pytest.raises(ImageError, match="swap trailer"):
        make_image(PAYLOAD, options(slot_size=fits_without_trailer), None)


def test_trailer_needs_a_supported_write_size():
    with pytest.raises(ImageError, match="not the target's 256"):
        make_image(PAYLOAD, options(align=256, slot_size=0x10000, pad=True), None)


# -- tampering ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def signed(key_files):
    signer = load_private_key(key_files["ed25519"])
    data = make_image(PAYLOAD, options(custom_tlvs=((0xA0, b"\x01\x02\x03\x04"),)), signer)
    return data, signer.public, parse_image(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_caught(tmp_path, key_files, signed, position, bit):
    data, public, image = signed
    position %= image.end
    tampered = bytearray(data)
    tampered[position] ^= 1 << bit
    with pytest.raises(VerifyError):
        verify_image(bytes(tampered), public)
    checked_by_imgtool = position < image.hashed_end or any(
        t.kind in (0x10, 0x24) and t.offset + 4 <= position < t.offset + 4 + len(t.value)
        for t in image.unprotected
    )
    if checked_by_imgtool:  # header, payload, protected TLVs, hash value, signature
        assert not imgtool_verifies(tmp_path, bytes(tampered), key_files["ed25519"])


def test_stricter_than_imgtool_on_keyhash_and_pad_bytes(tmp_path, key_files, signed):
    data, public, image = signed
    keyhash = next(t for t in image.unprotected if t.name == "KEYHASH")
    for position, check in ((keyhash.offset + 4, "key hash"), (keyhash.offset + 1, "tlv layout")):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        with pytest.raises(VerifyError, match=check):
            verify_image(bytes(tampered), public)
        assert imgtool_verifies(tmp_path, bytes(tampered), key_files["ed25519"])  # imgtool misses it


# -- keys --------------------------------------------------------------------------------
def test_external_signer_is_checked_against_the_public_key(tmp_path, key_files, keys):
    public = load_private_key(key_files["ecdsa-p256"]).public
    good = CommandSigner(
        public, f"openssl pkeyutl -sign -inkey {key_files['ecdsa-p256']} -in {{digest}} -out {{signature}}"
    )
    data = make_image(PAYLOAD, options(), good)
    assert imgtool_verifies(tmp_path, data, key_files["ecdsa-p256"])
    other = keys.write(tmp_path / "other.pem", keys.generate("ecdsa-p256"))
    wrong = CommandSigner(public, f"openssl pkeyutl -sign -inkey {other} -in {{digest}} -out {{signature}}")
    with pytest.raises(SignatureError, match="does not verify with the configured ecdsa-p256 public key"):
        make_image(PAYLOAD, options(), wrong)
    failing = CommandSigner(public, "echo signer offline >&2; exit 4")
    with pytest.raises(SignatureError, match="exited with status 4: signer offline"):
        make_image(PAYLOAD, options(), failing)


def test_external_ed25519_and_rsa_signers(tmp_path, key_files):
    commands = {
        "ed25519": "openssl pkeyutl -sign -rawin -inkey {key} -in {{digest}} -out {{signature}}",
        "rsa-2048": "openssl pkeyutl -sign -inkey {key} -pkeyopt rsa_padding_mode:pss -pkeyopt "
        "rsa_pss_saltlen:32 -pkeyopt digest:sha256 -in {{digest}} -out {{signature}}",
    }
    for kind, command in commands.items():
        signer = CommandSigner(load_private_key(key_files[kind]).public, command.format(key=key_files[kind]))
        assert imgtool_verifies(tmp_path, make_image(PAYLOAD, options(), signer), key_files[kind])
