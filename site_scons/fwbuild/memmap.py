"""Where the bytes went: region usage, program section sizes, the build's summary tables,
the memory-map picture and the per-object size report (from the linker's .map file)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fwbuild.layout import Layout
from fwbuild.values import hex32

FULL_WARNING = 0.90


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as XML entities (what xml.sax.saxutils.escape does, without
    importing it: it pulls in urllib and http.client, about 45 ms of every memory-map step)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


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
    """Section sizes of a linked program and its stack (``__StackTop - __StackLimit``),
    read with fwbuild.elfread: the section headers and one pass over the symbol table."""
    from fwbuild.elfread import SHT_NOBITS, open_elf

    text = data = bss = heap = 0
    with open_elf(elf_path) as elf:
        for section in elf.sections:
            if not section.alloc or not section.size:
                continue
            if section.name == ".heap":
                heap += section.size
            elif section.name == ".data":
                data += section.size
            elif section.type == SHT_NOBITS:
                bss += section.size
            else:
                text += section.size
        symbols = elf.symbol_values(("__StackTop", "__StackLimit"))
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


def _share(part: int, whole: int) -> str:
    """What ``part`` takes of ``whole``, as in "  7% of 32 KiB"."""
    return f"{100 * part / whole if whole else 0.0:3.0f}% of {_size(whole)}"


@dataclass(frozen=True)
class ProgramUse:
    """A program of the layout (one per stage) as linked for its first slot: what it puts in
    flash against the room its slot gives it, and what it takes of RAM."""

    program: str  # "app" for the application, else the stage's name
    stage: str
    room: int  # bytes of flash its slot leaves it after the header
    flash: int  # bytes it puts in flash: .text and .data's initial values, or a prebuilt image's
    sizes: ProgramSizes | None  # None: a prebuilt image, no ELF to read
    ram_size: int  # the main RAM bank's, where every program has its data and stack


def program_uses(
    layout: Layout, sizes: Mapping[str, ProgramSizes], image_bytes: Mapping[str, int]
) -> list[ProgramUse]:
    """One entry per stage, in boot order: from its ELF's sections (``sizes``, by program
    name) or, for a prebuilt image, from the bytes the image holds (``image_bytes``)."""
    ram = layout.main_ram_bank.size
    uses = []
    for stage in layout.stages:
        found = sizes.get(stage.program)
        flash = found.text + found.data if found else image_bytes.get(stage.program, 0)
        room = stage.slots[0].program_size
        if layout.mode == "managed" and stage is layout.stages[0] and layout.bootloaders:
            room = sum(r.size for r in layout.bootloaders)  # bootloader, bootloader_2, ...
        uses.append(ProgramUse(stage.program, stage.name, room, flash, found, ram))
    return uses


UNUSED = "(unused)"


def flash_gaps(layout: Layout) -> list[RegionUse]:
    """Flash no region covers, as "(unused)" entries of kind "unused"."""
    gaps, cursor = [], layout.flash_start
    for region in sorted(layout.regions, key=lambda r: (r.start, r.name)):
        if region.start > cursor:
            gaps.append(RegionUse(UNUSED, cursor, region.start - cursor, 0, "unused"))
        cursor = max(cursor, region.start + region.size)
    if cursor < layout.flash_end:
        gaps.append(RegionUse(UNUSED, cursor, layout.flash_end - cursor, 0, "unused"))
    return gaps


def _flash_rows(layout: Layout, uses: Sequence[RegionUse]) -> list[RegionUse]:
    """The flash regions and the gaps between them, by address; then the RAM banks."""
    flash = [u for u in uses if u.kind == "flash"] + flash_gaps(layout)
    return sorted(flash, key=lambda u: u.start) + [u for u in uses if u.kind == "ram"]


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """Rows of cells as aligned text, two spaces between columns, two before the first."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(right))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right)]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def _bar(fraction: float) -> str:
    filled = round(10 * fraction)
    return f"[{'#' * filled}{'.' * (10 - filled)}] {100 * fraction:3.0f}%"


