"""Built images really boot: QEMU's mps2-an385 runs app.bin from address 0 with semihosting."""

from __future__ import annotations

import json

import pytest


def test_boot_at_zero(fw, tmp_path):
    src = fw.PROJECTS / "boot_at_zero"
    version = json.loads((src / "fwbuild.json").read_text())["version"]
    build = fw.build_copy(src, tmp_path / "boot_at_zero", "MPS2_AN385").require_ok()
    assert build.region("application")["start"] == 0
    first = min((s for s in fw.load_segments(build.elf) if s.filesz), key=lambda s: s.paddr)
    assert first.paddr == 0
    status, text = fw.run_qemu(build.dir / "app.bin")
    assert status == 0, f"QEMU exit status {status}\n{text}"
    assert f"boot_at_zero {version}" in text.splitlines(), text


@pytest.mark.parametrize("profile", ["debug", "release"])
def test_example_project_boots(fw, example_build, profile):
    """The example's combined image: the selector checks and boots the bootloader, which
    checks and boots the signed application (the release build signs with another key,
    which the stages it builds trust)."""
    build = example_build("MPS2_AN385", profile)
    status, text = fw.run_qemu(build.dir / "combined.bin")
    assert status == 0, f"QEMU exit status {status}\n{text}"
    assert text.splitlines() == [
        "selector: bootloader slot 1 refused (empty)",
        "selector: boot bootloader slot 0 v1.0.0",
        "bootloader: application slot 1 refused (empty)",
        "bootloader: boot application slot 0 v1.0.0",
        "app: v1.0.0 slot 0 confirmed",
    ], text


@pytest.mark.parametrize("profile", ["debug", "release"])
def test_one_stage_example_boots(fw, example_build, profile):
    """The example's one-stage layout: its bootloader hands over to the signed application."""
    build = example_build("MPS2_AN385", profile, one_stage=True)
    status, text = fw.run_qemu(build.dir / "combined.bin")
    assert status == 0, f"QEMU exit status {status}\n{text}"
    assert text.splitlines() == ["boot: active 1.0.0 ok", "fwbuild example app 1.0.0 on MPS2_AN385"], text
