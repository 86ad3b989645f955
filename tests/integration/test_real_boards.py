"""The real boards users have (NUCLEO_F746ZG, NUCLEO_H743ZI, NUCLEO_L552ZE_Q, LPC55S69):
the example (bootloader + signed application + update slot) builds for each with the layout
in example_project/fwbuild.json, its programs lie in their regions, and every slot starts
and ends on an erase sector of the chip. The sector maps here are written out from the
vendors' reference manuals, independently of the target files."""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass

import pytest

KIB = 1024


@dataclass(frozen=True)
class Chip:
    flash_start: int
    flash_size: int
    boundaries: frozenset[int]  # every erase-sector boundary, flash end included
    main_ram: tuple[int, int]  # start, size: where the initial stack pointer must lie


def runs(start: int, *sizes: tuple[int, int]) -> frozenset[int]:
    """Sector boundaries from (count, size) runs, as a reference manual's table lists them."""
    edges = [start]
    for count, size in sizes:
        for _ in range(count):
            edges.append(edges[-1] + size)
    return frozenset(edges)


CHIPS = {
    # RM0385: sectors 0-3 of 32 KiB, 4 of 128 KiB, 5-7 of 256 KiB; SRAM1 240 KiB
    "NUCLEO_F746ZG": Chip(
        0x0800_0000,
        1024 * KIB,
        runs(0x0800_0000, (4, 32 * KIB), (1, 128 * KIB), (3, 256 * KIB)),
        (0x2001_0000, 240 * KIB),
    ),
    # RM0433: two banks of 8 x 128 KiB sectors; AXI SRAM 512 KiB
    "NUCLEO_H743ZI": Chip(
        0x0800_0000, 2048 * KIB, runs(0x0800_0000, (16, 128 * KIB)), (0x2400_0000, 512 * KIB)
    ),
    # RM0438: dual-bank mode, 256 pages of 2 KiB; SRAM1 192 KiB
    "NUCLEO_L552ZE_Q": Chip(
        0x0800_0000, 512 * KIB, runs(0x0800_0000, (256, 2 * KIB)), (0x2000_0000, 192 * KIB)
    ),
    # UM11126: 512-byte pages up to 0x9D800 (above: reserved and protected flash); SRAM0-3
    "LPC55S69": Chip(0, 630 * KIB, runs(0, (1260, 512)), (0x2000_0000, 256 * KIB)),
}
BOARDS = sorted(CHIPS)
SLOT_LIKE = ("bootloader", "header", "candidate", "post_application")


@pytest.mark.parametrize("board", BOARDS)
def test_regions_lie_on_the_vendors_sectors(example_build, board):
    chip = CHIPS[board]
    layout = example_build(board).layout()
    assert layout["mode"] == "managed"
    assert (layout["flash"]["start"], layout["flash"]["size"]) == (chip.flash_start, chip.flash_size)
    regions = {r["name"]: r for r in layout["regions"]}
    assert {"bootloader", "header", "application", "candidate"} <= set(regions), regions
    for name in SLOT_LIKE:
        if name in regions:
            assert regions[name]["start"] in chip.boundaries, f"{name} starts off a sector: {regions[name]}"
    for name in ("bootloader", "application", "candidate"):
        end = regions[name]["start"] + regions[name]["size"]
        assert end in chip.boundaries, f"{name} ends at {end:#x}, inside a sector"
    slot = regions["application"]["start"] + regions["application"]["size"] - regions["header"]["start"]
    assert regions["candidate"]["size"] >= slot
    flash_end = chip.flash_start + chip.flash_size
    assert all(r["start"] + r["size"] <= flash_end for r in layout["regions"])


def test_h743_update_slot_is_the_second_bank(example_build):
    """The candidate fills bank 2, so the bootloader can copy it while running from bank 1."""
    candidate = example_build("NUCLEO_H743ZI").region("candidate")
    assert candidate["start"] == 0x0810_0000


@pytest.mark.parametrize("board", BOARDS)
def test_programs_lie_in_their_regions(fw, example_build, board):
    """What the build's ELF placement check guarantees, read again with pyelftools."""
    build = example_build(board)
    loader = build.dir / "bootloader" / "bootloader.elf"
    for elf, region in ((build.elf, "application"), (loader, "bootloader")):
        r = build.region(region)
        loads = [s for s in fw.load_segments(elf) if s.filesz]
        assert loads, f"{elf} has no loadable bytes"
        for seg in loads:
            assert r["start"] <= seg.paddr and seg.paddr + seg.filesz <= r["start"] + r["size"], (
                f"{elf.name}: bytes at {seg.paddr:#x}+{seg.filesz:#x} outside {region} {r}"
            )
    first = min((s for s in fw.load_segments(build.elf) if s.filesz), key=lambda s: s.paddr)
    assert first.paddr == build.region("application")["start"]
    sp, reset = struct.unpack("<II", first.data[:8])
    ram_start, ram_size = CHIPS[board].main_ram
    assert ram_start < sp <= ram_start + ram_size, f"initial SP {sp:#x} outside the main RAM"
    assert reset & 1


@pytest.mark.parametrize("board", BOARDS)
def test_combined_image_and_signature(fw, example_build, board):
    """combined.bin is the bootloader, erased filler, then the slot image; the slot image
    verifies with the target's own geometry."""
    build = example_build(board)
    combined = (build.dir / "combined.bin").read_bytes()
    signed = (build.dir / "app-signed.bin").read_bytes()
    loader = (build.dir / "bootloader" / "bootloader.bin").read_bytes()
    header = build.region("header")["start"] - CHIPS[board].flash_start
    assert combined[: len(loader)] == loader
    assert set(combined[len(loader) : header]) <= {0xFF}
    assert combined[header:] == signed
    image = build.dir / "app-signed.bin"
    check = fw.run_fwbuild("verify", image, "--target", board, "--project", build.project)
    assert check.returncode == 0, check.describe()


def test_lpc55_page_writes_refuse_a_swap_trailer(fw, example_build, tmp_path):
    """LPC55S69 flash is written in whole 512-byte pages. The example's overwrite-style image
    signs as is; MCUboot's swap trailer knows write sizes up to 32 bytes, so asking for one
    (signing.pad) is one clear error, not a wrong trailer."""
    build = example_build("LPC55S69")
    project = tmp_path / "padded"
    shutil.copytree(fw.EXAMPLE / "keys", project / "keys")
    config = json.loads((fw.EXAMPLE / "fwbuild.json").read_text())
    config["signing"]["pad"] = True
    (project / "fwbuild.json").write_text(json.dumps(config, indent=2) + "\n")
    key = project / "keys" / "dev-ed25519-key.pem"
    out = tmp_path / "out.bin"
    sign = ["sign", build.dir / "app.bin", out, "--key", key, "--version", "1.0.0"]
    result = fw.run_fwbuild(*sign, "--target", "LPC55S69", "--project", project)
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("error:") and "512" in result.stderr and "pad" in result.stderr
    assert "Traceback" not in result.output and not out.exists()
