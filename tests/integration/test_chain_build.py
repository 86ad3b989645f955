"""A three-stage boot chain builds, places and signs correctly: each stage compiled once
and linked once per slot, every signed slot image accepted by imgtool, combined.bin holding
the first stage and slot 0 of each later one, rebuilds limited to what moved."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

IMGTOOL = Path(sys.executable).with_name("imgtool")
STAGES = {"selector": 1, "bootloader": 2, "application": 2}
PROGRAM = {"selector": "selector", "bootloader": "bootloader", "application": "app"}


def symbols(elf: Path) -> dict[str, int]:
    with elf.open("rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name}


@pytest.fixture(scope="module")
def chain_build(fw, tmp_path_factory, key_files):
    built = {}

    def get(target: str):
        if target not in built:
            project = tmp_path_factory.mktemp(f"chain-{target}") / "chain"
            result = fw.build_copy(fw.PROJECTS / "chain", project, target, f"sign_key={key_files['ed25519']}")
            built[target] = result
        return built[target].require_ok()

    return get


@pytest.mark.parametrize("target", ["MPS2_AN385", "NUCLEO_F429ZI"])
def test_every_slot_is_linked_at_its_start(fw, chain_build, target):
    build = chain_build(target)
    layout = build.layout()
    assert layout["mode"] == "chain"
    slots = {r["name"]: r for r in layout["regions"] if "stage" in r}
    assert len(slots) == 5
    for name, region in slots.items():
        stage, index = region["stage"], region["slot"]
        elf = build.dir / stage / f"slot{index}" / f"{PROGRAM[stage]}.elf"
        found = symbols(elf)
        start = region["start"] + region["header_size"]
        assert found["__isr_vector_start"] == start, name
        assert (
            found["__fwbuild_slot_start"],
            found["__fwbuild_slot_size"],
            found["__fwbuild_slot_index"],
        ) == (
            region["start"],
            region["size"],
            index,
        ), name
        if region["header_size"]:
            assert found["__fw_header_start"] == region["start"]
        # the vector table as flashed: the reset vector lies inside the slot
        vectors = fw.flash_bytes(fw.load_segments(elf), start, 8)
        reset = int.from_bytes(vectors[4:], "little")
        assert start <= (reset & ~1) < region["start"] + region["size"], name


@pytest.mark.parametrize("target", ["MPS2_AN385", "NUCLEO_F429ZI"])
def test_imgtool_accepts_every_signed_slot(chain_build, key_files, target):
    build = chain_build(target)
    signed = sorted(build.dir.glob("*/slot*/*-signed.bin"))
    assert [p.relative_to(build.dir).as_posix() for p in signed] == [
        "application/slot0/app-signed.bin",
        "application/slot1/app-signed.bin",
        "bootloader/slot0/bootloader-signed.bin",
        "bootloader/slot1/bootloader-signed.bin",
    ]
    for path in signed:
        result = subprocess.run(
            [str(IMGTOOL), "verify", "-k", str(key_files["ed25519"]), str(path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and "correctly validated" in result.stdout, (
            path,
            result.stdout,
            result.stderr,
        )
        version = "0.9.0" if "bootloader" in path.name else "1.2.3"
        assert f"Image version: {version}" in result.stdout, result.stdout
    assert (build.dir / "application" / "slot1" / "app-signed.hex").is_file()


def test_combined_holds_the_first_stage_and_every_slot_0(chain_build):
    build = chain_build("MPS2_AN385")
    combined = (build.dir / "combined.bin").read_bytes()
    layout = {r["name"]: r for r in build.layout()["regions"]}
    selector = (build.dir / "selector" / "slot0" / "selector.bin").read_bytes()
    assert combined[: len(selector)] == selector
    for stage, program in (("bootloader", "bootloader"), ("application", "app")):
        image = (build.dir / stage / "slot0" / f"{program}-signed.bin").read_bytes()
        start = layout[f"{stage}.0"]["start"]
        assert combined[start : start + len(image)] == image, stage
    app0 = layout["application.0"]
    assert len(combined) <= app0["start"] + app0["size"]  # never into slot 1
    assert (build.dir / "combined.hex").is_file() and (build.dir / "combined.elf").is_file()


def test_one_compile_per_stage_source_and_one_link_per_slot(chain_build):
    build = chain_build("MPS2_AN385")
    compiled = build.result.files("CC")
    for stage in ("selector", "bootloader", "app"):
        assert compiled.count(f"{stage}/main.c") == 1, compiled
    links = sorted(build.result.files("LINK"))
    assert links == sorted(
        f"build/MPS2_AN385/{stage}/slot{n}/{PROGRAM[stage]}.elf"
        for stage, count in STAGES.items()
        for n in range(count)
    )


def test_changing_the_application_header_relinks_only_the_application(fw, tmp_path, key_files):
    project = fw.copy_project(fw.PROJECTS / "chain", tmp_path / "chain")
    key = f"sign_key={key_files['ed25519']}"
    assert fw.run_scons(project, "MPS2_AN385", key).returncode == 0
    config = json.loads((project / "fwbuild.json").read_text())
    config["target_overrides"]["MPS2_AN385"]["boot_chain"]["stages"][2]["header_size"] = "0x800"
    (project / "fwbuild.json").write_text(json.dumps(config))
    again = fw.run_scons(project, "MPS2_AN385", key)
    assert again.returncode == 0, again.describe()
    assert again.count("CC") == 0, again.describe()
    assert sorted(again.files("LINK")) == [
        "build/MPS2_AN385/application/slot0/app.elf",
        "build/MPS2_AN385/application/slot1/app.elf",
    ]
    assert fw.run_scons(project, "MPS2_AN385", key).steps == []


def test_a_stage_without_sources_is_named(fw, tmp_path):
    project = fw.copy_project(fw.PROJECTS / "chain", tmp_path / "chain")
    sconstruct = project / "SConstruct"
    sconstruct.write_text(sconstruct.read_text().replace(', "bootloader": Glob("bootloader/*.c")', ""))
    result = fw.run_scons(project, "MPS2_AN385")
    assert result.returncode == 2, result.describe()
    assert 'stage bootloader is built here ("@bootloader")' in result.stderr
    assert 'stages={"bootloader": sources}' in result.stderr
    shutil.rmtree(project / "build", ignore_errors=True)


def test_the_mbed_layout_is_a_chain_of_two(fw, tmp_path, key_files):
    """The one-stage Mbed layout and the same design written as a boot chain of two give the
    same bootloader, application, slot image and combined bytes: one walk builds both."""
    designs = {
        "mbed": {"bootloader_img": "@bootloader", "bootloader_size": "0x8000", "header_offset": "0x8000",
                 "app_offset": "0x8400"},
        "chain": {"boot_chain": {"stages": [
            {"stage": "bootloader", "image": "@bootloader", "size": "0x8000"},
            {"stage": "application", "header_size": "0x400"},
        ]}},
    }  # fmt: skip
    for name, overrides in designs.items():
        project = tmp_path / name
        for program in ("app", "bootloader"):  # programs that do not ask the layout anything
            (project / program).mkdir(parents=True)
            (project / program / "main.c").write_text(
                f"int main(void) {{ for (;;) {{ }} }} /* {program} */\n"
            )
        (project / "SConstruct").write_text(
            "import fwbuild\n"
            'env = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()])\n'
            'boot = Glob("bootloader/*.c")\n'
            'env.Firmware(Glob("app/*.c"), bootloader=boot, stages={"bootloader": boot})\n'
        )
        (project / "fwbuild.json").write_text(
            json.dumps({"name": "same", "version": "1.0.0", "target_overrides": {"K64F": overrides}})
        )
        result = fw.run_scons(project, "K64F", f"sign_key={key_files['ed25519']}")
        assert result.returncode == 0, result.describe()
    one, two = tmp_path / "mbed" / "build" / "K64F", tmp_path / "chain" / "build" / "K64F"
    pairs = [
        ("bootloader/bootloader.bin", "bootloader/slot0/bootloader.bin"),
        ("app.bin", "application/slot0/app.bin"),
        ("app-signed.bin", "application/slot0/app-signed.bin"),
        ("combined.bin", "combined.bin"),
    ]
    for mine, theirs in pairs:
        assert (one / mine).read_bytes() == (two / theirs).read_bytes(), (mine, theirs)
