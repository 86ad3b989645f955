"""Mbed headers, checked against an independent packing of the documented layouts."""

import hashlib
import struct
import zlib

import pytest

from fwbuild.mbed_header import HeaderFormatError, build_header, fields_of, header_size

APP = bytes(range(256)) * 40 + b"tail"
EPOCH = 1_700_000_123


def test_mbed_v2_bytes():
    header = build_header("mbed-v2", {"application": APP}, EPOCH)
    body = struct.pack(">IIQQ", 0x5A51B3D4, 2, EPOCH, len(APP))
    body += hashlib.sha256(APP).digest() + bytes(32)  # SHA-256 in a 64-byte field
    body += bytes(16) + struct.pack(">I", 0)  # campaign, signature size
    assert len(body) == 108
    assert header == body + struct.pack(">I", zlib.crc32(body))
    assert len(header) == header_size("mbed-v2") == 112


def test_mbed_v2_read_field_by_field_like_a_bootloader():
    header = build_header("mbed-v2", {"application": APP}, EPOCH)
    magic, version = struct.unpack_from(">II", header, 0)
    fw_version, fw_size = struct.unpack_from(">QQ", header, 8)
    digest = header[24:56]
    (crc,) = struct.unpack_from(">I", header, 108)
    assert (magic, version, fw_version, fw_size) == (0x5A51B3D4, 2, EPOCH, len(APP))
    assert digest == hashlib.sha256(APP).digest()
    assert crc == zlib.crc32(header[:108])


def test_pelion_v3_bytes():
    header = build_header("pelion-v3", {"application": APP}, EPOCH)
    expected = struct.pack("<IIQ", 0x5C0253A3, len(APP), EPOCH) + hashlib.sha256(APP).digest() + bytes(32)
    assert header == expected and len(header) == 80


def test_custom_list_format():
    fmt = [
        ["magic", "const", "16le", "0xBEEF"],
        ["ts", "timestamp", "32be", None],
        ["size", "size", "32le", ["application"]],
        ["sha512", "digest", "SHA512", "application"],
        ["crc", "digest", "CRCITT32le", "header"],
    ]
    header = build_header(fmt, {"application": APP}, EPOCH)
    head = struct.pack("<H", 0xBEEF) + struct.pack(">I", EPOCH) + struct.pack("<I", len(APP))
    head += hashlib.sha512(APP).digest()
    assert header == head + struct.pack("<I", zlib.crc32(head))
    assert header_size(fmt) == len(header) == 2 + 4 + 4 + 64 + 4


@pytest.mark.parametrize(
    "fmt, fragment",
    [
        ([["x", "crc", "32le", "header"]], r"entry 0 \('x'\): unknown type 'crc'"),
        ([["x", "digest", "MD5", "header"]], r"entry 0 \('x'\): unknown digest 'MD5'"),
        ([["x", "const", "24le", "1"]], r"subtype '24le' is not 8/16/32/64 \+ le/be"),
        ([["x", "const", "32xx", "1"]], r"subtype '32xx'"),
        ([["x", "timestamp", "16le", None]], r"a timestamp needs 32 or 64 bits"),
        ([["x", "const", "32le", "zz"]], r"entry 0 \('x'\): 'zz' is not a number"),
        ([["x", "size", "32le", "application"]], r"the size arg is a list of region names"),
        ([["x", "const", "32le"]], r"entry 0 is not \[name, type, subtype, arg\]"),
        ("mbed-v9", r"unknown preset 'mbed-v9'"),
    ],
)
def test_bad_formats_name_the_entry(fmt, fragment):
    with pytest.raises(HeaderFormatError, match=fragment):
        fields_of(fmt)


def test_value_that_does_not_fit():
    with pytest.raises(HeaderFormatError, match=r"field 'x': 256 does not fit 8le"):
        build_header([["x", "const", "8le", "256"]], {}, 0)
