"""Where the bytes went: region usage, program section sizes, the memory-map picture and
the per-object size report (from the linker's .map file)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from fwbuild.layout import Layout
from fwbuild.values import hex32

FULL_WARNING = 0.90


@dataclass(frozen=True)
class RegionUse:
    name: str
    start: int
    size: int
    used: int
    kind: str  # "flash" | "ram"

    @property
    def fraction(self) -> float:
        return self.used / self.size if self.size else 0.0


@dataclass(frozen=True)
class ProgramSizes:
    text: int  # code and constants in flash (vector table included)
    data: int  # initialised data: in RAM, with its initial values in flash
    bss: int  # zero-initialised and .noinit data
    heap: int
    stack: int

    @property
    def ram(self) -> int:
        return self.data + self.bss + self.heap + self.stack


def program_sizes(elf_path: Path | str) -> ProgramSizes:
    """Section sizes of a linked program, read with pyelftools."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    text = data = bss = heap = 0
    symbols: dict[str, int] = {}
    with open(elf_path, "rb") as stream:
        elf = ELFFile(stream)
        for section in elf.iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or not section["sh_size"]:
                continue
            name, size = section.name, section["sh_size"]
            if name == ".heap":
                heap += size
            elif name == ".data":
                data += size
            elif section["sh_type"] == "SHT_NOBITS":
                bss += size
            else:
                text += size
        table = elf.get_section_by_name(".symtab")
        if isinstance(table, SymbolTableSection):
            for name in ("__StackTop", "__StackLimit"):
                found = table.get_symbol_by_name(name)
                if found:
                    symbols[name] = found[0]["st_value"]
    stack = symbols.get("__StackTop", 0) - symbols.get("__StackLimit", 0)
    return ProgramSizes(text, data, bss, heap, max(stack, 0))


def region_usage(
    layout: Layout, flash_used: Mapping[str, int], ram_used: Mapping[str, int]
) -> list[RegionUse]:
    uses = [
        RegionUse(r.name, r.start, r.size, min(flash_used.get(r.name, 0), r.size), "flash")
        for r in layout.regions
    ]
    uses += [
        RegionUse(b.name, b.start, b.size, min(ram_used.get(b.name, 0), b.size), "ram") for b in layout.ram
    ]
    return uses


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB".replace(".0 KiB", " KiB")
    return f"{n} B"


def summary_lines(layout: Layout, uses: Sequence[RegionUse], app: ProgramSizes) -> list[str]:
    """The terminal summary: one line per region with a usage bar, then the application's
    sections; a warning line for each region over 90 % full."""
    lines = [f"{layout.target} memory ({layout.mode}):"]
    width = max(len(u.name) for u in uses) + 4
    for use in uses:
        filled = round(10 * use.fraction)
        bar = "#" * filled + "." * (10 - filled)
        label = use.name if use.kind == "flash" else f"ram {use.name}"
        lines.append(
            f"  {label:<{width}} {hex32(use.start)}..{hex32(use.start + use.size)} {_size(use.size):>9} "
            f"used {_size(use.used):>9} free {_size(use.size - use.used):>9} "
            f"[{bar}] {100 * use.fraction:3.0f}%"
        )
    lines.append(
        f"  app: .text {_size(app.text)}, .data {_size(app.data)}, .bss {_size(app.bss)}, "
        f"heap {_size(app.heap)}, stack {_size(app.stack)}"
    )
    for use in uses:
        if use.fraction > FULL_WARNING and use.name != "header":  # a header fills its region
            label = use.name if use.kind == "flash" else f"RAM bank {use.name}"
            lines.append(
                f"warning: {label} is {100 * use.fraction:.0f}% full ({_size(use.size - use.used)} left)"
            )
    return lines


def memory_svg(layout: Layout, uses: Sequence[RegionUse]) -> str:
    """Flash and RAM drawn to scale, one column each; every region labelled with its name,
    start address and size, its used part shaded. Small regions get a minimum height."""
    column_height, min_height, width = 640, 22, 260
    parts = []
    columns = [
        ("flash", [u for u in uses if u.kind == "flash"]),
        ("ram", [u for u in uses if u.kind == "ram"]),
    ]
    for index, (kind, items) in enumerate(columns):
        x = 40 + index * (width + 260)
        total = sum(u.size for u in items) or 1
        heights = [max(min_height, column_height * u.size / total) for u in items]
        scale = column_height / sum(heights)
        y = 60.0
        title = f"{'Flash' if kind == 'flash' else 'RAM'}"
        parts.append(f'<text x="{x}" y="40" class="title">{title}</text>')
        # highest address on top, as memory maps are drawn
        for use, height in sorted(zip(items, heights), key=lambda p: -p[0].start):
            h = height * scale
            used_h = h * use.fraction
            parts.append(
                f'<g class="region" data-name="{escape(use.name)}" data-start="{hex32(use.start)}" '
                f'data-size="{use.size}" data-used="{use.used}">'
                f'<rect x="{x}" y="{y:.1f}" width="{width}" height="{h:.1f}" class="free"/>'
                f'<rect x="{x}" y="{y + h - used_h:.1f}" width="{width}" height="{used_h:.1f}" class="used"/>'
                f'<text x="{x + width + 8}" y="{y + min(h, 40) / 2 + 4:.1f}">{escape(use.name)} '
                f"{hex32(use.start)} {escape(_size(use.size))} ({100 * use.fraction:.0f}% used)</text>"
                "</g>"
            )
            y += h
    style = (
        "text{font:12px monospace;fill:#222} .title{font-weight:bold;font-size:14px}"
        " .free{fill:#eef3f8;stroke:#456;stroke-width:1} .used{fill:#5b8fc7}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * (width + 260) + 40}" '
        f'height="{column_height + 100}">'
        f"<title>{escape(layout.target)} memory map</title><style>{style}</style>"
        + "".join(parts)
        + "</svg>\n"
    )


_INPUT_SECTION = re.compile(
    r"^ (\.[\w.$]+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S+\.o(?:bj)?|\S+\.a\(\S+\))\s*$"
)
_KINDS = (
    ("text", (".text", ".isr_vector", ".init", ".fini")),
    ("rodata", (".rodata",)),
    ("data", (".data",)),
    ("bss", (".bss", "COMMON", ".noinit")),
)


def map_sizes(map_text: str) -> dict[str, dict[str, int]]:
    """Per object file: bytes of text, rodata, data and bss, from a GNU ld .map file's
    "Linker script and memory map" part (input sections, including the long-named ones
    whose address and size stand on the next line)."""
    body = map_text.split("Linker script and memory map", 1)[-1]
    sizes: dict[str, dict[str, int]] = {}
    pending = None
    for line in body.splitlines():
        if pending is None and re.match(r"^ \.[\w.$]+\s*$", line):
            pending = line.strip()
            continue
        if pending is not None:
            line = f" {pending} {line.strip()}"
            pending = None
        match = _INPUT_SECTION.match(line)
        if not match or not match.group(1):
            continue
        section, size, obj = match.group(1), int(match.group(3), 16), match.group(4)
        kind = next((k for k, prefixes in _KINDS if section.startswith(prefixes)), None)
        if kind is None or not size:
            continue
        entry = sizes.setdefault(obj, {"text": 0, "rodata": 0, "data": 0, "bss": 0})
        entry[kind] += size
    return sizes


def top_contributors(
    sizes: Mapping[str, Mapping[str, int]], count: int = 10
) -> list[tuple[str, int, Mapping[str, int]]]:
    ranked = sorted(sizes.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [(name, sum(kinds.values()), kinds) for name, kinds in ranked[:count]]
