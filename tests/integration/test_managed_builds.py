"""Managed builds: a prebuilt bootloader merged with the application and its Mbed header.

The expected bytes are assembled here independently (struct, hashlib, zlib, intelhex)."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import pytest
from intelhex import IntelHex

EPOCH = 1_700_000_000
BOOT_PROJECT = Path(__file__).resolve().parent.parent / "projects" / "boot_at_zero"


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))


def bootloader_bin(fw, tmp_path, target):
    """A tiny real program linked at the flash start, built with the cross compiler."""
    project = fw.copy_project(BOOT_PROJECT, tmp_path / f"boot-{target}")
    result = fw.run_scons(project, target)
    image = project / "build" / target / "app.bin"
    assert result.returncode == 0 and image.is_file(), result.describe()
    return image


def managed_project(fw, tmp_path, target, boot: Path, **keys):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot").mkdir()
    dest = project / "boot" / boot.name
    dest.write_bytes(boot.read_bytes())
    fw.set_overrides(project, target, bootloader_img=f"boot/{boot.name}", **keys)
    return project


def hex_bytes(path: Path) -> dict[int, int]:
    ih = IntelHex(str(path))
    return {a: ih[a] for a in ih.addresses()}


def mbed_v2(app: bytes) -> bytes:
    body = struct.pack(">IIQQ", 0x5A51B3D4, 2, EPOCH, len(app)) + hashlib.sha256(app).digest()
    body += bytes(32 + 16) + struct.pack(">I", 0)
    return body + struct.pack(">I", zlib.crc32(body))


def test_k64f_prebuilt_bin_bootloader_and_mbed_v2_header(fw, tmp_path):
    boot = bootloader_bin(fw, tmp_path, "K64F")
    project = managed_project(
        fw,
        tmp_path,
        "K64F",
        boot,
        header_offset="0x8000",
        app_offset="0x8200",
        header_format="mbed-v2",
        restrict_size="0x77E00",
    )
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    assert result.count("SIGN") == 1 and result.count("MERGE") == 1
    out = project / "build" / "K64F"
    app = (out / "app.bin").read_bytes()
    expected_slot = mbed_v2(app) + b"\xff" * (0x200 - 112) + app
    assert (out / "app-signed.bin").read_bytes() == expected_slot
    boot_bytes = boot.read_bytes()
    expected = boot_bytes + b"\xff" * (0x8000 - len(boot_bytes)) + expected_slot
    combined = (out / "combined.bin").read_bytes()
    assert combined == expected
    # the hex holds the used ranges only, at the same addresses, with no start address record
    text = (out / "combined.hex").read_text()
    assert ":04000003" not in text and ":04000005" not in text
    as_hex = hex_bytes(out / "combined.hex")
    assert min(as_hex) == 0 and 0x7FFF not in as_hex  # the gap is not in the hex
    assert all(combined[a] == v for a, v in as_hex.items())
    slot_hex = hex_bytes(out / "app-signed.hex")
    assert min(slot_hex) == 0x8000 and bytes(slot_hex[a] for a in sorted(slot_hex)) == expected_slot
    layout = json.loads((out / "layout.json").read_text())
    assert layout["mode"] == "managed"
    assert [r["name"] for r in layout["regions"]] == [
        "bootloader",
        "header",
        "application",
        "post_application",
    ]
    # nothing changed: nothing runs again
    again = fw.run_scons(project, "K64F")
    assert again.steps == [], again.describe()


def test_new_epoch_rebuilds_header_and_merge_only(fw, tmp_path, monkeypatch):
    boot = bootloader_bin(fw, tmp_path, "K64F")
    project = managed_project(fw, tmp_path, "K64F", boot, header_offset="0x8000", header_format="mbed-v2")
    assert fw.run_scons(project, "K64F").returncode == 0
    first = (project / "build/K64F/app-signed.bin").read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH + 1))
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    assert {v for v, _ in result.steps} == {"SIGN", "MERGE", "GEN", "MEMMAP"}, result.describe()
    assert result.files("GEN") == ["build/K64F/build-info.json"]
    second = (project / "build/K64F/app-signed.bin").read_bytes()
    assert second != first and struct.unpack_from(">Q", second, 8)[0] == EPOCH + 1
    assert second[16:] == first[16:108] + second[108:112] + first[112:]  # only time and CRC differ


def test_release_needs_a_reproducible_timestamp(fw, tmp_path, monkeypatch, key_files):
    boot = bootloader_bin(fw, tmp_path, "K64F")
    project = managed_project(fw, tmp_path, "K64F", boot, header_offset="0x8000", header_format="mbed-v2")
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    # a key a release accepts, so that the timestamp is what it lacks
    result = fw.run_scons(project, "K64F", "profile=release", f"sign_key={key_files['ecdsa-p256']}")
    assert result.returncode == 2, result.describe()
    assert "SOURCE_DATE_EPOCH" in result.stderr and "Traceback" not in result.output
    assert not (project / "build/K64F/app-signed.bin").exists()


def test_pelion_v3_header_on_nucleo_f429zi(fw, tmp_path):
    boot = bootloader_bin(fw, tmp_path, "NUCLEO_F429ZI")
    project = managed_project(
        fw,
        tmp_path,
        "NUCLEO_F429ZI",
        boot,
        header_offset="0x8000",
        app_offset="0x8200",
        header_format="pelion-v3",
        restrict_size="0xF7E00",
    )
    result = fw.run_scons(project, "NUCLEO_F429ZI")
    assert result.returncode == 0, result.describe()
    out = project / "build/NUCLEO_F429ZI"
    app = (out / "app.bin").read_bytes()
    header = struct.pack("<IIQ", 0x5C0253A3, len(app), EPOCH) + hashlib.sha256(app).digest() + bytes(32)
    assert (out / "app-signed.bin").read_bytes() == header + b"\xff" * (0x200 - 80) + app
    assert min(hex_bytes(out / "combined.hex")) == 0x08000000


def test_two_segment_hex_bootloader(fw, tmp_path):
    boot = bootloader_bin(fw, tmp_path, "NRF52840_DK")
    ih = IntelHex()
    ih.puts(0, boot.read_bytes())
    ih.puts(0xF4000, b"second stage" * 100)
    hex_path = tmp_path / "mbr_and_boot.hex"
    ih.write_hex_file(str(hex_path))
    project = managed_project(
        fw,
        tmp_path,
        "NRF52840_DK",
        hex_path,
        header_offset="0x1000",
        header_format="mbed-v2",
        restrict_size="0x80000",
    )
    result = fw.run_scons(project, "NRF52840_DK")
    assert result.returncode == 0, result.describe()
    out = project / "build/NRF52840_DK"
    layout = json.loads((out / "layout.json").read_text())
    names = [r["name"] for r in layout["regions"]]
    assert names == ["bootloader", "header", "application", "post_application", "bootloader_2"]
    combined = (out / "combined.bin").read_bytes()
    assert len(combined) == 0xF4000 + 1200
    assert combined[0xF4000:] == b"second stage" * 100
    assert all(combined[a] == v for a, v in hex_bytes(out / "combined.hex").items())


@pytest.mark.parametrize(
    "target", ["K64F", "NUCLEO_F429ZI", "DISCO_L475VG_IOT01A", "NRF52840_DK", "LPC1768", "MPS2_AN385"]
)
def test_combined_bin_and_hex_carry_the_same_bytes(fw, tmp_path, target):
    boot = bootloader_bin(fw, tmp_path, target)
    project = managed_project(fw, tmp_path, target, boot, header_format="mbed-v2")
    result = fw.run_scons(project, target)
    assert result.returncode == 0, result.describe()
    out = project / "build" / target
    combined = (out / "combined.bin").read_bytes()
    layout = json.loads((out / "layout.json").read_text())
    start = layout["flash"]["start"]
    as_hex = hex_bytes(out / "combined.hex")
    assert min(as_hex) == start and max(as_hex) == start + len(combined) - 1
    assert all(combined[a - start] == v for a, v in as_hex.items())
    filled = set(range(start, start + len(combined))) - set(as_hex)
    assert all(combined[a - start] == 0xFF for a in filled)


def test_wrong_flash_configuration_field_in_a_prebuilt_bootloader(fw, tmp_path):
    boot = bootloader_bin(fw, tmp_path, "K64F")
    data = bytearray(boot.read_bytes())
    data[0x40C] = 0xFF  # FSEC 0xFF: the chip would secure itself
    bad = tmp_path / "bad_boot.bin"
    bad.write_bytes(bytes(data))
    project = managed_project(fw, tmp_path, "K64F", bad, header_format="mbed-v2")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    assert "flash_config" in result.stderr and "0x00000400" in result.stderr
    assert "Traceback" not in result.output
    assert not (project / "build/K64F/combined.bin").exists()
    assert not (project / "build/K64F/combined.hex").exists()


def built_bootloader_project(fw, tmp_path, **keys):
    """The example with its own bootloader built from source in the same run ("@bootloader")."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "K64F", bootloader_img="@bootloader", **keys)
    return project


