"""Named post-build hooks in the SCons graph: link stage (LPC vector checksum) and image
stage (CRC-32 trailer)."""

from __future__ import annotations

import struct
import zlib

from intelhex import IntelHex


def test_lpc1768_vector_checksum(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, "LPC1768")
    assert result.returncode == 0, result.describe()
    out = project / "build/LPC1768"
    image = (out / "app.bin").read_bytes()
    assert sum(struct.unpack_from("<8I", image)) & 0xFFFFFFFF == 0  # what the boot ROM checks
    assert IntelHex(str(out / "app.hex")).tobinstr() == image  # the hex carries the patched bytes
    again = fw.run_scons(project, "LPC1768")
    assert again.steps == [], again.describe()


def test_prebuilt_lpc_bootloader_without_checksum_is_refused(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    boot = bytearray(struct.pack("<8I", 0x10008000, 0x101, 0x103, 0x103, 0x103, 0x103, 0x103, 0))
    boot += bytes(0x800)
    (project / "boot.bin").write_bytes(bytes(boot))
    fw.set_overrides(project, "LPC1768", bootloader_img="boot.bin", header_format="mbed-v2")
    result = fw.run_scons(project, "LPC1768")
    assert result.returncode == 2, result.describe()
    assert "vectors 0-7 do not sum to zero" in " ".join(result.stderr.split())
    assert not (project / "build/LPC1768/combined.bin").exists()


def test_crc32_trailer_on_combined_and_unmanaged(fw, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot.bin").write_bytes(b"\x00\x80\x00\x20\x01\x01\x00\x00" + bytes(0x1F8))
    fw.set_overrides(project, "MPS2_AN385", bootloader_img="boot.bin", post_build_hooks=["crc32_trailer"])
    result = fw.run_scons(project, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    out = project / "build/MPS2_AN385"
    combined = (out / "combined.bin").read_bytes()
    assert (out / "combined-crc.bin").read_bytes() == combined + struct.pack("<I", zlib.crc32(combined))

    project2 = fw.copy_project(fw.EXAMPLE, tmp_path / "unmanaged")
    fw.set_overrides(project2, "MPS2_AN385", mbed_app_start="0x8000", post_build_hooks=["crc32_trailer"])
    result = fw.run_scons(project2, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    out = project2 / "build/MPS2_AN385"
    app = (out / "app.bin").read_bytes()
    assert (out / "app-crc.bin").read_bytes() == app + struct.pack("<I", zlib.crc32(app))


def test_unknown_hook_stops_the_build(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "K64F", post_build_hooks=["crc_trailer"])
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    text = " ".join(result.stderr.split())
    assert "fwbuild.json: post_build_hooks: unknown hook 'crc_trailer'" in text
    assert "Traceback" not in result.output
