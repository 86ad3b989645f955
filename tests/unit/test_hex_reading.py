"""Reading Intel HEX strictly: a damaged or cut file is an error naming the file and the
line, never a smaller image. The files are written here by hand (and by intelhex), not
by fwbuild's own writer alone."""

from __future__ import annotations

import io
import random

import pytest
from intelhex import IntelHex

from fwbuild.cli import main
from fwbuild.errors import ImageError
from fwbuild.image import Part, hex_text, read_hex, read_parts

EOF_RECORD = ":00000001FF"


def record(offset: int, kind: int, payload: bytes) -> str:
    raw = bytes([len(payload), offset >> 8, offset & 0xFF, kind]) + payload
    return ":" + (raw + bytes([(-sum(raw)) & 0xFF])).hex().upper()


def write(tmp_path, *lines: str, name: str = "boot.hex", ending: str = "\n"):
    path = tmp_path / name
    path.write_bytes((ending.join(lines) + ending).encode())
    return path


def intelhex_file(tmp_path, chunks) -> str:
    ih = IntelHex()
    for start, data in chunks:
        ih.puts(start, data)
    out = io.StringIO()
    ih.write_hex_file(out)
    path = tmp_path / "ih.hex"
    path.write_text(out.getvalue())
    return path


def error(path) -> str:
    with pytest.raises(ImageError) as caught:
        read_parts(path, 0)
    text = str(caught.value)
    assert str(path) in text, text
    return text


# -- what a good file gives ----------------------------------------------------------------
def test_segments_equal_intelhex(tmp_path):
    rng = random.Random(7)
    chunks = [(0x0, rng.randbytes(0x410)), (0x8000, rng.randbytes(1000)), (0x1FFF8, rng.randbytes(40))]
    path = intelhex_file(tmp_path, chunks)  # also a start address record and a 64 KiB crossing
    ih = IntelHex(str(path))
    expected = [(s, ih.tobinstr(s, e - 1)) for s, e in ih.segments()]
    assert read_hex(path) == expected
    assert [(p.start, p.data) for p in read_parts(path, 0)] == expected


def test_own_writer_round_trip(tmp_path):
    parts = [Part("a", 0x08000000, bytes(range(256)) * 300), Part("b", 0x08100000, b"tail")]
    path = tmp_path / "own.hex"
    path.write_text(hex_text(parts))
    assert read_hex(path) == [(p.start, bytes(p.data)) for p in parts]


def test_segment_address_records_crlf_and_blank_lines_after_the_end(tmp_path):
    path = write(
        tmp_path,
        record(0, 2, b"\x10\x00"),  # segment 0x1000: base 0x10000
        record(0x0010, 0, b"\x01\x02"),
        record(0, 3, b"\x00\x00\x00\x00"),  # start segment address: ignored
        EOF_RECORD,
        "",
        "   ",
        ending="\r\n",
    )
    assert read_hex(path) == [(0x10010, b"\x01\x02")]


def test_file_with_only_the_end_record_holds_nothing(tmp_path):
    assert read_hex(write(tmp_path, EOF_RECORD)) == []


# -- cut files -----------------------------------------------------------------------------
def test_cut_at_a_line_boundary(tmp_path):
    """Half a bootloader, every line intact: only the missing end record tells."""
    full = intelhex_file(tmp_path, [(0, bytes(range(256)) * 8)]).read_text().splitlines()
    cut = write(tmp_path, *full[: len(full) // 2], name="half.hex")
    text = error(cut)
    assert "no end-of-file record" in text and f"after line {len(full) // 2}" in text, text


def test_empty_file(tmp_path):
    path = tmp_path / "empty.hex"
    path.write_bytes(b"")
    assert "no end-of-file record" in error(path)


def test_cut_inside_a_line(tmp_path):
    line = record(0x10, 0, bytes(16))
    odd = error(write(tmp_path, record(0, 0, bytes(16)), line[:-3], name="odd.hex"))
    assert "line 2" in odd and "odd number of hex digits" in odd, odd
    even = error(write(tmp_path, record(0, 0, bytes(16)), line[:-4], EOF_RECORD, name="even.hex"))
    assert "line 2" in even and "length field says 16" in even, even


def test_records_after_the_end(tmp_path):
    text = error(write(tmp_path, record(0, 0, b"ab"), EOF_RECORD, record(2, 0, b"cd")))
    assert "line 3" in text and "after the end-of-file record of line 2" in text, text


# -- damaged records -----------------------------------------------------------------------
def test_bad_checksum(tmp_path):
    good = record(0x20, 0, b"\x11\x22\x33\x44")
    bad = good[:-2] + f"{(int(good[-2:], 16) + 1) & 0xFF:02X}"
    text = error(write(tmp_path, record(0, 0, b"x"), bad, EOF_RECORD))
    assert "line 2" in text and "checksum" in text and good[-2:] in text, text


@pytest.mark.parametrize("kind", [6, 0x42, 0xFF])
def test_unknown_record_type(tmp_path, kind):
    text = error(write(tmp_path, record(0, kind, b"\x00\x00"), EOF_RECORD))
    assert "line 1" in text and f"record type {kind:02X}" in text, text


@pytest.mark.parametrize(
    ("kind", "payload"), [(4, b"\x00"), (2, b"\x00\x00\x00"), (1, b"\x00"), (5, b"\x00")]
)
def test_wrong_length_for_the_record_type(tmp_path, kind, payload):
    text = error(write(tmp_path, record(0, 0, b"x"), record(0, kind, payload), EOF_RECORD))
    assert "line 2" in text and f"type {kind:02X} record must hold" in text, text


@pytest.mark.parametrize("line", ["10000000", ":1000000G" + "00" * 17, ":02 0000 00 0102 FB"])
def test_not_a_record(tmp_path, line):
    text = error(write(tmp_path, record(0, 0, b"x"), line, EOF_RECORD))
    assert "line 2" in text, text


def test_overlapping_records_name_both(tmp_path):
    path = write(
        tmp_path,
        record(0x0000, 0, bytes(16)),
        record(0x0100, 0, bytes(16)),
        record(0x0108, 0, bytes(4)),  # inside the line-2 record
        EOF_RECORD,
    )
    text = error(path)
    for word in ("line 3", "line 2", "0x00000108", "0x00000100"):
        assert word in text, text


def test_overlap_through_an_extended_address(tmp_path):
    """The same bytes reached twice: 0x10000 directly, and again through segment 0x1000."""
    path = write(
        tmp_path,
        record(0, 4, b"\x00\x01"),
        record(0, 0, b"abcd"),
        record(0, 2, b"\x10\x00"),
        record(2, 0, b"zz"),
        EOF_RECORD,
    )
    text = error(path)
    assert "line 4" in text and "line 2" in text and "0x00010002" in text, text


# -- the merge command ---------------------------------------------------------------------
def test_merge_of_a_cut_hex_exits_2_and_writes_nothing(tmp_path, capsys):
    full = intelhex_file(tmp_path, [(0, bytes(range(256)) * 4)]).read_text().splitlines()
    cut = write(tmp_path, *full[:-2], name="cut.hex")
    good = tmp_path / "app.bin"
    good.write_bytes(b"app!" * 16)
    for out in (tmp_path / "merged.bin", tmp_path / "merged.hex"):
        assert main(["merge", "--out", str(out), str(cut), f"{good}@0x8000"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("error:") == 1, err
        assert all(line.startswith("  ") for line in err.splitlines()[1:]), err  # one paragraph
        assert "cut.hex" in err and "no end-of-file record" in err and "Traceback" not in err, err
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file
