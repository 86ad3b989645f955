"""The guides in docs/ are tested: their code blocks are built as written."""

from __future__ import annotations

import json
import re
import shutil

from fwbuild.reference import config_reference


def code_blocks(fw, page: str, language: str) -> list[str]:
    text = (fw.REPO / "docs" / page).read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def repo_with_sources(fw, where):
    """A throw-away firmware repo outside this tree, with the example's C sources."""
    for folder in ("app", "common", "bootloader", "keys"):
        shutil.copytree(fw.EXAMPLE / folder, where / folder)
    return where


def test_firmware_repo_guide(fw, tmp_path):
    repo = repo_with_sources(fw, tmp_path / "my-firmware")
    (sconstruct,) = code_blocks(fw, "firmware-repo.md", "python")
    (config,) = code_blocks(fw, "firmware-repo.md", "json")
    (repo / "SConstruct").write_text(sconstruct)
    (repo / "fwbuild.json").write_text(config)
    result = fw.run_scons(repo, "K64F")
    assert result.returncode == 0, result.describe()
    assert (repo / "build/K64F/combined.hex").is_file()
    assert json.loads((repo / "build/K64F/build-info.json").read_text())["project"]["version"] == "1.2.3"


def test_adding_a_target_guide(fw, tmp_path):
    repo = repo_with_sources(fw, tmp_path / "acme")
    target, config = code_blocks(fw, "adding-a-target.md", "json")
    (repo / "targets").mkdir()
    (repo / "targets" / "ACME_F407.json").write_text(target)
    (repo / "fwbuild.json").write_text(config)
    (repo / "SConstruct").write_text((fw.EXAMPLE / "SConstruct").read_text())
    check = fw.run_fwbuild("check-target", "ACME_F407", "--project", repo)
    assert check.returncode == 0 and check.stdout.startswith("ok: ACME_F407"), check.describe()
    assert "header 0x08010000..0x08010400" in check.stdout
    result = fw.run_scons(repo, "ACME_F407")
    assert result.returncode == 0, result.describe()
    assert (repo / "build/ACME_F407/combined.bin").is_file()


def test_check_target_reports_every_problem(fw, tmp_path):
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "BAD_BOARD.json").write_text(
        json.dumps({"inherits": "STM32F4", "flassh": {}, "vector_count": "sixteen", "stack_size": -4})
    )
    result = fw.run_fwbuild("check-target", "BAD_BOARD", "--targets-dir", folder)
    assert result.returncode == 2, result.describe()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, result.stderr
    text = " ".join(result.stderr.split())
    assert "unknown key 'flassh'; did you mean 'flash'?" in text and "vector_count" in text
    assert "3 problem(s) in BAD_BOARD" in text and "Traceback" not in result.output


def test_config_reference_is_generated_from_the_schemas(fw):
    assert (fw.REPO / "docs" / "config-reference.md").read_text() == config_reference(), (
        "docs/config-reference.md is stale: run .venv/bin/fwbuild config-reference > docs/config-reference.md"
    )


def test_startup_guide(fw, tmp_path):
    """The irq_handlers example is a valid target; the FW_STARTUP=False line builds the
    example, which brings its own start-up code."""
    (target,) = code_blocks(fw, "startup.md", "json")
    (folder := tmp_path / "targets").mkdir()
    (folder / "MY_F4_BOARD.json").write_text(
        json.dumps({**json.loads(target), "description": "a board", "public": True})
    )
    check = fw.run_fwbuild("check-target", "MY_F4_BOARD", "--targets-dir", folder)
    assert check.returncode == 0, check.describe()
    (line,) = code_blocks(fw, "startup.md", "python")
    repo = repo_with_sources(fw, tmp_path / "own-startup")
    sconstruct = (fw.EXAMPLE / "SConstruct").read_text()
    assert "FW_STARTUP=False" in sconstruct
    (repo / "SConstruct").write_text(
        "\n".join(line.strip() if s.startswith("env = Environment(") else s for s in sconstruct.splitlines())
    )
    (repo / "fwbuild.json").write_text((fw.EXAMPLE / "fwbuild.json").read_text())
    result = fw.run_scons(repo, "K64F")
    assert result.returncode == 0, result.describe()
    assert not (repo / "build/K64F/fwbuild-startup").exists()


def test_boot_chains_guide(fw, tmp_path):
    """The guide's fwbuild.json and SConstruct build the chain it draws, with the addresses
    it shows."""
    repo = tmp_path / "chained"
    for folder in ("selector", "bootloader", "app"):
        shutil.copytree(fw.PROJECTS / "chain" / folder, repo / folder)
    shutil.copytree(fw.EXAMPLE / "keys", repo / "keys")
    (config,) = code_blocks(fw, "boot-chains.md", "json")
    (sconstruct,) = code_blocks(fw, "boot-chains.md", "python")
    (repo / "fwbuild.json").write_text(config)
    (repo / "SConstruct").write_text(sconstruct)
    result = fw.run_scons(repo, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    build = repo / "build" / "MPS2_AN385"
    drawn = (fw.REPO / "docs" / "boot-chains.md").read_text()
    for region in json.loads((build / "layout.json").read_text())["regions"]:
        assert f"0x{region['start']:08X} +" in drawn, region
        assert f"| {region['name']}" in drawn, region
    for path in (
        "bootloader/slot1/bootloader-signed.bin",
        "application/slot1/app-signed.bin",
        "combined.bin",
    ):
        assert (build / path).is_file(), path
