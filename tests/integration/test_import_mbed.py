"""Migrating from Mbed OS: `fwbuild import-mbed mbed_app.json` on real-shaped configs, then
the written fwbuild.json is loaded by the real config loader and built."""

from __future__ import annotations

import json
import struct

import pytest

from fwbuild.resolve import resolve

MBED_V2_FORMAT = [
    ["magic", "const", "32be", "0x5a51b3d4"],
    ["headerVersion", "const", "32be", "2"],
    ["firmwareVersion", "timestamp", "64be", None],
    ["firmwareSize", "size", "64be", ["application"]],
    ["firmwareDigest", "digest", "SHA256", "application"],
    ["firmwareDigestPad0", "const", "64be", "0"],
    ["firmwareDigestPad1", "const", "64be", "0"],
    ["firmwareDigestPad2", "const", "64be", "0"],
    ["firmwareDigestPad3", "const", "64be", "0"],
    ["campaign0", "const", "64be", "0"],
    ["campaign1", "const", "64be", "0"],
    ["signatureSize", "const", "32be", "0"],
    ["headerCRC", "digest", "CRCITT32be", "header"],
]


def mbed_repo(fw, tmp_path, target, overrides):
    """A firmware repo as Mbed users have them: sources, mbed_app.json, a bootloader binary."""
    repo = fw.copy_project(fw.EXAMPLE, tmp_path / "mbed-repo")
    (repo / "fwbuild.json").unlink()
    (repo / "bootloader-bin").mkdir()
    (repo / "bootloader-bin" / f"{target}.bin").write_bytes(
        struct.pack("<2I", 0x20001000, 0x101) + bytes(0x1F8)
    )
    config = {
        "config": {"update_client.storage-size": {"value": "(1024*1024*2)"}},
        "macros": ["MBED_FAULT_HANDLER_DISABLED"],
        "target_overrides": {
            "*": {"platform.stdio-baud-rate": 115200, "target.features_add": ["BOOTLOADER"]},
            target: {"target.bootloader_img": f"bootloader-bin/{target}.bin", **overrides},
        },
    }
    (repo / "mbed_app.json").write_text(json.dumps(config, indent=4))
    return repo


@pytest.mark.parametrize("explicit_format", [True, False], ids=["header_format-list", "feature-default"])
def test_k64f_with_an_mbed_v2_header(fw, tmp_path, monkeypatch, explicit_format):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    overrides = {"target.header_offset": "0xA000", "target.app_offset": "0xa400"}
    if explicit_format:
        overrides["target.header_format"] = MBED_V2_FORMAT
    repo = mbed_repo(fw, tmp_path, "K64F", overrides)
    result = fw.run_fwbuild("import-mbed", repo / "mbed_app.json")
    assert result.returncode == 0, result.describe()
    out = result.stdout
    assert "translated: K64F: target.app_offset -> app_offset = '0xa400'" in out
    assert "not translated: *: platform.stdio-baud-rate" in out and "not translated: macros" in out
    assert "not translated: *: target.features_add" in out
    layout = resolve(repo, "K64F").layout
    assert layout.region("header").start == 0xA000 and layout.application.start == 0xA400
    build = fw.run_scons(repo, "K64F")
    assert build.returncode == 0, build.describe()
    signed = (repo / "build/K64F/app-signed.bin").read_bytes()
    assert struct.unpack_from(">I", signed)[0] == 0x5A51B3D4 and signed[112:0x400] == b"\xff" * (0x400 - 112)
    again = fw.run_fwbuild("import-mbed", repo / "mbed_app.json")
    assert again.returncode == 2 and "--force" in again.stderr


def test_nucleo_f429zi_with_restrict_size(fw, tmp_path):
    overrides = {
        "target.header_offset": "0x8000",
        "target.app_offset": "0x8200",
        "target.restrict_size": "0xF7E00",
        "target.header_format": MBED_V2_FORMAT,
    }
    repo = mbed_repo(fw, tmp_path, "NUCLEO_F429ZI", overrides)
    out = tmp_path / "elsewhere" / "fwbuild.json"
    out.parent.mkdir()
    result = fw.run_fwbuild("import-mbed", repo / "mbed_app.json", "--out", out)
    assert result.returncode == 0, result.describe()
    written = json.loads(out.read_text())
    # the bootloader path is re-based onto the new file's folder
    assert (
        written["target_overrides"]["NUCLEO_F429ZI"]["bootloader_img"]
        == "../mbed-repo/bootloader-bin/NUCLEO_F429ZI.bin"
    )
    (repo / "fwbuild.json").write_text(
        out.read_text().replace("../mbed-repo/", "")
    )  # and the same file beside the sources builds
    layout = resolve(repo, "NUCLEO_F429ZI").layout
    assert (layout.application.start, layout.application.end) == (0x08008200, 0x08100000)
    build = fw.run_scons(repo, "NUCLEO_F429ZI")
    assert build.returncode == 0, build.describe()


def test_bad_mbed_values_are_named(fw, tmp_path):
    repo = mbed_repo(fw, tmp_path, "K64F", {"target.app_offset": "0xA4OO"})
    result = fw.run_fwbuild("import-mbed", repo / "mbed_app.json")
    assert result.returncode == 2
    text = " ".join(result.stderr.split())
    assert "mbed_app.json: target_overrides.K64F.target.app_offset" in text and "0xA4OO" in text
    assert not (repo / "fwbuild.json").exists()
