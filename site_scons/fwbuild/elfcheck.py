"""Checking where a linked program really landed, with pyelftools.

The linker script should put everything in place; this is the independent check that it
did (a hand-written script, a stray section attribute or a wrong template all show here).
"""

from __future__ import annotations

import struct
from pathlib import Path

from fwbuild.errors import ImageError
from fwbuild.layout import Layout, Region
from fwbuild.values import hex32


def check_elf_placement(elf_path: Path | str, layout: Layout, program: str = "application") -> None:
    """Raise ImageError naming the section and addresses if the program is misplaced."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    rom = layout.program_region(program)
    elf_path = Path(elf_path)
    try:
        with elf_path.open("rb") as stream:
            elf = ELFFile(stream)
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_memsz"]]
            sections = [s for s in elf.iter_sections() if s["sh_flags"] & 0x2 and s["sh_size"]]
            for seg in loads:
                _check_segment(elf_path, seg, sections, rom, layout)
            _check_forward_word(elf_path, sections, layout)
            vectors = _read(loads, rom.start, 8)
            reserved_found = _reserved_bytes(loads, layout)
    except ELFError as exc:
        raise ImageError(f"{elf_path}: not a valid ELF file ({exc})") from None
    if vectors is None:
        raise ImageError(
            f"{elf_path}: no vector table at the {program} start {hex32(rom.start)}; "
            "the start-up code must put it in section .isr_vector, which the linker script "
            "places first"
        )
    sp, reset = struct.unpack("<II", vectors)
    banks = [b for b in layout.ram if b.start < sp <= b.end]
    if sp % 8 or not banks:
        where = ", ".join(f"{b.name} {hex32(b.start)}..{hex32(b.end)}" for b in layout.ram)
        raise ImageError(
            f"{elf_path}: initial stack pointer {hex32(sp)} (vector 0 at {hex32(rom.start)}) "
            f"is not an 8-byte aligned address inside a RAM bank ({where}); "
            "point it at the end of RAM (__StackTop)"
        )
    if not reset & 1 or not rom.start <= (reset & ~1) < rom.end:
        raise ImageError(
            f"{elf_path}: reset vector {hex32(reset)} (vector 1 at {hex32(rom.start + 4)}) "
            f"must be a Thumb address (odd) inside {rom.describe()}; check Reset_Handler"
        )
    _check_reserved(elf_path, reserved_found, rom, layout)


def _check_reserved(elf_path: Path, flash: dict[int, int], rom: Region, layout: Layout) -> None:
    """A chip's reserved bytes inside the program's region (K64F's flash configuration
    field, for a program at the flash start) must be in the program, exactly. Left out,
    they become whatever fills the gap (the erased value when flashed from the .hex, zeros
    in objcopy's .bin), which can lock the chip."""
    for reserved in layout.reserved:
        start = layout.flash_start + reserved.offset
        if not rom.start <= start < rom.end:
            continue
        found = [flash.get(start + i) for i in range(len(reserved.data))]
        if found == list(reserved.data):
            continue
        shown = "".join("--" if b is None else f"{b:02x}" for b in found)
        end = start + len(reserved.data)
        raise ImageError(
            f"{elf_path}: {layout.target}'s {reserved.name} {hex32(start)}..{hex32(end)} "
            f"holds {shown} ('--': no byte) where the chip needs {reserved.data.hex()} "
            f"({reserved.description or 'chip-defined bytes'}); the linker template must place each "
            "of `reserved` at its offset, as the shipped template does (docs/linker-templates.md)"
        )


def _check_segment(path: Path, seg, sections, rom: Region, layout: Layout) -> None:  # noqa: ANN001
    paddr, vaddr = seg["p_paddr"], seg["p_vaddr"]
    filesz, memsz = seg["p_filesz"], seg["p_memsz"]
    names = _sections_in(sections, vaddr, memsz) or "(no named section)"
    if filesz and not (rom.start <= paddr and paddr + filesz <= rom.end):
        raise ImageError(
            f"{path}: {names} loads at {hex32(paddr)}..{hex32(paddr + filesz)}, outside "
            f"{rom.describe()}; a section placed outside the linker script's FLASH region "
            "(check section attributes and the linker script)"
        )
    in_rom = rom.start <= vaddr and vaddr + memsz <= rom.end
    in_ram = any(b.start <= vaddr and vaddr + memsz <= b.end for b in layout.ram)
    if not (in_rom or in_ram):
        raise ImageError(
            f"{path}: {names} runs at {hex32(vaddr)}..{hex32(vaddr + memsz)}, which is "
            f"neither in {rom.describe()} nor in a RAM bank; check the linker script"
        )


def _check_forward_word(path: Path, sections, layout: Layout) -> None:  # noqa: ANN001
    """No program may keep data over the word through which a first stage forwards
    exceptions on a core without VTOR: the application's start-up would clear it."""
    if layout.vector_forward is None:
        return
    from fwbuild.layout import VECTOR_FORWARD_SIZE

    start, end = layout.vector_forward, layout.vector_forward + VECTOR_FORWARD_SIZE
    over = [s for s in sections if s["sh_addr"] < end and start < s["sh_addr"] + s["sh_size"]]
    if over:
        names = ", ".join(s.name for s in over)
        raise ImageError(
            f"{path}: {names} covers {hex32(start)}..{hex32(end)}, the word of RAM bank {layout.main_ram} "
            f"through which the first stage forwards exceptions ({layout.target} has no VTOR); "
            "link RAM from the template's main_ram and ram, which leave it out, as the shipped "
            "template does (docs/layouts.md)"
        )


def _reserved_bytes(loads, layout: Layout) -> dict[int, int]:  # noqa: ANN001
    """{address: byte} the load segments give at the target's reserved addresses."""
    out = {}
    for reserved in layout.reserved:
        start = layout.flash_start + reserved.offset
        for seg in loads:
            low, high = (
                max(start, seg["p_paddr"]),
                min(start + len(reserved.data), seg["p_paddr"] + seg["p_filesz"]),
            )
            if low < high:
                data = seg.data()[low - seg["p_paddr"] : high - seg["p_paddr"]]
                out.update(zip(range(low, high), data))
    return out


def _sections_in(sections, vaddr: int, memsz: int) -> str:  # noqa: ANN001
    return ", ".join(s.name for s in sections if vaddr <= s["sh_addr"] < vaddr + memsz)


def _read(loads, address: int, size: int) -> bytes | None:  # noqa: ANN001
    for seg in loads:
        start = seg["p_paddr"]
        if start <= address and address + size <= start + seg["p_filesz"]:
            offset = address - start
            return seg.data()[offset : offset + size]
    return None


def read_flash_bytes(elf_path: Path | str, address: int, size: int) -> bytes | None:
    """The bytes a programmer would write at ``address`` (load addresses), or None."""
    from elftools.elf.elffile import ELFFile

    with Path(elf_path).open("rb") as stream:
        loads = [s for s in ELFFile(stream).iter_segments() if s["p_type"] == "PT_LOAD"]
        return _read(loads, address, size)


def program_symbols(path: Path | str) -> list[tuple[str, int, str]]:
    """(name, address, "function" | "object") of a program's named functions and data."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out = []
    with open(path, "rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        if not isinstance(table, SymbolTableSection):
            return out
        for symbol in table.iter_symbols():
            kind = {"STT_FUNC": "function", "STT_OBJECT": "object"}.get(symbol["st_info"]["type"])
            if kind and symbol.name and symbol["st_shndx"] != "SHN_UNDEF":
                out.append((symbol.name, symbol["st_value"], kind))
    return sorted(set(out))
