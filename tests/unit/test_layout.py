from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intelhex import IntelHex

from fwbuild.errors import ConfigError, FwbuildError, LayoutError
from fwbuild.layout import compute_layout, vector_alignment
from fwbuild.sectors import SectorMap
from fwbuild.targets import Sourced, TargetSet

KEYS_FILE = Path("/project/fwbuild.json")


def layout_of(name, targets=None, **keys):
    """The layout of a target with ``keys`` as the project's target_overrides."""
    targets = targets or TargetSet()
    target = targets.resolve(name, {k: Sourced(v, KEYS_FILE) for k, v in keys.items()})
    return compute_layout(target)


def regions(layout):
    return [(r.name, r.start, r.end) for r in layout.regions]


def test_plain_application_fills_flash():
    layout = layout_of("K64F")
    assert layout.mode == "none"
    assert regions(layout) == [("application", 0, 0x100000)]


def test_k64f_mbed_style_managed_layout():
    layout = layout_of(
        "K64F",
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8200",
        restrict_size="0x77E00",
    )
    assert layout.mode == "managed"
    assert regions(layout) == [
        ("bootloader", 0, 0x8000),
        ("header", 0x8000, 0x8200),
        ("application", 0x8200, 0x80000),
        ("post_application", 0x80000, 0x100000),
    ]
    assert layout.header_format == "mcuboot"
    assert layout.to_dict()["regions"][2] == {"name": "application", "start": 0x8200, "size": 0x77E00}


def test_nucleo_f429zi_dual_bank_layout():
    layout = layout_of(
        "NUCLEO_F429ZI",
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8200",
        restrict_size="0xF7E00",
    )
    app = layout.application
    assert (app.start, app.end) == (0x08008200, 0x08100000)
    assert layout.region("post_application").start == 0x08100000


def test_restrict_size_floors_to_the_sector():
    # 0x8000 + 0x7FFFF = 0x87FFF lies inside the 4 KiB sector at 0x87000 (Mbed's rule).
    layout = layout_of(
        "K64F", bootloader_img="@bootloader", bootloader_size="0x8000", restrict_size="0x7FFFF"
    )
    assert layout.application.end == 0x87000
    # no header: the application follows the bootloader, sector aligned
    assert layout.application.start == 0x8000


def test_default_app_offset_leaves_a_vector_aligned_header():
    layout = layout_of("K64F", bootloader_img="@bootloader", bootloader_size="0x8000", header_offset="0x8000")
    assert layout.region("header").size == 0x200  # 102 vectors -> 408 bytes -> 512 alignment
    layout = layout_of(
        "K64F", bootloader_img="@bootloader", bootloader_size="0x10000", header_format="mbed-v2"
    )
    assert (layout.region("header").start, layout.application.start) == (0x10000, 0x10200)


def test_bootloader_bin_extent_rounds_up_to_its_sector(tmp_path):
    boot = tmp_path / "boot.bin"
    boot.write_bytes(b"\0" * 0x5123)
    layout = layout_of("K64F", bootloader_img=str(boot))
    assert regions(layout)[0] == ("bootloader", 0, 0x6000)
    assert layout.application.start == 0x6000
    # on STM32 a .bin is placed at the flash start, 0x08000000
    layout = layout_of("NUCLEO_F429ZI", bootloader_img=str(boot))
    assert regions(layout)[0] == ("bootloader", 0x08000000, 0x08008000)  # two 16 KiB sectors


def test_given_bootloader_size_must_hold_the_image(tmp_path):
    boot = tmp_path / "boot.bin"
    boot.write_bytes(b"\0" * 0x9000)
    with pytest.raises(
        ConfigError, match=r"fwbuild\.json: bootloader_size: 0x8000 cannot hold boot\.bin.*0x9000"
    ):
        layout_of("K64F", bootloader_img=str(boot), bootloader_size="0x8000")


