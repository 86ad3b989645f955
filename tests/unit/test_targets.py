import json

import pytest

from fwbuild.cores import CORES
from fwbuild.errors import ConfigError
from fwbuild.project import Version, load_project
from fwbuild.targets import TargetSet

FAMILY = {
    "public": False,
    "core": "cortex-m4f",
    "flash": {
        "start": "0x08000000",
        "size": "0x100000",
        "sectors": [["0x08000000", "0x4000"]],
        "write_size": 8,
    },
    "ram": [{"name": "SRAM", "start": "0x20000000", "size": "0x20000"}],
    "vector_count": "16+82",
    "macros": ["FAMILY"],
    "profiles": {"common": {"cflags": ["-Wall"]}, "debug": {"cflags": ["-Og"]}},
}


def test_every_shipped_target_resolves():
    targets = TargetSet()
    names = targets.public_names()
    assert {"K64F", "NUCLEO_F429ZI", "DISCO_L475VG_IOT01A", "NRF52840_DK", "LPC1768", "MPS2_AN385"} <= set(
        names
    )
    for name in names:
        t = targets.resolve(name)
        assert t.flash_size > 0 and t.ram and t.core in CORES
        assert t.sectors[0][0] == t.flash_start


def test_shipped_numbers():
    targets = TargetSet()
    k64f = targets.resolve("K64F")
    assert (k64f.flash_start, k64f.flash_size, k64f.vector_count) == (0, 1 << 20, 102)
    assert [(b.name, b.start, b.size) for b in k64f.ram] == [
        ("SRAM_L", 0x1FFF0000, 0x10000),
        ("SRAM_U", 0x20000000, 0x30000),
    ]
    (fcf,) = k64f.reserved
    assert (fcf.offset, fcf.data) == (0x400, b"\xff" * 12 + (0xFFFFFFFE).to_bytes(4, "little"))
    f429 = targets.resolve("NUCLEO_F429ZI")
    assert f429.flash_start == 0x08000000 and f429.flash_size == 2 << 20
    assert (0x08100000, 0x4000) in f429.sectors
    lpc = targets.resolve("LPC1768")
    assert lpc.sectors == ((0, 0x1000), (0x10000, 0x8000))
    mps2 = targets.resolve("MPS2_AN385")
    assert mps2.core == "cortex-m3" and mps2.flash_size == 4 << 20


def test_families_are_not_buildable():
    with pytest.raises(ConfigError, match="is a family, not a buildable target.*K64F"):
        TargetSet().resolve("MCU_K64F")


def test_unknown_target_suggests_close_names():
    with pytest.raises(ConfigError, match="unknown target 'K46F'; did you mean K64F"):
        TargetSet().resolve("K46F")


def test_inheritance_is_depth_first_and_objects_merge(ws):
    ws.target("FAM", FAMILY)
    ws.target("OTHER", {"public": False, "macros": ["OTHER"], "stack_size": 123, "heap_size": 77})
    ws.target("MID", {"public": False, "inherits": "FAM", "heap_size": 55})
    ws.target("BOARD", {"inherits": ["MID", "OTHER"], "flash": {"size": "0x80000"}})
    t = TargetSet([ws.targets_dir]).resolve("BOARD")
    assert TargetSet([ws.targets_dir]).chain("BOARD") == ["BOARD", "MID", "FAM", "OTHER"]
    assert t.flash_size == 0x80000 and t.flash_start == 0x08000000  # object merged key by key
    assert t.write_size == 8
    assert t.heap_size == 55  # MID (first parent's chain) beats OTHER
    assert t.stack_size == 123  # only OTHER sets it
    assert t.macros == ("FAMILY",)  # FAM is before OTHER in the chain; lists replace whole
    assert t.flags("debug")["cflags"] == (
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfpu=fpv4-sp-d16",
        "-mfloat-abi=hard",
        "-Wall",
        "-Og",
    )


def test_project_targets_override_and_inherit_from_ours(ws):
    ws.target("MY_K64F_BOARD", {"inherits": "K64F", "macros": ["MY_BOARD"]})
    ws.project(name="p", version="1.2.3+4")
    project = load_project(ws.root)
    t = project.target_set().resolve("MY_K64F_BOARD")
    assert t.vector_count == 102 and t.macros == ("MY_BOARD",)
    assert project.version == Version(1, 2, 3, 4)


def test_cycle_names_the_chain(ws):
    ws.target("A", {"inherits": "B"})
    ws.target("B", {"inherits": "A"})
    with pytest.raises(ConfigError, match=r"B\.json: inherits: inheritance cycle A -> B -> A"):
        TargetSet([ws.targets_dir]).resolve("A")


def test_missing_parent_names_the_chain(ws):
    ws.target("A", {"inherits": "FAM"})
    ws.target("FAM", {"public": False, "inherits": "NOPE"})
    with pytest.raises(
        ConfigError,
        match=r"FAM\.json: inherits: parent 'NOPE' not found "
        r"\(chain A -> FAM -> NOPE\)",
    ):
        TargetSet([ws.targets_dir]).resolve("A")


def test_broken_json_names_line_and_column(ws):
    ws.target("BAD", '{\n  "core": "cortex-m4",\n}')
    with pytest.raises(ConfigError, match=r"BAD\.json: line 3 column 1: invalid JSON"):
        TargetSet([ws.targets_dir]).resolve("BAD")


