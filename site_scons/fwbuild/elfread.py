"""A small reader of 32-bit little-endian ELF files (every Cortex-M program), for the steps
that run after each link: the placement check, the memory map and combined.elf.

Why not pyelftools here: importing it costs about 100 ms, and asking it for a symbol by
name indexes the whole symbol table. Measured on a 2,000-file K64F program (26,058
symbols, 4.6 MB ELF): pyelftools' program_sizes 1.3 s, this reader 6 ms. It reads the ELF
header, the section and program headers, and only the section bytes a caller asks for.
Tests still read ELF files with pyelftools, independently of this module.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from fwbuild.errors import ImageError

SHF_ALLOC = 0x2
SHT_SYMTAB = 2
SHT_NOBITS = 8
PT_LOAD = 1
STT_OBJECT = 1
STT_FUNC = 2
SHN_UNDEF = 0
SHN_XINDEX = 0xFFFF

_HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
_SECTION = struct.Struct("<10I")
_SEGMENT = struct.Struct("<8I")
_SYMBOL = struct.Struct("<IIIBBH")


class ElfFormatError(ImageError):
    """Not an ELF file this reader understands (truncated, 64-bit, big-endian)."""


class Section(NamedTuple):
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


class Segment(NamedTuple):
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


class Symbol(NamedTuple):
    name: str
    value: int
    size: int
    type: int  # STT_*
    shndx: int


class ElfFile:
    """An open ELF file: headers parsed at once, section bytes read on demand."""

    def __init__(self, stream: BinaryIO, path: Path | str) -> None:
        self._stream = stream
        self.path = Path(path)
        head = self.read(0, _HEADER.size)
        ident = head[:16]
        if ident[:4] != b"\x7fELF":
            raise ElfFormatError(f"{self.path}: not a valid ELF file (no ELF magic)")
        if ident[4] != 1 or ident[5] != 1:
            raise ElfFormatError(
                f"{self.path}: not a valid ELF file for a Cortex-M core (it is not 32-bit little-endian)"
            )
        fields = _HEADER.unpack(head)
        phoff, shoff = fields[5], fields[6]
        phentsize, phnum, shentsize, shnum, shstrndx = fields[9:14]
        raw_sections = []
        if shoff:
            first = _SECTION.unpack(self.read(shoff, _SECTION.size))
            if shnum == 0:  # extended numbering: the count is in section 0's size
                shnum = first[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = first[6]
            table = self.read(shoff, shnum * shentsize)
            raw_sections = [_SECTION.unpack_from(table, i * shentsize) for i in range(shnum)]
        names = b""
        if 0 < shstrndx < len(raw_sections):
            strtab = raw_sections[shstrndx]
            names = self.read(strtab[4], strtab[5])
        self.sections = [
            Section(_name(names, s[0]), s[1], s[2], s[3], s[4], s[5], s[6], s[9]) for s in raw_sections
        ]
        table = self.read(phoff, phnum * phentsize) if phoff and phnum else b""
        self.segments = [
            Segment(*_SEGMENT.unpack_from(table, i * phentsize)[:6]) for i in range(phnum if table else 0)
        ]

    def __enter__(self) -> ElfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()

    def read(self, offset: int, size: int) -> bytes:
        self._stream.seek(offset)
        data = self._stream.read(size)
        if len(data) != size:
            raise ElfFormatError(
                f"{self.path}: not a valid ELF file (truncated: {size} bytes at offset {offset} "
                "lie past its end)"
            )
        return data

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def section_data(self, section: Section) -> bytes:
        return b"" if section.type == SHT_NOBITS else self.read(section.offset, section.size)

    def segment_data(self, segment: Segment) -> bytes:
        return self.read(segment.offset, segment.filesz)

    def _symbol_table(self) -> tuple[bytes, bytes] | None:
        table = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if table is None or not 0 < table.link < len(self.sections):
            return None
        return self.section_data(table), self.section_data(self.sections[table.link])

    def symbol_values(self, names: Iterable[str]) -> dict[str, int]:
        """{name: value} of the first symbol of each name that exists. Names are found as
        offsets into the string table, and those offsets as entries' first word in the symbol
        table, with bytes.find: no name is decoded, no entry unpacked but the matches."""
        found = self._symbol_table()
        if found is None:
            return {}
        symbols, strings = found
        values: dict[str, int] = {}
        for name in names:
            needle = name.encode("latin-1") + b"\0"
            first = None  # (index in the table, value) of the first symbol of that name
            at = strings.find(needle)
            while at >= 0:  # every offset at which the name starts (ends of longer names too)
                key = struct.pack("<I", at)
                pos = symbols.find(key)
                while pos >= 0 and pos % _SYMBOL.size:  # a match inside an entry: not a name
                    pos = symbols.find(key, pos + 1)
                if pos >= 0 and (first is None or pos < first[0]):
                    first = (pos, _SYMBOL.unpack_from(symbols, pos)[1])
                at = strings.find(needle, at + 1)
            if first is not None:
                values[name] = first[1]
        return values

    def symbols(self) -> Iterator[Symbol]:
        found = self._symbol_table()
        if found is None:
            return
        symbols, strings = found
        for st_name, value, size, info, _, shndx in _SYMBOL.iter_unpack(symbols[: len(symbols) // 16 * 16]):
            yield Symbol(_name(strings, st_name), value, size, info & 0xF, shndx)


def _name(strings: bytes, offset: int) -> str:
    end = strings.find(b"\0", offset)
    return strings[offset : end if end >= 0 else len(strings)].decode("latin-1")


def open_elf(path: Path | str) -> ElfFile:
    """The parsed file, open for reading section bytes: use it in a ``with`` block."""
    stream = open(path, "rb")  # noqa: SIM115 - ElfFile closes it
    try:
        return ElfFile(stream, path)
    except BaseException:
        stream.close()
        raise
