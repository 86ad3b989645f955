import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intelhex import IntelHex

from fwbuild.errors import ImageError
from fwbuild.image import Part, hex_text, merge, read_parts


def test_merge_fills_gaps_with_the_erased_value():
    out = merge([Part("boot", 0x0, b"\x01\x02"), Part("app", 0x8, b"\x03")], 0x0, 0xA, 0xFF)
    assert out == b"\x01\x02" + b"\xff" * 6 + b"\x03\xff"


def test_overlap_names_both_parts_and_the_first_shared_address():
    with pytest.raises(
        ImageError,
        match=r"boot \(0x00000000\.\.0x00009000\) overlaps app "
        r"\(0x00008000\.\.0x00008010\) from 0x00008000",
    ):
        merge([Part("boot", 0, bytes(0x9000)), Part("app", 0x8000, bytes(16))], 0, 0x10000, 0xFF)


def test_part_outside_the_image():
    with pytest.raises(ImageError, match=r"app .* lies outside the image"):
        merge([Part("app", 0x10, bytes(16))], 0, 0x18, 0xFF)


def test_read_parts_of_a_two_segment_hex(tmp_path):
    ih = IntelHex()
    ih.puts(0x0, b"mbr!" * 64)
    ih.puts(0xF4000, b"boot" * 100)
    path = tmp_path / "boot.hex"
    ih.write_hex_file(str(path))
    parts = read_parts(path, bin_base=0)
    assert [(p.name, p.start, len(p.data)) for p in parts] == [
        ("boot.hex segment 1", 0, 256),
        ("boot.hex segment 2", 0xF4000, 400),
    ]
    bin_path = tmp_path / "boot.bin"
    bin_path.write_bytes(b"abc")
    assert read_parts(bin_path, bin_base=0x08000000) == [Part("boot.bin", 0x08000000, b"abc")]


def test_unreadable_hex(tmp_path):
    path = tmp_path / "bad.hex"
    path.write_text(":10000000zz\n")
    with pytest.raises(ImageError, match=r"bad\.hex: not a readable Intel HEX file"):
        read_parts(path, 0)


def intelhex_text(parts):
    ih = IntelHex()
    for p in parts:
        ih.puts(p.start, p.data)
    out = io.StringIO()
    ih.write_hex_file(out, write_start_addr=False)
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        # gap 0: touching parts, joined on or off a record boundary
        st.tuples(st.one_of(st.just(0), st.integers(0, 0x3000)), st.binary(min_size=1, max_size=300)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([0, 0xFFF0, 0x1FF00, 0x08000000]),
)
def test_hex_writer_is_byte_identical_to_intelhex(chunks, base):
    parts, address = [], base
    for gap, data in chunks:
        address += gap
        parts.append(Part("p", address, data))
        address += len(data)
    assert hex_text(parts) == intelhex_text(parts)


def test_fast_records_equal_one_record_at_a_time():
    """The lane-sum records writer against ``_record`` line by line, on data whose row
    sums reach every size a lane holds (all 0xFF rows: 16 x 255 plus the address bytes)."""
    import random

    from fwbuild import image

    rng = random.Random(7)
    records = image._records_writer()
    for fill in (rng.randbytes(0x10000), b"\xff" * 0x10000, bytes(0x10000)):
        for offset, size in ((0, 16), (0x20, 0x1000), (0, 0x10000), (3, 0x40), (0xFFF0, 16), (0xFF01, 0xF0)):
            chunk = fill[:size]
            one_by_one = [image._record(offset + i, 0, chunk[i : i + 16]) for i in range(0, size, 16)]
            assert records(offset, chunk) == "\n".join(one_by_one), (offset, size)
