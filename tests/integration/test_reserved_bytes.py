"""The chip's reserved bytes (K64F's flash configuration field, 0x400..0x410) in every
image that covers them: written by the merge where no image gives them, refused where an
image gives other bytes. An erased field (FSEC 0xFF) secures the chip."""

from __future__ import annotations

import struct

import pytest
from intelhex import IntelHex

K64F_FLASH_CONFIG = bytes([0xFF] * 12) + struct.pack("<I", 0xFFFFFFFE)
BOOT_PROJECT = "boot_at_zero"


@pytest.fixture(scope="module")
def real_bootloader(fw, tmp_path_factory):
    """A small real program linked at the K64F flash start (it carries the right field),
    built on first use, in a test body."""
    cache = []

    def get() -> bytes:
        if not cache:
            project = fw.copy_project(fw.PROJECTS / BOOT_PROJECT, tmp_path_factory.mktemp("boot") / "boot")
            result = fw.run_scons(project, "K64F")
            assert result.returncode == 0, result.describe()
            image = (project / "build" / "K64F" / "app.bin").read_bytes()
            assert len(image) > 0x410 and image[0x400:0x410] == K64F_FLASH_CONFIG
            cache.append(image)
        return cache[0]

    return get


def merged_with(fw, tmp_path, boot: bytes):
    """The example with ``boot`` as a prebuilt .bin bootloader and an Mbed header."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot").mkdir()
    (project / "boot" / "boot.bin").write_bytes(boot)
    fw.set_overrides(project, "K64F", bootloader_img="boot/boot.bin", header_format="mbed-v2")
    return project, fw.run_scons(project, "K64F")


def hex_range(path, start, size) -> bytes | None:
    ih = IntelHex(str(path))
    if any(ih[a] is None or a not in ih.addresses() for a in range(start, start + size)):
        return None
    return bytes(ih[a] for a in range(start, start + size))


@pytest.mark.parametrize(
    ("size", "filled"),
    [(0x200, "0x00000400..0x00000410"), (0x40C, "0x0000040C..0x00000410"), (0x400, "0x00000400..0x00000410")],
    ids=["0x200 bytes", "0x40C bytes", "0x400 bytes"],
)
def test_short_bootloader_gets_the_chip_bytes(fw, tmp_path, real_bootloader, size, filled):
    boot = real_bootloader()[:size]
    project, result = merged_with(fw, tmp_path, boot)
    assert result.returncode == 0, result.describe()
    out = project / "build" / "K64F"
    combined = (out / "combined.bin").read_bytes()
    assert combined[0x400:0x410] == K64F_FLASH_CONFIG, combined[0x400:0x410].hex()
    assert combined[:size] == boot  # the bootloader's own bytes are untouched
    assert set(combined[size:0x400]) <= {0xFF} and set(combined[0x410:0x1000]) == {0xFF}  # erased gap
    assert hex_range(out / "combined.hex", 0x400, 16) == K64F_FLASH_CONFIG
    notes = [
        line for line in fw.log_lines(result.stdout) if line.startswith("note:") and "flash_config" in line
    ]
    assert len(notes) == 1 and filled in notes[0] and "no image gives these bytes" in notes[0], (
        result.describe()
    )


def test_full_bootloader_needs_no_fill(fw, tmp_path, real_bootloader):
    boot = real_bootloader()
    project, result = merged_with(fw, tmp_path, boot)
    assert result.returncode == 0, result.describe()
    assert "flash_config" not in result.stdout, result.describe()
    assert (project / "build/K64F/combined.bin").read_bytes()[: len(boot)] == boot


@pytest.mark.parametrize(
    ("patch", "end", "first_wrong"),
    [
        (bytes([0xFF] * 16), None, 0x40C),  # an erased field: FSEC 0xFF secures the chip
        (bytes(16), None, 0x400),  # a zeroed backdoor key
        (bytes(8), 0x408, 0x400),  # a bootloader that stops inside the field, with wrong bytes
    ],
    ids=["FSEC erased", "zeros", "cut inside the field"],
)
def test_wrong_bytes_in_the_field_are_refused(fw, tmp_path, real_bootloader, patch, end, first_wrong):
    boot = bytearray(real_bootloader())
    boot[0x400 : 0x400 + len(patch)] = patch
    boot = bytes(boot[:end] if end else boot)
    project, result = merged_with(fw, tmp_path, boot)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    for word in ("boot.bin", "flash_config", "0x00000400..0x00000410", f"at 0x{first_wrong:08X}"):
        assert word in err, err
    assert not (project / "build/K64F/combined.bin").exists()
    assert not (project / "build/K64F/combined.hex").exists()


def test_application_at_the_flash_start_carries_the_field(fw, tmp_path):
    """Without a bootloader the application is linked over the field: the linker template
    puts the chip's bytes there, in the ELF, the .bin and the .hex."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "K64F")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    out = project / "build" / "K64F"
    assert fw.flash_bytes(fw.load_segments(out / "app.elf"), 0x400, 16) == K64F_FLASH_CONFIG
    assert (out / "app.bin").read_bytes()[0x400:0x410] == K64F_FLASH_CONFIG
    assert hex_range(out / "app.hex", 0x400, 16) == K64F_FLASH_CONFIG


def test_cut_hex_bootloader_is_refused(fw, tmp_path, real_bootloader):
    """A .hex bootloader cut at a line boundary (no end-of-file record) is not half a
    bootloader: the build stops naming the file, and writes no merged image."""
    boot = real_bootloader()
    ih = IntelHex()
    ih.puts(0, boot)
    full = tmp_path / "full.hex"
    ih.write_hex_file(str(full))
    lines = full.read_text().splitlines()
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot").mkdir()
    (project / "boot" / "boot.hex").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    fw.set_overrides(project, "K64F", bootloader_img="boot/boot.hex", header_format="mbed-v2")
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    assert "boot.hex" in err and "no end-of-file record" in err, err
    assert not (project / "build/K64F/combined.bin").exists()

    (project / "boot" / "boot.hex").write_text(full.read_text())  # the whole file builds
    again = fw.run_scons(project, "K64F")
    assert again.returncode == 0, again.describe()
    assert (project / "build/K64F/combined.bin").read_bytes()[: len(boot)] == boot


RESERVED_LOOP = '{%- for res in reserved|sort(attribute="offset") %}'
LOOPS = {
    "left out": "{%- for res in [] %}",
    "FSEC erased": "{%- for res in [dict(reserved[0], data=[255] * 16)] %}",
}


@pytest.mark.parametrize("loop", LOOPS.values(), ids=LOOPS.keys())
def test_program_linked_over_the_field_without_its_bytes(fw, tmp_path, loop):
    """A template that does not place the chip's bytes (or places others) at 0x400: the
    program linked at the flash start is refused and deleted, whatever it would have held."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    text = fw.TEMPLATE.read_text()
    assert text.count(RESERVED_LOOP) == 1, (
        f"{fw.TEMPLATE} no longer holds {RESERVED_LOOP!r}: update this test"
    )
    (project / "own.ld.j2").write_text(text.replace(RESERVED_LOOP, loop))
    fw.edit_project(project, linker_template="own.ld.j2")
    fw.set_overrides(project, "K64F")  # the plain layout: the application at the flash start
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2 and "Traceback" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    assert "app.elf" in err and "flash_config 0x00000400..0x00000410" in err, err
    assert K64F_FLASH_CONFIG.hex() in err, err
    for name in ("app.elf", "app.bin", "app.hex"):
        assert not (project / "build" / "K64F" / name).exists()
