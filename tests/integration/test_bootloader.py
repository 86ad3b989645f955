"""The example bootloader under QEMU: it checks the active slot, installs a newer candidate,
refuses older, equal and corrupt ones, recovers from the candidate, and stops when nothing
is valid. Candidate images come from the build's app.bin and `fwbuild sign`."""

from __future__ import annotations

from pathlib import Path

import pytest

TARGET = "MPS2_AN385"
APP_LINE = "fwbuild example app {} on MPS2_AN385"


@pytest.fixture
def example(fw, example_build):
    build = example_build(TARGET, one_stage=True)
    layout = build.layout()

    class Example:
        combined = build.dir / "combined.bin"
        candidate_start = fw.region_of(layout, "candidate")["start"]
        app_start = fw.region_of(layout, "application")["start"]

        @staticmethod
        def signed(tmp_path: Path, version: str) -> Path:
            """app.bin signed as `version`, as a release engineer would sign an update."""
            out = tmp_path / f"app-{version}.bin"
            result = fw.run_fwbuild(
                "sign", build.dir / "app.bin", out, "--target", TARGET, "--project", build.project,
                "--version", version,
            )  # fmt: skip
            assert result.returncode == 0, result.describe()
            return out

        @staticmethod
        def boot(image: Path, candidate: Path | None = None) -> tuple[int, list[str]]:
            loads = [(candidate, Example.candidate_start)] if candidate else []
            status, text = fw.run_qemu(image, loads=loads)
            return status, text.splitlines()

    return Example


def corrupt(source: Path, dest: Path, offset: int) -> Path:
    data = bytearray(source.read_bytes())
    data[offset] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_combined_image_boots(example):
    status, lines = example.boot(example.combined)
    assert (status, lines) == (0, ["boot: active 1.0.0 ok", APP_LINE.format("1.0.0")])


def test_flipped_application_byte_stops_the_boot(example, tmp_path):
    bad = corrupt(example.combined, tmp_path / "bad.bin", example.app_start + 0x40)
    status, lines = example.boot(bad)
    assert status == 3, lines
    assert "boot: no valid image" in lines and "boot: active refused (bad hash)" in lines
    assert not any(line.startswith("fwbuild example app") for line in lines)


def test_newer_candidate_is_installed(example, tmp_path):
    status, lines = example.boot(example.combined, example.signed(tmp_path, "1.3.0"))
    assert status == 0, lines
    assert lines == ["boot: active 1.0.0 ok", "boot: candidate 1.3.0 installed", APP_LINE.format("1.3.0")]


@pytest.mark.parametrize(
    "version, verdict",
    [("0.9.0", "0.9.0 refused (older)"), ("1.0.0+7", "1.0.0 refused (same version)")],
    ids=["older", "equal-ignoring-build"],
)
def test_no_rollback(example, tmp_path, version, verdict):
    status, lines = example.boot(example.combined, example.signed(tmp_path, version))
    assert status == 0, lines
    assert lines == ["boot: active 1.0.0 ok", f"boot: candidate {verdict}", APP_LINE.format("1.0.0")]


def test_corrupt_candidate_is_refused(example, tmp_path):
    candidate = corrupt(example.signed(tmp_path, "1.3.0"), tmp_path / "bad.bin", 0x400 + 0x10)
    status, lines = example.boot(example.combined, candidate)
    assert status == 0, lines
    assert lines == ["boot: active 1.0.0 ok", "boot: candidate refused (bad hash)", APP_LINE.format("1.0.0")]


def test_recovery_from_the_candidate(example, tmp_path):
    bad = corrupt(example.combined, tmp_path / "bad.bin", example.app_start + 0x40)
    status, lines = example.boot(bad, example.signed(tmp_path, "1.2.4"))
    assert status == 0, lines
    assert lines == ["boot: active bad hash, candidate 1.2.4 installed", APP_LINE.format("1.2.4")]


def test_scons_run_boots_the_image(fw, tmp_path):
    project = fw.copy_one_stage(tmp_path / "project")
    result = fw.run_scons(project, TARGET, "run")
    assert result.returncode == 0, result.describe()
    assert "boot: active 1.0.0 ok" in result.output and APP_LINE.format("1.0.0") in result.output


def test_moved_layout_needs_no_source_change(fw, tmp_path):
    """Another slot, header size and candidate: the same bootloader source finds them all
    through fwbuild_layout.h."""
    project = fw.copy_one_stage(tmp_path / "project")
    fw.set_overrides(
        project,
        TARGET,
        bootloader_img="@bootloader",
        bootloader_size="0x10000",
        header_offset="0x20000",
        app_offset="0x20200",
        restrict_size="0xFFE00",
        candidate_offset="0x300000",
    )
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 0, result.describe()
    out = project / "build" / TARGET
    candidate = tmp_path / "candidate.bin"
    signed = fw.run_fwbuild(
        "sign", out / "app.bin", candidate, "--target", TARGET, "--project", project, "--version", "2.0.0"
    )
    assert signed.returncode == 0, signed.describe()
    status, text = fw.run_qemu(out / "combined.bin", loads=[(candidate, 0x300000)])
    assert status == 0, text
    assert text.splitlines() == [
        "boot: active 1.0.0 ok",
        "boot: candidate 2.0.0 installed",
        APP_LINE.format("2.0.0"),
    ]
