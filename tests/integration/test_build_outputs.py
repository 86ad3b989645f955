"""Every public target builds the example project, in debug and release, and every output
lies where layout.json says. The ELF is read here with pyelftools, independently of
fwbuild.elfcheck."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fwbuild.targets import TargetSet

PUBLIC = TargetSet().public_names()
PROFILES = ("debug", "release")
OUTPUTS = ("app.elf", "app.map", "app.bin", "app.hex", "layout.json", "fwbuild_layout.h")
# Kinetis flash configuration field: backdoor key and protection all 0xFF, FSEC=0xFE, FOPT, ...
K64F_FLASH_CONFIG = bytes([0xFF] * 12) + struct.pack("<I", 0xFFFFFFFE)

each_build = pytest.mark.parametrize("target,profile", [(t, p) for t in PUBLIC for p in PROFILES])


def test_there_are_public_targets():
    assert {"K64F", "MPS2_AN385"} <= set(PUBLIC)


@each_build
def test_outputs_exist(example_build, target, profile):
    build = example_build(target, profile, one_stage=True)
    missing = [name for name in OUTPUTS if not (build.dir / name).is_file()]
    assert not missing, f"missing {missing} in {build.dir}\n{build.result.describe()}"
    assert "APPLICATION_ADDR" in (build.dir / "fwbuild_layout.h").read_text()


@each_build
def test_vector_table_at_application_start(fw, example_build, target, profile):
    build = example_build(target, profile, one_stage=True)
    layout = build.layout()
    app = fw.region_of(layout, "application")
    app_start, app_end = app["start"], app["start"] + app["size"]
    loads = [s for s in fw.load_segments(build.elf) if s.filesz]
    assert loads, "the ELF has no PT_LOAD with file bytes"
    first = min(loads, key=lambda s: s.paddr)
    assert first.paddr == app_start, f"first PT_LOAD at {first.paddr:#x}, application at {app_start:#x}"
    sp, reset = struct.unpack("<II", first.data[:8])
    assert sp % 8 == 0, f"initial SP {sp:#x} is not 8-byte aligned"
    banks = [b for b in layout["ram"] if b["start"] < sp <= b["start"] + b["size"]]
    assert banks, f"initial SP {sp:#x} is in no RAM bank of {layout['ram']}"
    assert reset & 1, f"reset vector {reset:#x} is not a Thumb address"
    assert app_start <= reset & ~1 < app_end, f"reset vector {reset:#x} outside {app_start:#x}..{app_end:#x}"


@each_build
def test_loadable_bytes_inside_application(fw, example_build, target, profile):
    build = example_build(target, profile, one_stage=True)
    app = build.region("application")
    app_start, app_end = app["start"], app["start"] + app["size"]
    for seg in fw.load_segments(build.elf):
        if seg.filesz:
            assert app_start <= seg.paddr and seg.paddr + seg.filesz <= app_end, (
                f"PT_LOAD {seg.paddr:#x}+{seg.filesz:#x} outside the application {app_start:#x}..{app_end:#x}"
            )


@each_build
def test_layout_json_equals_cli(fw, example_build, target, profile):
    build = example_build(target, profile, one_stage=True)
    cli = fw.run_fwbuild("layout", target, "--project", build.project, "--json")
    assert cli.returncode == 0, cli.describe()
    assert cli.stdout == (build.dir / "layout.json").read_text()


@each_build
def test_bin_equals_hex(example_build, target, profile):
    from intelhex import IntelHex

    build = example_build(target, profile, one_stage=True)
    ihex = IntelHex(str(build.dir / "app.hex"))
    assert ihex.minaddr() == build.region("application")["start"]
    assert (build.dir / "app.bin").read_bytes() == ihex.tobinstr(start=ihex.minaddr())


def test_k64f_flash_config_field(fw, example_build):
    """The example's K64F bootloader sits at the flash start, so it carries the flash
    configuration field at 0x400, and so does the combined image."""
    build = example_build("K64F")
    assert build.region("bootloader")["start"] == 0 and build.region("application")["start"] == 0x8400
    boot_elf = build.dir / "bootloader" / "bootloader.elf"
    assert fw.flash_bytes(fw.load_segments(boot_elf), 0x400, 16) == K64F_FLASH_CONFIG
    assert fw.flash_bytes(fw.load_segments(build.elf), 0x400, 16) is None
    assert (build.dir / "combined.bin").read_bytes()[0x400:0x410] == K64F_FLASH_CONFIG


@pytest.fixture(scope="module")
def k64f_at_0x8000(fw, tmp_path_factory):
    """K64F with app_offset 0x8000, built on first use (in a test body)."""
    cache = []

    def get():
        if not cache:
            project = fw.copy_project(fw.EXAMPLE, tmp_path_factory.mktemp("k64f-0x8000") / "project")
            fw.set_overrides(project, "K64F", app_offset="0x8000")
            cache.append(fw.Build(project, "K64F", fw.run_scons(project, "K64F")))
        return cache[0].require_ok()

    return get


def test_k64f_offset_application_has_no_flash_config(fw, k64f_at_0x8000):
    build = k64f_at_0x8000()
    assert build.region("application")["start"] == 0x8000
    segments = fw.load_segments(build.elf)
    assert not fw.touches(segments, 0, 0x8000), "the ELF carries bytes below the application start"
    assert fw.flash_bytes(segments, 0x400, 16) is None
    first = min((s for s in segments if s.filesz), key=lambda s: s.paddr)
    assert first.paddr == 0x8000, f"first PT_LOAD at {first.paddr:#x}"


def app_elf(build: Path) -> Path:
    """The application's ELF: build/<T>/app.elf, or slot 0's in a boot chain."""
    return build / "app.elf" if (build / "app.elf").exists() else build / "application" / "slot0" / "app.elf"


def test_quick_start_from_the_repository_root(fw, tmp_path):
    """The README's `scons target=K64F` runs the root SConstruct, which reads the example's:
    paths in the example's SConstruct must hold from there too."""
    root = tmp_path / "checkout"
    fw.copy_project(fw.EXAMPLE, root / "example_project")
    (root / "SConstruct").write_text((fw.REPO / "SConstruct").read_text())
    for target in ("K64F", "MPS2_AN385"):
        result = fw.run_scons(root, target)
        assert result.returncode == 0, result.describe()
        assert app_elf(root / "build" / target).is_file()
    assert (root / "build/MPS2_AN385/combined.bin").is_file()


def test_all_targets_in_one_run(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, "all")
    assert result.returncode == 0, result.describe()
    for target in fw.public_targets():
        assert app_elf(project / "build" / target).is_file(), target
        assert (project / "build" / target / "build-info.json").is_file(), target
    assert (project / "build/K64F/combined.bin").is_file()
    again = fw.run_scons(project, "K64F,MPS2_AN385")
    assert again.returncode == 0 and again.steps == [], again.describe()


def test_two_environments_with_the_tool(fw, tmp_path):
    """A SConstruct may create several environments with fwbuild; SCons loads the tool again."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    text = (project / "SConstruct").read_text()
    (project / "SConstruct").write_text(
        text + 'other = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()])\n'
    )
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
