"""Unmanaged builds: the application at mbed_app_start, no merge, post-build.json for the
team's own image assembly (here with `fwbuild merge`)."""

from __future__ import annotations

import hashlib
import json


def test_unmanaged_k64f(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "K64F", mbed_app_start="0x10000", mbed_app_size="0x20000")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    out = project / "build/K64F"
    assert not (out / "combined.bin").exists() and not (out / "app-signed.bin").exists()
    app = (out / "app.bin").read_bytes()
    described = json.loads((out / "post-build.json").read_text())
    assert described["mode"] == "unmanaged"
    assert described["parts"] == [
        {
            "name": "application",
            "address": 0x10000,
            "size": len(app),
            "path": "app.bin",
            "sha256": hashlib.sha256(app).hexdigest(),
        }
    ]
    layout = json.loads((out / "layout.json").read_text())
    assert [(r["name"], r["start"], r["size"]) for r in layout["regions"]] == [
        ("application", 0x10000, 0x20000),
        ("post_application", 0x30000, 0x100000 - 0x30000),
    ]
    # the team's own full image: a bootloader of theirs at 0, the application at its address
    boot = tmp_path / "their_boot.bin"
    boot.write_bytes(b"\xaa" * 0x1000)
    image = tmp_path / "full.bin"
    merged = fw.run_fwbuild("merge", "--out", image, f"{boot}@0x0", f"{out / 'app.bin'}@0x10000")
    assert merged.returncode == 0, merged.describe()
    assert image.read_bytes() == b"\xaa" * 0x1000 + b"\xff" * 0xF000 + app


def test_unmanaged_keys_mixed_with_managed_ones(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "K64F", mbed_app_start="0x10000", app_offset="0x8000")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    assert "fwbuild.json" in result.stderr and "mbed_app_start" in result.stderr
    assert "mixed with 'app_offset'" in result.stderr