def summary_lines(layout: Layout, uses: Sequence[RegionUse], programs: Sequence[ProgramUse]) -> list[str]:
    """The terminal summary: a table of the flash regions (in a boot chain with each slot's
    stage and slot number) and the RAM banks, then a table of the programs, one per stage,
    with their sections and what they take of their slot and of RAM; a warning line for
    each region over 90 % full."""
    chain = layout.mode == "chain"
    head = ["REGION", *(["STAGE", "SLOT"] if chain else []), "START..END", "SIZE", "USED", "FREE", "USE"]
    rows = [head]
    for use in _flash_rows(layout, uses):
        slot = layout.slot(use.name) if chain and use.kind == "flash" else None
        where = [slot.stage, str(slot.index)] if slot else ["", ""]
        span = f"{hex32(use.start)}..{hex32(use.start + use.size)}"
        if use.kind == "unused":
            measured = ["", "", ""]
        else:
            measured = [_size(use.used), _size(use.size - use.used), _bar(use.fraction)]
        name = use.name if use.kind != "ram" else f"ram {use.name}"
        rows.append([name, *(where if chain else []), span, _size(use.size), *measured])
    lines = [f"{layout.target} memory ({layout.mode}):"]
    lines += _table(rows, [False, *([False, True] if chain else []), False, True, True, True, False])

    rows = [["PROGRAM", "STAGE", ".text", ".data", ".bss", "heap", "stack", "FLASH", "USE", "RAM", "USE"]]
    for program in programs:
        flash = [_size(program.flash), _share(program.flash, program.room)]
        sizes = program.sizes
        if sizes is None:  # a prebuilt image: its bytes, nothing known of its sections
            rows.append([program.program, program.stage, "-", "-", "-", "-", "-", *flash, "-", "-"])
            continue
        ram = [_size(sizes.ram), _share(sizes.ram, program.ram_size)]
        parts = [_size(n) for n in (sizes.text, sizes.data, sizes.bss, sizes.heap, sizes.stack)]
        rows.append([program.program, program.stage, *parts, *flash, *ram])
    lines += _table(rows, [False, False, True, True, True, True, True, True, False, True, False])

    for use in uses:
        if use.fraction > FULL_WARNING and use.name != "header":  # a header fills its region
            label = use.name if use.kind == "flash" else f"RAM bank {use.name}"
            lines.append(
                f"warning: {label} is {100 * use.fraction:.0f}% full ({_size(use.size - use.used)} left)"
            )
    return lines


# -- memory-map.svg ---------------------------------------------------------------------------
# Text is 12 px monospace; a character is taken as 0.625 em wide, more than the 0.6 em of the
# usual monospace fonts (DejaVu Sans Mono, Liberation Mono, Courier New, Menlo, Consolas), so
# a label area sized from its longest label holds it in any of them.
FONT_PX = 12
CHAR_W = 7.5
TITLE_PX = 14
TITLE_CHAR_W = 8.75
LINE = 16  # the least distance between two labels' baselines
ASCENT, DESCENT = 10, 4  # a label's ink above and below its baseline, with margin
MIN_HEIGHT = 20  # the least height of a region: small ones stay visible and labelled
COLUMN_W = 150
LEADER = 34  # from a column to its labels: the leader lines' room
GAP = 40  # from a label area to the next column
MARGIN = 20
COLUMNS_TOP = 84
COLUMN_HEIGHT = 600

# (free, used) fills per stage in boot order; regions of no stage and RAM have their own.
STAGE_COLOURS = (
    ("#e3edf8", "#4e83bf"),
    ("#fbe8d4", "#dd8a2e"),
    ("#e0f1df", "#4f9a4a"),
    ("#ece3f4", "#8a5fb0"),
    ("#dcefee", "#2f8f89"),
    ("#f7dfdf", "#c0504d"),
    ("#f4efd8", "#a88b1e"),
    ("#f3e0ec", "#b0578e"),
)
OTHER_COLOURS = ("#eeeeee", "#8c8c8c")
RAM_COLOURS = ("#e8eef3", "#5f7d95")
UNUSED_COLOURS = ("#ffffff", "#ffffff")