def write_hex(path, *segments):
    ih = IntelHex()
    for start, end in segments:
        ih.puts(start, bytes(range(256)) * ((end - start) // 256) + bytes((end - start) % 256))
    ih.write_hex_file(str(path))
    return str(path)


def test_multi_segment_hex_gives_one_region_per_segment(tmp_path):
    boot = write_hex(tmp_path / "boot.hex", (0x0, 0xB00), (0xF4000, 0xF9A00))
    layout = layout_of(
        "NRF52840_DK",
        bootloader_img=boot,
        header_offset="0x1000",
        restrict_size="0x80000",
    )
    assert regions(layout) == [
        ("bootloader", 0, 0x1000),
        ("header", 0x1000, 0x1100),  # 64 vectors: 256-byte alignment
        ("application", 0x1100, 0x81000),
        ("post_application", 0x81000, 0xF4000),
        ("bootloader_2", 0xF4000, 0xFA000),
    ]


def test_candidate_region():
    layout = layout_of(
        "MPS2_AN385",
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8200",
        restrict_size="0xF8000",
        candidate_offset="0x200000",
    )
    slot = layout.region("header").size + layout.application.size
    cand = layout.region("candidate")
    assert (cand.start, cand.size) == (0x200000, slot)
    assert layout.region("post_application").end == 0x200000


def test_unmanaged_layout():
    layout = layout_of("NUCLEO_F429ZI", mbed_app_start="0x08010000", mbed_app_size="0x20000")
    assert layout.mode == "unmanaged"
    # the application ends inside the 128 KiB sector at 0x08020000: post_application, a
    # slot-like region, starts at the next boundary
    assert regions(layout) == [
        ("application", 0x08010000, 0x08030000),
        ("post_application", 0x08040000, 0x08200000),
    ]


ERRORS = [
    # (keys, error type, message fragment)
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            header_offset="0x8000",
            app_offset="0x8100",
        ),
        ConfigError,
        r"fwbuild\.json: app_offset: the application start 0x00008100 is not aligned to 0x200.*"
        r"nearest valid values are 0x8000 below and 0x8200 above",
    ),
    (
        dict(app_offset="0x8100"),
        ConfigError,
        r"app_offset: .* not on a sector boundary \(0x1000-byte sectors there\)"
        r".*0x8000 below and 0x9000 above",
    ),
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            header_offset="0x8000",
            restrict_size="0xF9000",
        ),
        ConfigError,
        r"restrict_size: the application would end at 0x00101200, past the flash end 0x00100000",
    ),
    (
        dict(bootloader_img="@bootloader", bootloader_size="0x9000", header_offset="0x8000"),
        LayoutError,
        r"bootloader 0x00000000\.\.0x00009000 overlaps header 0x00008000\.\.0x00008200 from 0x00008000",
    ),
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            header_offset="0x8000",
            app_offset="0x18000",
        ),
        ConfigError,
        r"MCUboot header region .* is 0x10000 bytes; MCUboot needs 32 to 0xffff",
    ),
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            header_offset="0x8000",
            app_offset="0x8200",
            restrict_size="0x77E00",
            candidate_offset="0x80000",
            candidate_size="0x70000",
        ),
        ConfigError,
        r"candidate_size: 0x70000 is smaller than the slot it updates \(0x78000 bytes from 0x00008000\)",
    ),
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            restrict_size="0x10000",
            candidate_offset="0xF8000",
        ),
        ConfigError,
        r"candidate_offset: the candidate 0x000F8000\.\.0x00108000 runs past the flash end",
    ),
    (
        dict(bootloader_img="@bootloader", bootloader_size="0x8000", mbed_app_start="0x8000"),
        ConfigError,
        r"mbed_app_start: unmanaged key 'mbed_app_start' mixed with 'bootloader_img'",
    ),
    (
        dict(app_offset="0x8000", mbed_app_size="0x8000"),
        ConfigError,
        r"unmanaged key 'mbed_app_size' mixed with 'app_offset'",
    ),
    (
        dict(header_offset="0x8000"),
        ConfigError,
        r"header_offset: 'header_offset' needs a bootloader; set bootloader_img",
    ),
    (
        dict(bootloader_img="@bootloader"),
        ConfigError,
        r'bootloader_size: is required with "@bootloader"',
    ),
    (
        dict(bootloader_img="@bootloader", bootloader_size="0x8100"),
        ConfigError,
        r"bootloader_size: the end of the bootloader region at 0x00008100 is not on a sector boundary",
    ),
    (
        dict(bootloader_img="missing.bin"),
        ConfigError,
        r"bootloader_img: file 'missing\.bin' not found \(looked at /project/missing\.bin\)",
    ),
    (
        dict(bootloader_img="boot.elf"),
        ConfigError,
        r"bootloader_img: 'boot\.elf' is neither a \.bin nor a \.hex file",
    ),
    (
        dict(bootloader_img="@bootloader", bootloader_size="0x8000", header_format="mbed-v3"),
        ConfigError,
        r"header_format: unknown format 'mbed-v3'",
    ),
    (
        dict(
            bootloader_img="@bootloader",
            bootloader_size="0x8000",
            header_offset="0x8000",
            app_offset="0x8200",
            header_format=[[f"d{i}", "digest", "SHA512", "header"] for i in range(9)],
        ),
        ConfigError,
        r"the header region is 512 bytes but the .* header needs 576",
    ),
    (dict(app_offset="0x100000"), ConfigError, r"app_offset: 0x00100000 is outside flash"),
    (dict(app_offset="0x8000 +"), ConfigError, r"app_offset: '0x8000 \+' is not a number"),
    (
        dict(mbed_app_start="0x8000", mbed_app_size="0xF9000"),
        ConfigError,
        r"mbed_app_size: the application would end at 0x00101000, past the flash end",
    ),
]


