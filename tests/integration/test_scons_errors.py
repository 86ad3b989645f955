"""Bad inputs through scons: exit status 2, one message naming the file and what is wrong,
no Python traceback, and no application image left behind."""

from __future__ import annotations

import json
import re

import pytest

TARGET = "K64F"
IMAGES = ("app.elf", "app.bin", "app.hex")
FLASH_ORIGIN = "ORIGIN = {{ rom.start|hex }}"


def fails(fw, project, target=TARGET, *args):
    """Run scons, check the common error contract, return the run."""
    result = fw.run_scons(project, target, *args)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    left = [name for name in IMAGES if (project / "build" / target / name).exists()]
    assert not left, f"{left} left in build/{target}\n{result.describe()}"
    return result


def project_with(fw, tmp_path, **overrides):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, TARGET, **overrides)
    return project


def test_misaligned_app_offset(fw, tmp_path):
    project = project_with(fw, tmp_path, app_offset="0x8100")
    err = fails(fw, project).stderr
    for word in ("fwbuild.json", "app_offset", "0x8000", "0x9000"):
        assert word in err, f"{word!r} not in:\n{err}"


def test_restrict_size_past_flash_end(fw, tmp_path):
    project = project_with(fw, tmp_path, app_offset="0x8000", restrict_size="0x100000")
    err = fails(fw, project).stderr
    for word in ("fwbuild.json", "restrict_size", "0x00108000", "flash end"):
        assert word in err, f"{word!r} not in:\n{err}"


def test_bootloader_overlaps_header(fw, tmp_path):
    project = project_with(fw, tmp_path, bootloader_img="bootloader.bin", header_offset="0x8000")
    (project / "bootloader.bin").write_bytes(bytes(range(256)) * (0x9000 // 256))
    err = fails(fw, project).stderr
    assert "overlap" in err, err
    assert "0x00008000" in err and "0x00009000" in err, err
    assert "fwbuild.json" in err, f"the message does not name the file that set the overlap:\n{err}"


def test_missing_bootloader_img(fw, tmp_path):
    project = project_with(fw, tmp_path, bootloader_img="no_such_bootloader.bin", header_offset="0x8000")
    err = fails(fw, project).stderr
    for word in ("fwbuild.json", "bootloader_img", "no_such_bootloader.bin", "not found"):
        assert word in err, f"{word!r} not in:\n{err}"


def test_broken_json(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    path = project / "fwbuild.json"
    path.write_text(path.read_text().rstrip().rstrip("}") + ',\n  "version": \n}\n')
    with pytest.raises(json.JSONDecodeError):
        json.loads(path.read_text())
    err = fails(fw, project).stderr
    assert "fwbuild.json" in err and "JSON" in err, err
    assert re.search(r"line \d+", err), err


def test_unknown_override_key(fw, tmp_path):
    project = project_with(fw, tmp_path, app_ofset="0x8000")
    err = fails(fw, project).stderr
    for word in ("fwbuild.json", "app_ofset", "unknown key", "app_offset"):
        assert word in err, f"{word!r} not in:\n{err}"


def test_unknown_target(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    err = fails(fw, project, "NOPE").stderr
    assert "NOPE" in err, err
    listed = [name for name in fw.public_targets() if name in err]
    assert listed, f"no target name offered in:\n{err}"


def test_misspelt_target_suggests_close_name(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    err = fails(fw, project, "K64").stderr
    assert "K64F" in err and "did you mean" in err, err


@pytest.fixture
def misplaced(fw, tmp_path):
    """The example project with its own template: FLASH moved up by 0x1000 from the region."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    text = fw.TEMPLATE.read_text()
    assert text.count(FLASH_ORIGIN) == 1, f"{fw.TEMPLATE} no longer holds {FLASH_ORIGIN!r}: update this test"
    (project / "moved.ld.j2").write_text(
        text.replace(FLASH_ORIGIN, "ORIGIN = {{ (rom.start + 0x1000)|hex }}")
    )
    fw.edit_project(project, linker_template="moved.ld.j2")
    fw.set_overrides(project, TARGET)  # the plain layout: the application at the flash start
    return project


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_misplaced_vector_table_rejected(fw, misplaced):
    result = fails(fw, misplaced)
    script = (misplaced / "build" / TARGET / "app.ld").read_text()
    assert "ORIGIN = 0x00001000" in script  # the template really moved FLASH
    assert result.count("LINK") == 1, result.describe()
    err = result.stderr
    assert "app.elf" in err and ".isr_vector" in err and "0x00000000" in err, err

    again = fails(fw, misplaced)
    assert again.count("LINK") == 1, "the rejected ELF was taken as up to date\n" + again.describe()
    assert error_lines(again) == error_lines(result), again.describe()


@pytest.mark.parametrize("built_before", [False, True], ids=["fresh", "after a build"])
def test_program_for_a_region_the_layout_lacks(fw, tmp_path, built_before):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    if built_before:  # the graph's facts are remembered: the region is still checked
        assert fw.run_scons(project, TARGET).returncode == 0
    sconstruct = project / "SConstruct"
    sconstruct.write_text(
        sconstruct.read_text() + '\nenv.FirmwareProgram("extra", Glob("app/*.c"), region="external_flash")\n'
    )
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 2 and "Traceback" not in result.output, result.describe()
    assert "no 'external_flash' region" in result.stderr, result.describe()