def _scaled_heights(sizes: Sequence[int], total: float) -> tuple[list[float], float]:
    """Heights proportional to ``sizes`` except that none is below MIN_HEIGHT, adding up to
    ``total`` (raised to fit every region at its least height): the regions above the least
    height keep one scale among themselves."""
    total = max(total, MIN_HEIGHT * len(sizes))
    small: set[int] = set()
    while True:
        rest = sum(s for i, s in enumerate(sizes) if i not in small)
        room = total - MIN_HEIGHT * len(small)
        scale = room / rest if rest else 0.0
        grown = {i for i, s in enumerate(sizes) if s * scale < MIN_HEIGHT}
        if grown <= small:
            break
        small |= grown
    heights = [MIN_HEIGHT if i in small else s * scale for i, s in enumerate(sizes)]
    return heights, total


def _place_labels(centres: Sequence[float], top: float, bottom: float) -> list[float]:
    """Label centres as near the wanted ``centres`` (in drawing order, top to bottom) as
    they can be with LINE between neighbours, within [top, bottom] where they fit."""
    placed: list[float] = []
    for centre in centres:
        placed.append(max(centre, top, placed[-1] + LINE if placed else top))
    limit = bottom
    for i in range(len(placed) - 1, -1, -1):
        if placed[i] > limit:
            placed[i] = limit
        limit = placed[i] - LINE
    return placed


@dataclass(frozen=True)
class _Label:
    name: str
    fields: tuple[str, ...]  # start address, size, use


def _label_for(use: RegionUse) -> _Label:
    fields = (hex32(use.start), _size(use.size))
    if use.kind != "unused":
        fields += (f"{_size(use.used)} used ({100 * use.fraction:.0f}%)",)
    return _Label(use.name, fields)


def _label_columns(labels: Sequence[_Label]) -> tuple[list[int], int]:
    """Character offsets of a column's label fields (name, address, size, use), aligned as
    a table, and the label area's width in characters."""
    widths = [max(len(label.name) for label in labels)]
    for i in range(3):
        widths.append(max((len(label.fields[i]) for label in labels if len(label.fields) > i), default=0))
    offsets, at = [], 0
    for width in widths:
        offsets.append(at)
        at += width + 2
    return offsets, at - 2


def _colours(layout: Layout, use: RegionUse) -> tuple[str, str]:
    """(free fill, used fill) of a region: a slot, a region inside one (an Mbed header) and
    a managed layout's bootloader segments take their stage's colours."""
    if use.kind == "ram":
        return RAM_COLOURS
    if use.kind == "unused":
        return UNUSED_COLOURS
    end = use.start + use.size
    for index, stage in enumerate(layout.stages):
        segments = {r.name for r in layout.bootloaders} if index == 0 < len(layout.stages) - 1 else set()
        for slot in stage.slots:
            if slot.region == use.name or use.name in segments or slot.start <= use.start < end <= slot.end:
                return STAGE_COLOURS[index % len(STAGE_COLOURS)]
    return OTHER_COLOURS


def _region_attrs(layout: Layout, use: RegionUse) -> str:
    if use.kind == "unused":
        return f'class="gap" data-start="{hex32(use.start)}" data-size="{use.size}"'
    attrs = (
        f'class="region" data-name="{escape(use.name)}" data-start="{hex32(use.start)}" '
        f'data-size="{use.size}" data-used="{use.used}"'
    )
    slot = layout.slot(use.name) if layout.mode == "chain" and use.kind == "flash" else None
    if slot is not None:
        attrs += f' data-stage="{escape(slot.stage)}" data-slot="{slot.index}"'
    return attrs