@pytest.mark.parametrize("keys, error, fragment", ERRORS)
def test_layout_errors(keys, error, fragment):
    with pytest.raises(error, match=fragment):
        layout_of("K64F", **keys)


def test_bin_bootloader_overlapping_the_header(tmp_path):
    boot = tmp_path / "boot.bin"
    boot.write_bytes(b"\x01" * 0x9000)
    with pytest.raises(LayoutError, match=r"bootloader 0x00000000\.\.0x00009000 overlaps header"):
        layout_of("K64F", bootloader_img=str(boot), header_offset="0x8000")


def test_hex_bootloader_not_at_flash_start(tmp_path):
    boot = write_hex(tmp_path / "boot.hex", (0x1000, 0x2000))
    with pytest.raises(ConfigError, match=r"bootloader_img: the bootloader image starts at 0x00001000"):
        layout_of("K64F", bootloader_img=boot)


def test_application_too_small_for_its_vector_table(ws):
    ws.target(
        "TINY",
        {
            "core": "cortex-m4",
            "fpu": "none",
            "flash": {"start": 0, "size": "0x10000", "sectors": [[0, 128]]},
            "ram": [{"name": "RAM", "start": "0x20000000", "size": "0x8000"}],
            "vector_count": 102,
        },
    )
    targets = TargetSet([ws.targets_dir])
    with pytest.raises(LayoutError, match=r"cannot hold the 408-byte vector table"):
        layout_of("TINY", targets, app_offset="0x200", restrict_size="0x100")


def test_cortex_m0_without_vtor_takes_a_bootloader_that_forwards(ws):
    ws.target(
        "M0",
        {
            "core": "cortex-m0",
            "flash": {"start": 0, "size": "0x20000", "sectors": [[0, 1024]]},
            "ram": [{"name": "RAM", "start": "0x20000000", "size": "0x4000"}],
            "vector_count": 48,
        },
    )
    targets = TargetSet([ws.targets_dir])
    assert layout_of("M0", targets).application.start == 0
    layout = layout_of("M0", targets, bootloader_img="@bootloader", bootloader_size="0x4000")
    assert layout.application.start == 0x4000 and layout.vector_forward == 0x20000000
    with pytest.raises(
        ConfigError, match=r"fwbuild\.json: app_offset: cortex-m0 has no vector-table offset register"
    ):
        layout_of("M0", targets, app_offset="0x4000")


def test_vector_alignment():
    assert [vector_alignment(n) for n in (64, 128, 192, 408, 512, 1000)] == [128, 128, 256, 512, 512, 1024]


def test_sector_map_arithmetic():
    f429 = TargetSet().resolve("NUCLEO_F429ZI")
    smap = SectorMap(f429.sectors, f429.flash_end)
    assert smap.floor(0x08009000) == 0x08008000
    assert smap.ceil(0x08009000) == 0x0800C000
    assert smap.ceil(0x08010001) == 0x08020000  # 64 KiB sector
    assert smap.ceil(0x080E0001) == 0x08100000  # bank 2 restarts with 16 KiB sectors
    assert smap.is_boundary(0x08104000) and not smap.is_boundary(0x08102000)


