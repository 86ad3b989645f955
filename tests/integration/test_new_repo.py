"""fwbuild new makes repos that build at once, sign with their own development key, and
boot under QEMU: the application and bootloader both on fwbuild's start-up code."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "layout, outputs",
    [
        ("managed", ["combined.hex", "app-signed.bin", "bootloader/bootloader.elf"]),
        ("unmanaged", ["post-build.json", "app.hex"]),
        ("plain", ["app.hex", "app.bin"]),
    ],
)
def test_new_repo_builds(fw, tmp_path, layout, outputs):
    repo = tmp_path / f"fw-{layout}"
    made = fw.run_fwbuild("new", repo, "--target", "K64F", "--layout", layout)
    assert made.returncode == 0, made.describe()
    assert "scons target=K64F" in made.stdout
    result = fw.run_scons(repo, "K64F")
    assert result.returncode == 0, result.describe()
    for name in outputs:
        assert (repo / "build" / "K64F" / name).is_file(), name
    assert "startup.c" in " ".join(result.files("CC"))  # fwbuild's start-up code


def test_new_repo_boots_and_signs_with_its_own_key(fw, tmp_path):
    repo = tmp_path / "widget"
    assert fw.run_fwbuild("new", repo, "--target", "MPS2_AN385").returncode == 0
    result = fw.run_scons(repo, "MPS2_AN385", ".", "run")
    assert result.returncode == 0, result.describe()
    lines = result.output.splitlines()
    assert "boot: active 0.1.0 ok" in lines and "fwbuild example app 0.1.0 on MPS2_AN385" in lines, lines

    info = json.loads((repo / "build/MPS2_AN385/build-info.json").read_text())
    key = repo / "keys" / "dev-signing-key.pem"
    verify = fw.run_fwbuild("verify", repo / "build/MPS2_AN385/app-signed.bin", "--key", key)
    assert verify.returncode == 0, verify.describe()
    assert info["signature"] != "no slot image"

    release = fw.run_scons(repo, "MPS2_AN385", "profile=release")
    assert release.returncode == 2, release.describe()
    assert "DEVELOPMENT SIGNING KEY" in release.stderr
