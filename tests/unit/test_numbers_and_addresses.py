"""Numbers and addresses: every address and size lies in the 32-bit space, memories do not
overlap, numbers are bounded before they are parsed, and the build refuses what
check-target refuses."""

from __future__ import annotations

import copy
import json

import pytest

from fwbuild.checktarget import check_target
from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.resolve import resolve
from fwbuild.targets import MAX_VECTORS, TargetSet
from fwbuild.values import MAX_TEXT, ValueParseError, parse_int

BOARD = {
    "core": "cortex-m4",
    "fpu": "none",
    "flash": {
        "start": "0x08000000",
        "size": "0x100000",
        "sectors": [["0x08000000", "0x4000"], ["0x08010000", "0x10000"]],
        "write_size": 8,
    },
    "ram": [
        {"name": "SRAM", "start": "0x20000000", "size": "0x20000"},
        {"name": "CCM", "start": "0x10000000", "size": "0x10000"},
    ],
    "nvm_banks": [{"name": "OTP", "start": "0x1FFF7800", "size": "0x210"}],
    "vector_count": "16+82",
}


def board(**changes) -> dict:
    """BOARD with dotted keys changed: ``board(**{"flash.size": 0})``."""
    data = copy.deepcopy(BOARD)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def resolve_board(ws, data) -> object:
    ws.target("BOARD", data)
    return TargetSet([ws.targets_dir]).resolve("BOARD")


def test_the_board_itself_resolves(ws):
    target = resolve_board(ws, BOARD)
    assert target.flash_end == 0x08100000 and [b.name for b in target.ram] == ["CCM", "SRAM"]


# -- the 32-bit address space ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, fragment",
    [
        (
            {"flash.start": "0xFFFF0000", "flash.sectors": [["0xFFFF0000", "0x1000"]]},
            r"flash\.size: flash 0xFFFF0000 \+ 0x100000 bytes ends at 0x1000f0000, beyond the 32-bit address",
        ),
        ({"flash.size": "0x1000000000"}, r"flash\.size: 0x1000000000 lies beyond the 32-bit address space"),
        ({"flash.start": "0x100000000"}, r"flash\.start: 0x100000000 lies beyond the 32-bit address space"),
        ({"ram.0.size": "0xF0000000"}, r"ram\[0\]\.size: SRAM 0x20000000 \+ 0xf0000000 bytes ends at"),
        ({"ram.1.start": 2**40}, r"ram\[1\]\.start: 0x10000000000 lies beyond"),
        ({"nvm_banks.0.size": "0xFFFFFFFF"}, r"nvm_banks\[0\]\.size: OTP .* beyond the 32-bit"),
        ({"ram.0.size": 0}, r"ram\[0\]\.size: is 0"),
        ({"flash.size": 0}, r"flash\.size: is 0"),
    ],
)
def test_every_range_lies_in_the_32_bit_space(ws, changes, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_board(ws, board(**changes))


def test_the_top_of_the_address_space_is_usable(ws):
    data = board(**{"flash.start": "0xFFF00000", "flash.sectors": [["0xFFF00000", "0x1000"]]})
    assert resolve_board(ws, data).flash_end == 1 << 32


# -- overlaps -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, fragment",
    [
        (
            {"ram.1.start": "0x2001F000"},
            r"ram\[1\]: RAM bank CCM 0x2001F000\.\.0x2002F000 overlaps RAM bank SRAM 0x20000000\.\.",
        ),
        (
            {"ram.1.start": "0x08080000"},
            r"ram\[1\]: RAM bank CCM 0x08080000\.\.0x08090000 overlaps the flash flash 0x08000000",
        ),
        (
            {"ram.0.start": "0x07FF0000", "ram.0.size": "0x20000"},
            r"ram\[0\]: RAM bank SRAM 0x07FF0000\.\.0x08010000 overlaps the flash",
        ),
        ({"nvm_banks.0.start": "0x1000FF00"}, r"nvm_banks\[0\]: non-flash bank OTP .* overlaps RAM bank CCM"),
        ({"nvm_banks.0.start": "0x080FFF00"}, r"nvm_banks\[0\]: OTP .* overlaps the main flash"),
    ],
)
def test_memories_do_not_overlap(ws, changes, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_board(ws, board(**changes))


def test_two_nvm_banks_do_not_overlap(ws):
    data = board()
    data["nvm_banks"].append({"name": "OPT", "start": "0x1FFF7A00", "size": "0x100"})
    with pytest.raises(
        ConfigError, match=r"nvm_banks\[1\]: non-flash bank OPT .* overlaps non-flash bank OTP"
    ):
        resolve_board(ws, data)


def test_touching_ranges_are_fine(ws):
    target = resolve_board(ws, board(**{"ram.1.start": "0x20020000"}))
    assert [b.start for b in target.ram] == [0x20000000, 0x20020000]


# -- bounded numbers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, fragment",
    [
        ("9" * 5000, "a text of 5000 characters"),
        ("0x" + "f" * 300, "a text of 302 characters"),
        ("+".join(["1"] * 30000), "a text of 59999 characters"),
        ("(" * 100 + "1" + ")" * 100, "a text of 201 characters"),
        ("-" * 150 + "1", "too deep"),
        ("+".join(["1"] * 80), "too deep"),
    ],
)
def test_long_numbers_are_refused_with_the_key_named(ws, value, fragment):
    with pytest.raises(ConfigError, match=f"BOARD.json: flash.size: .*{fragment}") as info:
        resolve_board(ws, board(**{"flash.size": value}))
    assert len(str(info.value)) < 400


