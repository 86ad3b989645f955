"""The bootloader's SHA-256 (example_project/bootloader/sha256.c), compiled for the host and
checked against FIPS 180-4's test vectors and against hashlib."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

NIST = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]


@pytest.fixture(scope="module")
def sha256_tool(tmp_path_factory):
    return tmp_path_factory.mktemp("host") / "sha256"


def build(fw, exe):
    if not exe.exists():
        source = fw.EXAMPLE / "bootloader"
        result = subprocess.run(
            ["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{source}", "-o", str(exe),
             str(fw.REPO / "tests/host/sha256_stdin.c"), str(source / "sha256.c")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return exe


def digest(exe, data: bytes, chunk: int) -> str:
    result = subprocess.run([str(exe), str(chunk)], input=data, capture_output=True, check=True)
    return result.stdout.decode().strip()


@pytest.mark.parametrize("data, expected", NIST, ids=["empty", "abc", "448-bit", "million-a"])
def test_fips_180_vectors(fw, sha256_tool, data, expected):
    exe = build(fw, sha256_tool)
    for chunk in (1, 63, 64, 4096):
        if chunk == 1 and len(data) > 1000:
            continue
        assert digest(exe, data, chunk) == expected


def test_every_length_around_the_block_size(fw, sha256_tool):
    exe = build(fw, sha256_tool)
    data = bytes(range(256)) * 2
    for length in list(range(0, 130)) + [447, 448, 511, 512]:
        assert digest(exe, data[:length], 7) == hashlib.sha256(data[:length]).hexdigest(), length
