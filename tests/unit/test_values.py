import pytest
from hypothesis import given
from hypothesis import strategies as st

from fwbuild.values import ValueParseError, parse_int


@pytest.mark.parametrize(
    "text, expected",
    [
        (0x8000, 0x8000),
        ("0x8000", 0x8000),
        ("32768", 32768),
        ("(40*1024)", 40960),
        ("0x8000+0x200", 0x8200),
        ("0x100000 - 0x8200", 0x100000 - 0x8200),
        ("(1024/4)", 256),
        ("1 << 20", 1 << 20),
        (" 0X1F ", 31),
        ("16+86", 102),
    ],
)
def test_accepts_mbed_value_forms(text, expected):
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os')", "not a number"),
        ("0x8000 +", "not a number or arithmetic"),
        ("1.5", "not a number"),
        ("(3/2)", "does not divide exactly"),
        ("4 // 0", "divides by zero"),
        ("", "empty"),
        (True, "expected a number"),
        (1.0, "expected a number"),
        ("abc", "not a number"),
        ("2**10", "not a number"),
    ],
)
def test_rejects_everything_else(text, fragment):
    with pytest.raises(ValueParseError, match=fragment):
        parse_int(text)


@given(st.integers(min_value=0, max_value=2**40))
def test_round_trips_decimal_and_hex(n):
    assert parse_int(str(n)) == n
    assert parse_int(hex(n)) == n
    assert parse_int(f"({n // 2}+{n - n // 2})") == n