def test_a_5000_digit_json_integer_is_refused_with_the_file_named(ws):
    ws.target("BOARD", json.dumps(BOARD).replace('"0x100000"', "9" * 5000))
    with pytest.raises(ConfigError, match=r"BOARD\.json: an integer of 5000 digits"):
        TargetSet([ws.targets_dir]).resolve("BOARD")


def test_parse_int_bounds():
    assert parse_int("1" * MAX_TEXT) == int("1" * MAX_TEXT)
    assert parse_int(" (" + "+".join(["1"] * 60) + ") ") == 60
    for text in ("1\x00", "1" * (MAX_TEXT + 1), "-" * 100 + "1"):
        with pytest.raises(ValueParseError):
            parse_int(text)


# -- rules the build shares with check-target -----------------------------------------------------
@pytest.mark.parametrize("size", [0, 3, 6, 8192, 0x8000])
def test_write_size_is_a_power_of_two_up_to_the_smallest_sector(ws, size):
    data = board(**{"flash.write_size": size, "flash.sectors": [["0x08000000", "0x4000"]]})
    with pytest.raises(ConfigError, match=f"flash.write_size: {size} is not a write granularity"):
        resolve_board(ws, data)


@pytest.mark.parametrize("size", [1, 4, 256, 4096])
def test_write_sizes_of_real_chips(ws, size):
    assert resolve_board(ws, board(**{"flash.write_size": size})).write_size == size


@pytest.mark.parametrize("count, ok", [(MAX_VECTORS, True), (MAX_VECTORS + 1, False), (600, False)])
def test_vector_count_above_the_architecture_is_refused_by_the_build(ws, count, ok):
    assert MAX_VECTORS == 16 + 496
    data = board(vector_count=count)
    if ok:
        assert resolve_board(ws, data).vector_count == count
        return
    with pytest.raises(ConfigError, match=f"vector_count: {count} > 512, the architecture's maximum"):
        resolve_board(ws, data)
    report = check_target("BOARD", (ws.targets_dir,))
    assert report.problems and any("vector_count" in p for p in report.problems)


def test_stack_and_heap_must_fit_the_main_ram(ws):
    data = board(stack_size="0x10000", heap_size="0x10001")
    with pytest.raises(ConfigError, match=r"heap_size: stack_size \+ heap_size \(131073 bytes\) exceed"):
        resolve_board(ws, data)


# -- sector maps ----------------------------------------------------------------------------------
def test_a_sector_map_that_does_not_add_up_says_what_it_covers(ws):
    with pytest.raises(ConfigError) as info:
        resolve_board(ws, board(**{"flash.size": "0x100800"}))
    message = str(info.value)
    assert "flash.sectors: the sector map does not add up to flash.size" in message
    assert (
        "covers 0x100000 or 0x110000 bytes of flash in whole sectors, but flash.size is 0x100800" in message
    )
    assert "next run" not in message


def test_a_run_that_starts_inside_a_sector_names_the_boundaries(ws):
    data = board(**{"flash.sectors": [["0x08000000", "0x4000"], ["0x08011000", "0x1000"]]})
    with pytest.raises(ConfigError, match=r"start the next run at 0x08010000 or 0x08014000"):
        resolve_board(ws, data)


def test_a_run_past_the_flash_end(ws):
    data = board(**{"flash.sectors": [["0x08000000", "0x4000"], ["0x08200000", "0x1000"]]})
    with pytest.raises(
        ConfigError, match=r"flash\.sectors\[1\]: 0x08200000 is not below .* flash end 0x08100000"
    ):
        resolve_board(ws, data)


# -- layout keys in fwbuild.json ------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"app_offset": "9" * 5000}, r"app_offset: a text of 5000 characters"),
        ({"app_offset": "0x100000000"}, r"app_offset: 0x100000000 lies beyond the 32-bit address space"),
        ({"restrict_size": 2**40}, r"restrict_size: 0x10000000000 lies beyond"),
        ({"mbed_app_start": "0x1" + "0" * 12}, r"mbed_app_start: 0x1000000000000 lies beyond"),
        ({"mbed_app_size": "0x" + "f" * 250}, r"mbed_app_size: a text of 252 characters"),
        ({"bootloader_img": "@bootloader", "bootloader_size": "(" * 80 + "1" + ")" * 80}, "bootloader_size"),
        (
            {"header_offset": 2**33, "bootloader_img": "@bootloader", "bootloader_size": "0x10000"},
            "lies beyond",
        ),
        ({"app_offset": "0x200000"}, r"app_offset: 0x08200000 is outside flash"),
    ],
)
def test_layout_overrides_go_through_the_same_checks(ws, overrides, fragment):
    ws.target("BOARD", BOARD)
    project = ws.project(target_overrides={"BOARD": overrides})
    with pytest.raises(ConfigError, match=fragment) as info:
        resolve(ws.root, "BOARD")
    assert str(project) in str(info.value) and len(str(info.value)) < 500


def test_a_huge_override_is_a_user_error_from_every_entry_point(ws, capsys):
    from fwbuild.cli import main

    ws.target("BOARD", BOARD)
    ws.project(target_overrides={"BOARD": {"app_offset": "1" * 5000}})
    assert main(["layout", "BOARD", "--project", str(ws.root)]) == 2
    assert "app_offset: a text of 5000 characters" in capsys.readouterr().err.replace("\n  ", " ")
    with pytest.raises(FwbuildError):
        resolve(ws.root, "BOARD")