def _column(
    layout: Layout, title: str, items: Sequence[RegionUse], x: int, height: float
) -> tuple[str, float]:
    """One column (regions from the highest address down) and its labels; the drawing and
    where its label area ends."""
    labels = [_label_for(u) for u in items]
    offsets, chars = _label_columns(labels)
    heights, _ = _scaled_heights([u.size for u in items], height)
    edge, label_x = x + COLUMN_W, x + COLUMN_W + LEADER
    tops = [COLUMNS_TOP + sum(heights[:i]) for i in range(len(items))]
    centres = [top + h / 2 for top, h in zip(tops, heights)]
    placed = _place_labels(centres, COLUMNS_TOP + LINE / 2, COLUMNS_TOP + height - LINE / 2)
    parts = [f'<text x="{x}" y="{COLUMNS_TOP - 12}" class="column">{title}</text>']
    for use, label, top, h, centre, at in zip(items, labels, tops, heights, centres, placed):
        free, used_fill = _colours(layout, use)
        drawn = f'<rect x="{x}" y="{top:.1f}" width="{COLUMN_W}" height="{h:.1f}" '
        if use.kind == "unused":
            drawn += f'class="unused" style="fill:{free}"/>'
        else:
            used_h = h * use.fraction
            drawn += (
                f'class="free" style="fill:{free}"/><rect x="{x}" y="{top + h - used_h:.1f}" '
                f'width="{COLUMN_W}" height="{used_h:.1f}" class="used" style="fill:{used_fill}"/>'
            )
        leader = f"{edge},{centre:.1f} {edge + 8},{centre:.1f} {label_x - 8},{at:.1f} {label_x - 3},{at:.1f}"
        text = escape(label.name)
        for offset, field in zip(offsets[1:], label.fields):
            text += f' <tspan x="{label_x + offset * CHAR_W:.1f}">{escape(field)}</tspan>'
        parts.append(
            f"<g {_region_attrs(layout, use)}>{drawn}"
            f'<polyline class="leader" points="{leader}"/>'
            f'<text x="{label_x}" y="{at + FONT_PX / 3:.1f}">{text}</text></g>'
        )
    return "".join(parts), label_x + chars * CHAR_W


def _legend(layout: Layout, flash: Sequence[RegionUse], top: float) -> tuple[str, float, int]:
    """Which colour is which stage (and the other kinds of region): the drawing, where it
    ends and its width in characters."""
    entries: list[tuple[str, str, str]] = []
    for index, stage in enumerate(layout.stages):
        count = len(stage.slots)
        free, used = STAGE_COLOURS[index % len(STAGE_COLOURS)]
        entries.append(
            (free, used, f"stage {index + 1}: {stage.name}, {count} slot{'s' if count != 1 else ''}")
        )
    others = [u.name for u in sorted(flash, key=lambda u: u.start) if _colours(layout, u) == OTHER_COLOURS]
    if others:
        entries.append((*OTHER_COLOURS, f"in no stage's slot: {', '.join(others)}"))
    if any(u.kind == "unused" for u in flash):
        entries.append((*UNUSED_COLOURS, "flash in no region"))
    entries.append((*RAM_COLOURS, "RAM banks"))
    note = "the darker part of a region is used"
    parts = []
    for i, (free, used, what) in enumerate(entries):
        y = top + i * (LINE + 4)
        parts.append(
            f'<rect x="{MARGIN}" y="{y}" width="10" height="14" class="swatch" style="fill:{free}"/>'
            f'<rect x="{MARGIN + 10}" y="{y}" width="10" height="14" class="swatch" style="fill:{used}"/>'
            f'<text x="{MARGIN + 30}" y="{y + 11}">{escape(what)}</text>'
        )
    bottom = top + len(entries) * (LINE + 4) + 11
    parts.append(f'<text x="{MARGIN}" y="{bottom}">{note}</text>')
    chars = max([len(what) + 4 for _, _, what in entries] + [len(note)])
    return '<g class="legend">' + "".join(parts) + "</g>", bottom + DESCENT, chars