@pytest.mark.parametrize(
    "data, fragment",
    [
        (
            {"inherits": "K64F", "app_ofset": "0x8000"},
            r"app_ofset.*unknown key 'app_ofset'; did you mean 'app_offset'\?",
        ),
        (
            {"inherits": "K64F", "flash": {"sise": 4}},
            r"flash\.sise: unknown key 'sise'; did you mean 'size'\?",
        ),
        ({"inherits": "K64F", "core": "cortex-m5"}, r"core: \"cortex-m5\" is not allowed"),
        ({"inherits": "K64F", "vector_count": "0x10 + abc"}, r"vector_count: .* is not a number"),
        ({"inherits": "K64F", "vector_count": "sixteen"}, r"vector_count: \"sixteen\" is not valid"),
        ({"inherits": "K64F", "flash": {"sectors": [[0]]}}, r"flash\.sectors\[0\]"),
    ],
)
def test_schema_errors_name_file_and_path(ws, data, fragment):
    ws.target("BAD", data)
    with pytest.raises(ConfigError, match=r"BAD\.json: " + fragment):
        TargetSet([ws.targets_dir]).resolve("BAD")


@pytest.mark.parametrize(
    "flash, fragment",
    [
        ({"sectors": [["0x08004000", "0x4000"]]}, "not at the flash start"),
        (
            {"sectors": [["0x08000000", "0x4000"], ["0x08006000", "0x1000"]]},
            "not a whole number of 0x4000-byte sectors",
        ),
        (
            {"sectors": [["0x08000000", "0x4000"], ["0x08200000", "0x1000"]]},
            "is not below the next entry or the flash end",
        ),
        ({"size": 0}, "flash.size: is 0"),
    ],
)
def test_sector_maps_must_cover_flash(ws, flash, fragment):
    ws.target("FAM", FAMILY)
    ws.target("BAD", {"inherits": "FAM", "flash": flash})
    with pytest.raises(ConfigError, match=fragment):
        TargetSet([ws.targets_dir]).resolve("BAD")


def test_missing_required_key_names_target(ws):
    ws.target("BAD", {"core": "cortex-m3"})
    with pytest.raises(ConfigError, match=r"BAD\.json: flash\.start: target 'BAD' has no"):
        TargetSet([ws.targets_dir]).resolve("BAD")


def test_nvm_banks_stay_outside_flash(ws):
    ws.target("FAM", FAMILY)
    ws.target("OK", {"inherits": "FAM", "nvm_banks": [{"name": "OPT", "start": "0x1FFFC000", "size": 16}]})
    assert [b.describe() for b in TargetSet([ws.targets_dir]).resolve("OK").nvm] == [
        "OPT 0x1FFFC000..0x1FFFC010"
    ]
    ws.target("BAD", {"inherits": "FAM", "nvm_banks": [{"name": "X", "start": "0x080FF000", "size": 8192}]})
    with pytest.raises(ConfigError, match=r"BAD\.json: nvm_banks\[0\]: X 0x080FF000..0x08101000 overlaps"):
        TargetSet([ws.targets_dir]).resolve("BAD")


def test_main_ram_must_exist(ws):
    ws.target("FAM", FAMILY)
    ws.target("BAD", {"inherits": "FAM", "main_ram": "SRAM2"})
    with pytest.raises(ConfigError, match=r"main_ram: no RAM bank 'SRAM2'; use one of SRAM"):
        TargetSet([ws.targets_dir]).resolve("BAD")


@pytest.mark.parametrize(
    "project, fragment",
    [
        ({"version": "1.2"}, r"version"),
        ({"version": "256.0.0"}, r"version: '256.0.0': major 256 is above 255"),
        (
            {"target_overrides": {"K64F": {"app_ofset": 1}}},
            r"unknown key 'app_ofset'; did you mean 'app_offset'\?",
        ),
        ({"target_overrides": {"K64F": {"core": "cortex-m3"}}}, r"unknown key 'core'"),
        ({"targets_dirs": ["nowhere"]}, r"targets_dirs: folder 'nowhere' not found"),
        ({"nmae": "x"}, r"unknown key 'nmae'; did you mean 'name'\?"),
    ],
)
def test_project_errors(ws, project, fragment):
    path = ws.root / "fwbuild.json"
    path.write_text(json.dumps(project))
    with pytest.raises(ConfigError, match=r"fwbuild\.json: .*" + fragment):
        load_project(ws.root)


def test_version_ordering_ignores_build():
    assert Version.parse("1.2.3+9") == Version.parse("1.2.3+1")
    assert Version.parse("1.10.0") > Version.parse("1.9.65535")
    assert str(Version.parse("1.2.3+4")) == "1.2.3+4"


def _with_irqs(ws, irq_handlers, vector_count="16+4"):
    ws.target("FAM", FAMILY)
    ws.target("BOARD", {"inherits": "FAM", "vector_count": vector_count, "irq_handlers": irq_handlers})
    return TargetSet([ws.targets_dir]).resolve("BOARD")


def test_irq_handlers_resolve_by_irq_number(ws):
    board = _with_irqs(ws, ["WWDG_IRQHandler", None, "RTC_IRQHandler"])
    assert board.irq_handlers == ((0, "WWDG_IRQHandler"), (2, "RTC_IRQHandler"))


@pytest.mark.parametrize(
    "irq_handlers, message",
    [
        (["A", "B", "C", "D", "E"], "irq_handlers: names 5 IRQs but vector_count 20 leaves room for 4"),
        (["SysTick_Handler"], r"irq_handlers\[0\]: SysTick_Handler is a core exception handler"),
        (["A", "B", "A"], r"irq_handlers\[2\]: A is already the handler of IRQ 0"),
        (["not a name"], "irq_handlers"),
    ],
)
def test_bad_irq_handlers_name_the_key(ws, irq_handlers, message):
    with pytest.raises(ConfigError, match=message) as caught:
        _with_irqs(ws, irq_handlers)
    assert "BOARD.json" in str(caught.value)
