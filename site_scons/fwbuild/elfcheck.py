"""Checking where a linked program really landed (read with fwbuild.elfread).

The linker script should put everything in place; this is the independent check that it
did (a hand-written script, a stray section attribute or a wrong template all show here).
"""

from __future__ import annotations

import struct
from pathlib import Path

from fwbuild.elfread import ElfFile, Section, Segment
from fwbuild.errors import ImageError
from fwbuild.layout import Layout, Region
from fwbuild.values import hex32


def check_elf_placement(elf_path: Path | str, layout: Layout, program: str = "application") -> None:
    """Raise ImageError naming the section and addresses if the program is misplaced."""
    from fwbuild.elfread import PT_LOAD, open_elf

    rom = layout.program_region(program)
    elf_path = Path(elf_path)
    with open_elf(elf_path) as elf:
        loads = [s for s in elf.segments if s.type == PT_LOAD and s.memsz]
        sections = [s for s in elf.sections if s.alloc and s.size]
        for seg in loads:
            _check_segment(elf_path, seg, sections, rom, layout)
        _check_forward_word(elf_path, sections, layout)
        vectors = _read(elf, loads, rom.start, 8)
        reserved_found = _reserved_bytes(elf, loads, layout)
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


def _check_segment(path: Path, seg: Segment, sections: list[Section], rom: Region, layout: Layout) -> None:
    paddr, vaddr = seg.paddr, seg.vaddr
    filesz, memsz = seg.filesz, seg.memsz
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


def _check_forward_word(path: Path, sections: list[Section], layout: Layout) -> None:
    """No program may keep data over the word through which a first stage forwards
    exceptions on a core without VTOR: the application's start-up would clear it."""
    if layout.vector_forward is None:
        return
    from fwbuild.layout import VECTOR_FORWARD_SIZE

    start, end = layout.vector_forward, layout.vector_forward + VECTOR_FORWARD_SIZE
    over = [s for s in sections if s.addr < end and start < s.addr + s.size]
    if over:
        names = ", ".join(s.name for s in over)
        raise ImageError(
            f"{path}: {names} covers {hex32(start)}..{hex32(end)}, the word of RAM bank {layout.main_ram} "
            f"through which the first stage forwards exceptions ({layout.target} has no VTOR); "
            "link RAM from the template's main_ram and ram, which leave it out, as the shipped "
            "template does (docs/layouts.md)"
        )


def _reserved_bytes(elf: ElfFile, loads: list[Segment], layout: Layout) -> dict[int, int]:
    """{address: byte} the load segments give at the target's reserved addresses."""
    out = {}
    for reserved in layout.reserved:
        start = layout.flash_start + reserved.offset
        for seg in loads:
            low, high = max(start, seg.paddr), min(start + len(reserved.data), seg.paddr + seg.filesz)
            if low < high:
                data = elf.segment_data(seg)[low - seg.paddr : high - seg.paddr]
                out.update(zip(range(low, high), data))
    return out


def _sections_in(sections: list[Section], vaddr: int, memsz: int) -> str:
    return ", ".join(s.name for s in sections if vaddr <= s.addr < vaddr + memsz)


def _read(elf: ElfFile, loads: list[Segment], address: int, size: int) -> bytes | None:
    for seg in loads:
        if seg.paddr <= address and address + size <= seg.paddr + seg.filesz:
            offset = seg.offset + address - seg.paddr
            return elf.read(offset, size)
    return None


def read_flash_bytes(elf_path: Path | str, address: int, size: int) -> bytes | None:
    """The bytes a programmer would write at ``address`` (load addresses), or None."""
    from fwbuild.elfread import PT_LOAD, open_elf

    with open_elf(elf_path) as elf:
        return _read(elf, [s for s in elf.segments if s.type == PT_LOAD], address, size)


def program_symbols(path: Path | str) -> list[tuple[str, int, str]]:
    """(name, address, "function" | "object") of a program's named functions and data."""
    from fwbuild.elfread import SHN_UNDEF, STT_FUNC, STT_OBJECT, open_elf

    kinds = {STT_FUNC: "function", STT_OBJECT: "object"}
    with open_elf(path) as elf:
        out = {
            (symbol.name, symbol.value, kinds[symbol.type])
            for symbol in elf.symbols()
            if symbol.type in kinds and symbol.name and symbol.shndx != SHN_UNDEF
        }
    return sorted(out)
