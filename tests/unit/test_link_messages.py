"""ld's overflow messages read and said in the layout's terms (fwbuild.linker)."""

from __future__ import annotations

import re

from fwbuild.layout import compute_layout
from fwbuild.linker import Overflow, ld_overflows, memory_region_name, overflow_error
from fwbuild.targets import Sourced, TargetSet

LD = "/usr/lib/gcc/arm-none-eabi/12.2.1/../../../arm-none-eabi/bin/ld"


def resolved(target, **keys):
    sourced = {k: Sourced(v, "fwbuild.json") for k, v in keys.items()}
    return compute_layout(TargetSet().resolve(target, sourced)), sourced


def test_both_quote_styles_and_the_other_lines():
    text = "\n".join(
        [
            f"{LD}: build/K64F/app.elf.tmp section `.rodata' will not fit in region `FLASH'",
            f"{LD}: section '.text' will not fit in region 'FLASH'",
            f"{LD}: region `FLASH' overflowed by 5880 bytes",
            f"{LD}: region 'SRAM_U' overflowed by 12 bytes",
            f"{LD}: main.o: in function `main': undefined reference to `missing'",
            "collect2: error: ld returned 1 exit status",
        ]
    )
    found, other = ld_overflows(text)
    assert found == [Overflow("FLASH", 5880, (".rodata", ".text")), Overflow("SRAM_U", 12, ())]
    assert other == [f"{LD}: main.o: in function `main': undefined reference to `missing'"]


def test_nothing_to_translate():
    assert ld_overflows(f"{LD}: cannot find -lfoo\n") == ([], [f"{LD}: cannot find -lfoo"])


def test_ram_bank_names_as_the_template_writes_them():
    assert memory_region_name("SRAM_U") == "SRAM_U"
    assert memory_region_name("ccm-ram") == "CCM_RAM"
    assert memory_region_name("2nd") == "_2ND"


def test_restrict_size_on_a_chip_whose_flash_starts_at_0x08000000():
    """Offsets are relative to the flash start, and so is the suggested candidate_offset;
    the region must end on a sector boundary: the next one is 0x08040000 (128 KiB sectors
    from 0x08020000)."""
    layout, keys = resolved(
        "NUCLEO_F429ZI",
        bootloader_img="@bootloader",
        bootloader_size="0x10000",
        header_offset="0x10000",
        app_offset="0x10400",
        restrict_size="0x10000",
        candidate_offset="0x20000",
    )
    app = layout.application
    text = str(overflow_error("app.elf", Overflow("FLASH", 0x100, (".text",)), layout, "application", keys))
    assert f"needs {app.size + 0x100} bytes" in text and "(.text did not fit)" in text, text
    assert "restrict_size (now '0x10000', set in fwbuild.json): set it to at least 0x2fc00" in text, text
    assert "candidate_offset to at least 0x40000" in text, text
    assert re.search(r"0x0801[0-9A-F]{4}\.\.0x0802", text), text


def test_the_application_already_runs_to_the_end_of_flash():
    layout, keys = resolved("K64F", app_offset="0x8000")
    text = str(overflow_error("app.elf", Overflow("FLASH", 10, ()), layout, "application", keys))
    assert "app_offset (now '0x8000', set in fwbuild.json)" in text, text
    assert "holds only 1015808 bytes: start the application lower" in text, text


def test_bootloader_region():
    layout, keys = resolved("K64F", bootloader_img="@bootloader", bootloader_size="0x4000")
    text = str(overflow_error("bootloader.elf", Overflow("FLASH", 1, ()), layout, "bootloader", keys))
    assert "bootloader_size (now '0x4000', set in fwbuild.json): set it to at least 0x5000" in text, text


def test_unknown_memory_region():
    layout, keys = resolved("K64F")
    text = str(overflow_error("app.elf", Overflow("EXTFLASH", 64, ()), layout, "application", keys))
    assert "region EXTFLASH overflowed by 64 bytes" in text and "MEMORY" in text, text