def test_bootloader_built_in_the_same_run(fw, tmp_path):
    project = built_bootloader_project(
        fw, tmp_path, bootloader_size="0x8000", header_offset="0x8000", header_format="mbed-v2"
    )
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    out = project / "build/K64F"
    boot = (out / "bootloader/bootloader.bin").read_bytes()
    segments = fw.load_segments(out / "bootloader/bootloader.elf")
    assert all(s.paddr + s.filesz <= 0x8000 for s in segments if s.filesz)
    assert boot[0x400:0x410] == b"\xff" * 12 + b"\xfe\xff\xff\xff"  # linked at flash start
    combined = (out / "combined.bin").read_bytes()
    assert combined[: len(boot)] == boot
    assert combined[0x8000:] == (out / "app-signed.bin").read_bytes()


def test_bootloader_too_big_for_its_region(fw, tmp_path):
    project = built_bootloader_project(
        fw, tmp_path, bootloader_size="0x1000", header_offset="0x1000", header_format="mbed-v2"
    )
    filler = project / "bootloader" / "filler.c"
    filler.write_text("const unsigned char filler[8192] = {1};\nconst unsigned char *keep = filler;\n")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    assert "bootloader" in result.stderr and "Traceback" not in result.output
    assert not (project / "build/K64F/bootloader/bootloader.elf").exists()
    assert not (project / "build/K64F/combined.bin").exists()