def memory_svg(layout: Layout, uses: Sequence[RegionUse]) -> str:
    """Flash and RAM drawn to scale, highest address on top, one column each, flash no
    region covers included; every region labelled beside its column with its name, start
    address, size and use, its used part shaded. A column's labels have an area of their
    own, as wide as the longest label at CHAR_W a character, before the next column; a label
    sits level with its region, or is moved to keep LINE from its neighbours, a leader line
    joining the two. Regions are coloured by the stage whose slot holds them (a legend
    below says which). Small regions get MIN_HEIGHT."""
    flash = sorted([u for u in uses if u.kind == "flash"] + flash_gaps(layout), key=lambda u: -u.start)
    ram = sorted([u for u in uses if u.kind == "ram"], key=lambda u: -u.start)
    height = max(2 * MIN_HEIGHT * max(len(flash), len(ram)), COLUMN_HEIGHT)  # least heights: half at most
    parts: list[str] = []
    x, right = MARGIN, float(MARGIN)
    for title, items in (("Flash", flash), ("RAM", ram)):
        if items:
            drawn, right = _column(layout, title, items, x, height)
            parts.append(drawn)
            x = round(right + GAP)
    legend, bottom, legend_chars = _legend(layout, flash, COLUMNS_TOP + height + 36)
    title = f"{layout.target} memory map ({layout.mode})"
    width = round(max(right, MARGIN + len(title) * TITLE_CHAR_W, MARGIN + legend_chars * CHAR_W) + MARGIN)
    total = round(bottom + MARGIN)
    style = (
        f"text{{font-family:monospace;font-size:{FONT_PX}px;fill:#222}}"
        f" .title,.column{{font-weight:bold;font-size:{TITLE_PX}px}}"
        " .free,.swatch{stroke:#456;stroke-width:1} .used{stroke:none}"
        " .unused{stroke:#999;stroke-width:1;stroke-dasharray:4 3}"
        " .leader{fill:none;stroke:#8a96a3;stroke-width:1}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}">'
        f"<title>{escape(layout.target)} memory map</title><style>{style}</style>"
        f'<rect x="0" y="0" width="{width}" height="{total}" class="background" style="fill:#ffffff"/>'
        f'<text x="{MARGIN}" y="{MARGIN + 10}" class="title">{escape(title)}</text>'
        + "".join(parts)
        + legend
        + "</svg>\n"
    )


# An input section's line, " .name  0xADDR  0xSIZE  file.o", or the same with the address
# and size on the next line when the name is long; only names of the kinds counted (as in
# _KINDS), so the debug sections' lines fail at once. One pattern over the whole text: the
# map of a 2,000-file program (4 MB, 70,000 lines) reads in about 15 ms, where a regex per
# line took 170 ms.
_INPUT_SECTION = re.compile(
    r"\n (\.(?:text|isr_vector|init|fini|rodata|data|bss|noinit)[\w.$]*)(?:[ \t]*\n)?"
    r"[ \t]+0x[0-9a-fA-F]+[ \t]+0x([0-9a-fA-F]+)[ \t]+"
    r"(\S+\.o(?:bj)?|\S+\.a\(\S+\))[ \t]*(?=\n|$)"
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
    body = "\n" + map_text.split("Linker script and memory map", 1)[-1]
    sizes: dict[str, dict[str, int]] = {}
    kinds: dict[str, str | None] = {}  # by section name: a map repeats a few hundred names
    for section, size_hex, obj in _INPUT_SECTION.findall(body):
        kind = kinds.get(section, "")
        if kind == "":
            kind = kinds[section] = next((k for k, prefixes in _KINDS if section.startswith(prefixes)), None)
        size = int(size_hex, 16)
        if kind is None or not size:
            continue
        entry = sizes.get(obj)
        if entry is None:
            entry = sizes[obj] = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
        entry[kind] += size
    return sizes


def top_contributors(
    sizes: Mapping[str, Mapping[str, int]], count: int = 10
) -> list[tuple[str, int, Mapping[str, int]]]:
    ranked = sorted(sizes.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [(name, sum(kinds.values()), kinds) for name, kinds in ranked[:count]]


def size_report_json(report: Mapping[str, Mapping[str, Mapping[str, int]]]) -> str:
    """size-report.json's text: exactly ``json.dumps(report, indent=2, sort_keys=True)`` and
    a newline, written directly because json's indenting encoder is pure Python (16 ms for a
    2,000-object report; this takes about 3 ms)."""
    from json.encoder import encode_basestring_ascii as quote

    out = []
    for program, objects in sorted(report.items()):
        if not objects:
            out.append(f"  {quote(program)}: {{}}")
            continue
        rows = []
        for obj, kinds in sorted(objects.items()):
            if kinds:
                fields = ",\n".join(f"      {quote(k)}: {int(v)!r}" for k, v in sorted(kinds.items()))
                rows.append(f"    {quote(obj)}: {{\n{fields}\n    }}")
            else:
                rows.append(f"    {quote(obj)}: {{}}")
        out.append(f"  {quote(program)}: {{\n" + ",\n".join(rows) + "\n  }")
    return "{\n" + ",\n".join(out) + "\n}\n" if out else "{}\n"