# -- properties ---------------------------------------------------------------------------
def check_invariants(layout, target):
    smap = SectorMap(target.sectors, target.flash_end)
    ordered = sorted(layout.regions, key=lambda r: r.start)
    for a, b in zip(ordered, ordered[1:]):
        assert a.end <= b.start, (a, b)
    for r in layout.regions:
        assert target.flash_start <= r.start < r.end <= target.flash_end, r
        slot_like = r.name != "application" or layout.region("header") is None
        if slot_like:
            assert smap.is_boundary(r.start), r
        else:
            assert r.start % layout.vector_align == 0, r
    assert layout.application.size >= layout.vector_size
    header = layout.region("header")
    if header is not None:
        assert header.end == layout.application.start
        assert 32 <= header.size <= 0xFFFF


TARGET_NAMES = ["K64F", "NUCLEO_F429ZI", "LPC1768", "DISCO_L475VG_IOT01A", "MPS2_AN385"]
TARGETS = TargetSet()


@st.composite
def valid_configs(draw):
    name = draw(st.sampled_from(TARGET_NAMES))
    t = TARGETS.resolve(name)
    smap = SectorMap(t.sectors, t.flash_end)
    boundaries = [t.flash_start]
    while boundaries[-1] < t.flash_end:
        boundaries.append(smap.ceil(boundaries[-1] + 1))
    # bootloader end and slot start on sector boundaries in the lower half of flash
    i = draw(st.integers(1, len(boundaries) // 3))
    j = draw(st.integers(i, len(boundaries) // 2))
    keys = {
        "bootloader_img": "@bootloader",
        "bootloader_size": hex(boundaries[i] - t.flash_start),
        "header_offset": hex(boundaries[j] - t.flash_start),
    }
    align = vector_alignment(4 * t.vector_count)
    header_size = draw(st.integers(1, 0xFFFF // align)) * align
    keys["app_offset"] = hex(boundaries[j] - t.flash_start + header_size)
    app_start = boundaries[j] + header_size
    room = t.flash_end - app_start
    if draw(st.booleans()) and room > 0:
        keys["restrict_size"] = hex(draw(st.integers(1, room)))
    return name, keys


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_valid_configs_give_aligned_non_overlapping_regions(config):
    name, keys = config
    target = TARGETS.resolve(name, {k: Sourced(v, KEYS_FILE) for k, v in keys.items()})
    try:
        layout = compute_layout(target)
    except (ConfigError, LayoutError) as exc:
        # only an application that restrict_size leaves empty or too small may be refused
        assert "restrict_size" in str(exc) or "vector table" in str(exc) or "outside flash" in str(exc), exc
        return
    check_invariants(layout, target)


KEY_NAMES = ["bootloader_size", "header_offset", "app_offset", "restrict_size", "candidate_offset"]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TARGET_NAMES),
    st.dictionaries(st.sampled_from(KEY_NAMES), st.integers(0, 0x240000), max_size=5),
)
def test_arbitrary_configs_give_a_valid_layout_or_an_error(name, values):
    keys = {k: hex(v) for k, v in values.items()}
    if any(k != "app_offset" and k != "restrict_size" for k in keys):
        keys["bootloader_img"] = "@bootloader"
    target = TARGETS.resolve(name, {k: Sourced(v, KEYS_FILE) for k, v in keys.items()})
    try:
        layout = compute_layout(target)
    except FwbuildError:
        return
    check_invariants(layout, target)


def test_bootloader_named_by_a_link_is_what_the_link_points_to(tmp_path):
    """A link "current" to a .hex is a .hex (its own name has no suffix), and the layout
    names the file it reaches."""
    image = IntelHex()
    image.puts(0x0, b"\x01" * 0x1100)
    image.write_hex_file(str(tmp_path / "boot-v2.hex"))
    (tmp_path / "current").symlink_to("boot-v2.hex")
    layout = layout_of("MPS2_AN385", bootloader_img=str(tmp_path / "current"))
    assert regions(layout)[0] == ("bootloader", 0, 0x2000)
    assert '"bootloader_img": "boot-v2.hex"' in layout.signature()


def test_unmanaged_post_application_starts_on_a_sector(ws):
    """An mbed_app_size that ends inside a sector: the application owns the rest of that
    sector and post_application starts at the next boundary."""
    from fwbuild.project import load_project
    from fwbuild.resolve import resolve

    ws.project(
        name="p",
        target_overrides={"NUCLEO_F429ZI": {"mbed_app_start": "0x08020000", "mbed_app_size": "0x1234"}},
    )
    layout = resolve(ws.root, "NUCLEO_F429ZI").layout
    assert load_project(ws.root).name == "p"
    post = layout.region("post_application")
    assert post.start == 0x08040000 and post.end == 0x08200000
