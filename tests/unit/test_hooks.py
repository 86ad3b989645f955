import struct
import zlib

import pytest

from fwbuild.errors import ConfigError, ImageError
from fwbuild.hooks import crc32_trailer, hooks_named, lpc_checksum_ok, lpc_vector_checksum


def test_lpc_vector_checksum_makes_vectors_0_to_7_sum_to_zero():
    vectors = struct.pack("<8I", 0x10008000, 0x000000C1, 0xC5, 0xC7, 0xC9, 0xCB, 0xCD, 0)
    patched = lpc_vector_checksum(vectors + b"code")
    words = struct.unpack_from("<8I", patched)
    assert sum(words) & 0xFFFFFFFF == 0 and patched[32:] == b"code"
    assert words[:7] == struct.unpack_from("<7I", vectors)
    assert lpc_checksum_ok(patched) and not lpc_checksum_ok(vectors)
    with pytest.raises(ImageError, match="too short"):
        lpc_vector_checksum(b"\0" * 16)


def test_crc32_trailer():
    image = bytes(range(200))
    assert crc32_trailer(image) == image + struct.pack("<I", zlib.crc32(image))


def test_unknown_hook_name():
    with pytest.raises(ConfigError, match=r"post_build_hooks: unknown hook 'crc_trailer'"):
        hooks_named(["crc32_trailer", "crc_trailer"], "fwbuild.json")