def test_uicr_records_go_into_combined_hex_only(fw, tmp_path):
    """An nRF bootloader .hex sets UICR.NRFFW[0] (0x10001014) to its own address: the
    target declares the UICR, so the record reaches combined.hex, never combined.bin."""
    boot = bootloader_bin(fw, tmp_path, "NRF52840_DK")
    ih = IntelHex()
    ih.puts(0, boot.read_bytes())
    ih.puts(0x10001014, struct.pack("<I", 0xF4000))
    hex_path = tmp_path / "boot_uicr.hex"
    ih.write_hex_file(str(hex_path))
    project = managed_project(fw, tmp_path, "NRF52840_DK", hex_path, header_format="mbed-v2")
    result = fw.run_scons(project, "NRF52840_DK")
    assert result.returncode == 0, result.describe()
    out = project / "build/NRF52840_DK"
    layout = json.loads((out / "layout.json").read_text())
    assert [r["name"] for r in layout["regions"]][0] == "bootloader"
    combined = (out / "combined.bin").read_bytes()
    app_region = next(r for r in layout["regions"] if r["name"] == "header")
    assert len(combined) < app_region["start"] + 0x10000  # no jump to 0x10001014
    as_hex = hex_bytes(out / "combined.hex")
    assert bytes(as_hex[0x10001014 + i] for i in range(4)) == struct.pack("<I", 0xF4000)
    assert all(combined[a] == v for a, v in as_hex.items() if a < 0x10000000)


def test_records_outside_flash_need_a_declared_bank(fw, tmp_path):
    boot = bootloader_bin(fw, tmp_path, "K64F")
    ih = IntelHex()
    ih.puts(0, boot.read_bytes())
    ih.puts(0x10001014, b"\x00\x40\x0f\x00")
    hex_path = tmp_path / "boot_stray.hex"
    ih.write_hex_file(str(hex_path))
    project = managed_project(fw, tmp_path, "K64F", hex_path, header_format="mbed-v2")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    text = " ".join(result.stderr.split())
    assert "bootloader_img: boot_stray.hex holds bytes at 0x10001014..0x10001018" in text, text
    assert "nvm_banks" in text and "Traceback" not in result.output
    assert not (project / "build/K64F").exists() or not list((project / "build/K64F").glob("combined*"))


def test_a_vendor_bsp_through_a_symlink(fw, tmp_path):
    """targets/ links to a vendor BSP whose board file names its bootloader and headers
    with "..": they are the BSP's (the link's target's parent), as the system reads them,
    never the project's files of the same name."""
    boot = bootloader_bin(fw, tmp_path, "MPS2_AN385")
    bsp = tmp_path / "vendor" / "bsp"
    (bsp / "targets").mkdir(parents=True)
    (bsp / "boot").mkdir()
    (bsp / "inc").mkdir()
    (bsp / "boot" / "bootloader.bin").write_bytes(boot.read_bytes())
    (bsp / "inc" / "bsp.h").write_text("#define BSP_ID 7\n")
    board = {
        "inherits": "MPS2_AN385",
        "include_dirs": ["../inc"],
        "bootloader_img": "../boot/bootloader.bin",
        "header_offset": "0x8000",
    }
    (bsp / "targets" / "VENDOR_BOARD.json").write_text(json.dumps(board))
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "targets").symlink_to(Path("..") / "vendor" / "bsp" / "targets")
    (project / "boot").mkdir()  # decoys where ".." would lead if read as text
    (project / "boot" / "bootloader.bin").write_bytes(b"\x55" * len(boot.read_bytes()))
    (project / "app" / "bsp_id.c").write_text('#include "bsp.h"\nint bsp_id = BSP_ID;\n')
    fw.edit_project(project, targets_dirs=["targets"], target_overrides={})  # the board file decides
    result = fw.run_scons(project, "VENDOR_BOARD")
    assert result.returncode == 0, result.describe()
    combined = (project / "build" / "VENDOR_BOARD" / "combined.bin").read_bytes()
    assert combined.startswith(boot.read_bytes()), "combined.bin does not carry the BSP's bootloader"
