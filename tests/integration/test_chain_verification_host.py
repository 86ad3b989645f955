"""The example chain's image check (chain/common/check.c with libsodium), built for the host,
against images fwbuild signs: 100 random programs with random versions, each valid as
signed and refused for the right reason once tampered with or signed by a stranger."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SODIUM = Path(sys.prefix) / "share" / "libsodium-1.0.20-stable"
SODIUM_SOURCES = (
    "crypto_sign/ed25519/ref10/open.c",
    "crypto_sign/ed25519/ref10/sign.c",
    "crypto_core/ed25519/ref10/ed25519_ref10.c",
    "crypto_hash/sha512/cp/hash_sha512_cp.c",
    "crypto_hash/sha256/cp/hash_sha256_cp.c",
    "crypto_verify/verify.c",
    "sodium/utils.c",
)
SLOT_SIZE, HEADER_SIZE = 0x10000, 0x400


def build_checker(fw, folder: Path, trusted: Path) -> Path:
    """The host program, with fwbuild_keys.c generated for a project trusting ``trusted``."""
    from fwbuild.project import load_project
    from fwbuild.trustedkeys import HEADER, keys_c

    if not (SODIUM / ".complete").is_file() or shutil.which("cc") is None:
        pytest.fail(
            f"libsodium sources ({SODIUM}) or the host compiler missing: run ./setup.sh", pytrace=False
        )
    (folder / "fwbuild.json").write_text(json.dumps({"name": "host", "signing": {"key": trusted.name}}))
    (folder / "fwbuild_keys.c").write_text(keys_c(load_project(folder), folder / trusted.name))
    (folder / "fwbuild_keys.h").write_text(HEADER)
    common = fw.EXAMPLE / "chain" / "common"
    program = folder / "check_images"
    # As on the device: code nothing calls (libsodium's allocator) is left out of the link.
    cmd = [
        "cc", "-O1", "-w", "-DNATIVE_LITTLE_ENDIAN=1", "-DCONFIGURED=1", "-ffunction-sections",
        "-fdata-sections", "-Wl,--gc-sections", f"-I{common}", f"-I{SODIUM / 'include' / 'sodium'}",
        f"-I{folder}", "-o", str(program), str(fw.REPO / "tests" / "host" / "check_images.c"),
        str(common / "check.c"), str(folder / "fwbuild_keys.c"),
        *(str(SODIUM / name) for name in SODIUM_SOURCES),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return program


def test_check_against_fwbuild_signatures(fw, tmp_path, keys):
    from fwbuild.keys import load_private_key
    from fwbuild.mcuboot import ImageOptions, auto_security_counter, make_image
    from fwbuild.project import Version

    trusted = keys.write(tmp_path / "trusted.pem", keys.generate("ed25519"))
    stranger = keys.write(tmp_path / "stranger.pem", keys.generate("ed25519"))
    program = build_checker(fw, tmp_path, trusted)
    signer, other = load_private_key(trusted), load_private_key(stranger)

    rng = random.Random(20261202)
    images, expected = [], []
    for n in range(100):
        payload = rng.randbytes(rng.randrange(64, 4096))
        version = Version(
            rng.randrange(256), rng.randrange(256), rng.randrange(65536), rng.randrange(1 << 32)
        )
        options = ImageOptions(
            header_size=HEADER_SIZE,
            version=version,
            security_counter=auto_security_counter(version),
            slot_size=SLOT_SIZE,
        )
        image = make_image(payload, options, signer)
        cases = {"ok": image}
        flipped = bytearray(image)
        flipped[HEADER_SIZE + rng.randrange(len(payload))] ^= 1 << rng.randrange(8)
        cases["hash"] = bytes(flipped)
        forged = bytearray(image)
        forged[-1 - rng.randrange(64)] ^= 1 << rng.randrange(8)  # inside the Ed25519 signature
        cases["signature"] = bytes(forged)
        cases["untrusted key"] = make_image(payload, options, other)
        for verdict, data in cases.items():
            path = tmp_path / f"{n:03d}-{verdict.replace(' ', '-')}.bin"
            path.write_bytes(data)
            images.append(str(path))
            expected.append(verdict)
    result = subprocess.run(
        [str(program), hex(SLOT_SIZE), hex(HEADER_SIZE), *images], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    got = result.stdout.split("\n")[: len(images)]
    wrong = [
        (Path(image).name, want, have) for image, want, have in zip(images, expected, got) if want != have
    ]
    assert not wrong, wrong[:10]
    assert expected.count("ok") == 100
