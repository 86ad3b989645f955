"""scons aliases beyond the build: flash (with a recording programmer: no board here) and
compiledb (compile_commands.json with the cross compiler's command lines)."""

from __future__ import annotations

import json
import sys


def recording_programmer(tmp_path):
    log = tmp_path / "programmer.json"
    script = tmp_path / "record.py"
    script.write_text(f"import json, sys\njson.dump(sys.argv[1:], open({str(log)!r}, 'w'))\n")
    return f"{sys.executable} {script} {{image}} {{address}}", log


def test_flash_hands_over_the_right_image_and_address(fw, tmp_path):
    command, log = recording_programmer(tmp_path)
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    cases = [
        ("K64F", "combined.hex", "0x00000000"),  # managed: the whole image
        ("NUCLEO_F429ZI", "app.hex", "0x08000000"),  # plain: the application
    ]
    for target, image, address in cases:
        result = fw.run_scons(project, target, "flash", f"programmer={command}")
        assert result.returncode == 0, result.describe()
        assert json.loads(log.read_text()) == [str(project / "build" / target / image), address]
        log.unlink()


def test_flash_uses_the_targets_programmer(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, "K64F", "flash")  # pyOCD is not installed here
    text = " ".join(result.stderr.split())
    assert f"pyocd flash --target k64f {project}/build/K64F/combined.hex" in text, result.describe()
    result = fw.run_scons(project, "MPS2_AN385", "flash")
    assert result.returncode == 2 and "MPS2_AN385 declares no programmer" in result.stderr


def test_compile_commands_for_editors(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, "K64F", "compiledb")
    assert result.returncode == 0, result.describe()
    entries = json.loads((project / "compile_commands.json").read_text())
    files = sorted(entry["file"] for entry in entries)
    assert "app/main.c" in files and "bootloader/sha256.c" in files and len(files) == 9
    for entry in entries:
        assert entry["command"].startswith("arm-none-eabi-gcc ") and "-mcpu=cortex-m4" in entry["command"]
        assert entry["directory"] == str(project)
