"""The build summary and memory-map.svg: column headings, stages and slots, every program's
sizes, and a picture whose labels stay in their own area, checked on the rendered image."""

from __future__ import annotations

import itertools
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from cairosvg.parser import Tree
from cairosvg.surface import PNGSurface
from chain_configs import three_stage_chain

from fwbuild import memmap
from fwbuild.layout import compute_layout
from fwbuild.memmap import ProgramSizes, memory_svg, program_uses, region_usage, summary_lines
from fwbuild.targets import Sourced, TargetSet
from fwbuild.values import hex32

SVG_NS = "http://www.w3.org/2000/svg"
SVG = f"{{{SVG_NS}}}"
CONFIG = Path("/project/fwbuild.json")
CHAIN = three_stage_chain()
# 4 stages, 20 flash regions, most of them a few sectors among two large slots
CROWDED = {
    "stages": [
        {"stage": "selector", "image": "@selector", "size": "0x1000"},
        {"stage": "loader", "image": "@loader", "slots": 8, "size": "0x2000", "header_size": "0x200"},
        {"stage": "bootloader", "image": "@bootloader", "slots": 8, "size": "0x4000", "header_size": "0x400"},
        {"stage": "application", "slots": 2, "header_size": "0x400"},
    ],
    "state_size": "0x1000",
}
K64F = {
    "bootloader_img": "@bootloader",
    "bootloader_size": "0x8000",
    "header_offset": "0x8000",
    "app_offset": "0x8400",
    "restrict_size": "0x7BC00",
    "candidate_offset": "0x84000",
}


def layout_of(name: str, **keys):
    target = TargetSet().resolve(name, {k: Sourced(v, CONFIG) for k, v in keys.items()})
    return compute_layout(target)


def chain_layout():
    return layout_of("MPS2_AN385", boot_chain=CHAIN)


def crowded_layout():
    return layout_of("K64F", boot_chain=CROWDED)


def managed_layout():
    return layout_of("K64F", **K64F)


def used_sevenths(layout, ram_used: int = 6 * 1024):
    """Every flash region a seventh full; the main RAM bank ``ram_used``."""
    return region_usage(layout, {r.name: r.size // 7 for r in layout.regions}, {layout.main_ram: ram_used})


SIZES = ProgramSizes(text=14_000, data=12, bss=300, heap=2048, stack=4096)


def programs(layout, prebuilt=()):
    sizes = {stage.program: SIZES for stage in layout.stages if stage.program not in prebuilt}
    return program_uses(layout, sizes, {name: 3000 for name in prebuilt})


# -- the summary ---------------------------------------------------------------------------------
def table(lines, heading):
    """The rows of the table whose heading row starts with ``heading``, heading first."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [heading])
    rows = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  ") or line.split()[0] in ("PROGRAM", "REGION"):
            break
        rows.append(line)
    return rows


def columns_align(rows, headings):
    """Each heading's column: right-aligned cells end where the heading ends, left-aligned
    ones start where it starts."""
    head = rows[0]
    for name, right in headings:
        at = re.search(rf"(?<= ){re.escape(name)}(?= |$)", head).start()
        end = at + len(name)
        for row in rows[1:]:
            if not row[at:end].strip():
                continue  # an empty cell
            if right:
                assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (name, row)
            else:
                assert row[at - 1] == " " and row[at] != " ", (name, row)


def test_chain_summary_names_columns_stages_and_slots():
    layout = chain_layout()
    lines = summary_lines(layout, used_sevenths(layout), programs(layout))
    assert lines[0] == "MPS2_AN385 memory (chain):"
    regions = table(lines, "REGION")
    assert regions[0].split() == ["REGION", "STAGE", "SLOT", "START..END", "SIZE", "USED", "FREE", "USE"]
    rows = {row.split()[0]: row for row in regions[1:]}
    assert rows["bootloader.1"].split()[:4] == ["bootloader.1", "bootloader", "1", "0x00018000..0x00028000"]
    assert rows["application.0"].split()[:3] == ["application.0", "application", "0"]
    assert rows["selector"].split()[:3] == ["selector", "selector", "0"]
    assert rows["boot_state"].split()[1] == "0x003FF000..0x00400000"  # no stage, no slot
    assert rows["(unused)"].split() == ["(unused)", "0x003FE000..0x003FF000", "4", "KiB"]
    assert rows["ram"].split()[:3] == ["ram", "SSRAM23", "0x20000000..0x20400000"]
    assert list(rows) == [
        "selector",
        "bootloader.0",
        "bootloader.1",
        "application.0",
        "application.1",
        "(unused)",
        "boot_state",
        "ram",
    ]  # by address, RAM below
    assert rows["bootloader.0"].split()[4:] == [
        "64",
        "KiB",
        "9.1",
        "KiB",
        "54.9",
        "KiB",
        "[#.........]",
        "14%",
    ]
    heads = [("REGION", False), ("STAGE", False), ("SLOT", True), ("START..END", False), ("SIZE", True)]
    columns_align(regions, [*heads, ("USED", True), ("FREE", True), ("USE", False)])


def test_summary_reports_every_stage_program():
    layout = chain_layout()
    lines = summary_lines(layout, used_sevenths(layout), programs(layout, prebuilt=("selector",)))
    rows = table(lines, "PROGRAM")
    assert rows[0].split() == [
        "PROGRAM",
        "STAGE",
        ".text",
        ".data",
        ".bss",
        "heap",
        "stack",
        "FLASH",
        "USE",
        "RAM",
        "USE",
    ]
    by_name = {row.split()[0]: row.split() for row in rows[1:]}
    assert list(by_name) == ["selector", "bootloader", "app"]  # boot order
    # a prebuilt image: its bytes against its slot, nothing of its sections
    assert by_name["selector"] == [
        "selector",
        "selector",
        *"-----",
        "2.9",
        "KiB",
        "9%",
        "of",
        "32",
        "KiB",
        "-",
        "-",
    ]
    # .text+.data against the slot less its header; RAM against the main bank
    assert " ".join(by_name["bootloader"][2:]) == (
        "13.7 KiB 12 B 300 B 2 KiB 4 KiB 13.7 KiB 22% of 63 KiB 6.3 KiB 0% of 4 MiB"
    )
    assert by_name["app"][12:17] == ["13.7", "KiB", "1%", "of", "1963"]
    columns_align(
        rows, [("PROGRAM", False), (".text", True), ("stack", True), ("FLASH", True), ("RAM", True)]
    )


def test_managed_summary_keeps_its_rows_and_warnings():
    layout = managed_layout()
    uses = region_usage(layout, {"bootloader": 0x7F00, "header": 0x400, "application": 100}, {"SRAM_U": 0})
    lines = summary_lines(layout, uses, programs(layout))
    regions = table(lines, "REGION")
    assert regions[0].split() == ["REGION", "START..END", "SIZE", "USED", "FREE", "USE"]  # no stage column
    assert [row.split()[0] for row in regions[1:]] == [
        "bootloader",
        "header",
        "application",
        "candidate",
        "ram",
        "ram",
    ]
    assert " ".join(regions[1].split()[1:]) == "0x00000000..0x00008000 32 KiB 31.8 KiB 256 B [##########] 99%"
    assert [row.split()[0] for row in table(lines, "PROGRAM")[1:]] == ["bootloader", "app"]
    # a full header region is no news; a nearly full bootloader is
    assert [line for line in lines if line.startswith("warning:")] == [
        "warning: bootloader is 99% full (256 B left)"
    ]


# -- the picture, from its own coordinates ---------------------------------------------------------
def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def label_boxes(root):
    """(group, x0, y0, x1, y1) of every region's label, CHAR_W a character."""
    boxes = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") not in ("region", "gap"):
            continue
        text = group.find(f"{SVG}text")
        xs = [float(text.get("x"))] + [float(t.get("x")) for t in text.iter(f"{SVG}tspan")]
        pieces = [text.text or ""] + [t.text or "" for t in text.iter(f"{SVG}tspan")]
        x1 = max(x + len(piece.rstrip()) * memmap.CHAR_W for x, piece in zip(xs, pieces))
        y = float(text.get("y"))
        boxes.append((group, xs[0], y - memmap.ASCENT, x1, y + memmap.DESCENT))
    return boxes


def column_of(group):
    rect = group.find(f"{SVG}rect")
    return float(rect.get("x")), float(rect.get("x")) + float(rect.get("width"))


@pytest.mark.parametrize("make", [chain_layout, crowded_layout, managed_layout])
def test_labels_do_not_overlap_and_stay_between_columns(make):
    layout = make()
    root = parse(memory_svg(layout, used_sevenths(layout)))
    boxes = label_boxes(root)
    assert len(boxes) >= len(layout.regions) + len(layout.ram)
    columns = sorted({column_of(group) for group, *_ in boxes})
    width = float(root.get("width"))
    for group, x0, _, x1, _ in boxes:
        left, right = column_of(group)
        following = [c[0] for c in columns if c[0] > right]
        assert x0 > right and x1 < min(following, default=width), group.attrib
    for (a, *box_a), (b, *box_b) in itertools.combinations(boxes, 2):
        apart = box_a[2] <= box_b[0] or box_b[2] <= box_a[0] or box_a[3] <= box_b[1] or box_b[3] <= box_a[1]
        assert apart, (a.attrib, b.attrib)


def test_crowded_chain_is_drawn_to_scale_with_small_regions_visible():
    layout = crowded_layout()
    assert len(layout.regions) == 20
    root = parse(memory_svg(layout, used_sevenths(layout)))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "region"]
    heights = {g.get("data-name"): float(g.find(f"{SVG}rect").get("height")) for g in groups}
    assert min(heights.values()) >= memmap.MIN_HEIGHT
    assert heights["application.0"] == heights["application.1"] > 10 * memmap.MIN_HEIGHT
    assert heights["loader.0"] == heights["bootloader.0"] == memmap.MIN_HEIGHT
    slots = [g for g in groups if g.get("data-stage") == "loader"]
    assert [g.get("data-slot") for g in slots] == [str(i) for i in range(7, -1, -1)]  # highest on top


def test_regions_carry_their_data_and_stage_colours():
    layout = chain_layout()
    uses = used_sevenths(layout)
    svg = memory_svg(layout, uses)
    assert svg == memory_svg(layout, uses)  # nothing but the layout and the use decides it
    root = parse(svg)
    groups = {g.get("data-name"): g for g in root.iter(f"{SVG}g") if g.get("class") == "region"}
    for use in uses:
        group = groups[use.name]
        assert (group.get("data-start"), group.get("data-size"), group.get("data-used")) == (
            hex32(use.start),
            str(use.size),
            str(use.used),
        )
        label = "".join(group.find(f"{SVG}text").itertext())
        assert label.startswith(f"{use.name} {hex32(use.start)} "), label
    assert (groups["bootloader.1"].get("data-stage"), groups["bootloader.1"].get("data-slot")) == (
        "bootloader",
        "1",
    )
    assert groups["boot_state"].get("data-stage") is None

    def fill(name):
        return re.search(r"fill:(#\w+)", groups[name].find(f"{SVG}rect").get("style")).group(1)

    assert fill("bootloader.0") == fill("bootloader.1") != fill("application.0") == fill("application.1")
    assert len({fill("selector"), fill("bootloader.0"), fill("application.0"), fill("boot_state")}) == 4
    legend = ["".join(t.itertext()) for g in root.iter(f"{SVG}g") if g.get("class") == "legend" for t in g]
    legend = [text for text in legend if text]
    assert legend[:3] == [
        "stage 1: selector, 1 slot",
        "stage 2: bootloader, 2 slots",
        "stage 3: application, 2 slots",
    ]
    assert "in no stage's slot: boot_state" in legend and "flash in no region" in legend
    gaps = [g for g in root.iter(f"{SVG}g") if g.get("class") == "gap"]
    assert [(g.get("data-start"), g.get("data-size")) for g in gaps] == [("0x003FE000", str(0x1000))]


def test_every_layout_mode_is_drawn():
    for layout in (layout_of("LPC1768"), layout_of("K64F", mbed_app_start="0x10000"), managed_layout()):
        root = parse(memory_svg(layout, used_sevenths(layout)))
        names = {g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("class") == "region"}
        assert names == {r.name for r in layout.regions} | {b.name for b in layout.ram}, layout.mode


def test_labels_are_stacked_when_their_regions_are_close():
    placed = memmap._place_labels([100, 101, 102, 103, 300], top=90, bottom=400)
    assert placed == [100, 100 + memmap.LINE, 100 + 2 * memmap.LINE, 100 + 3 * memmap.LINE, 300]
    at_bottom = memmap._place_labels([395, 396, 397], top=90, bottom=400)
    assert at_bottom == [400 - 2 * memmap.LINE, 400 - memmap.LINE, 400]


def test_heights_keep_one_scale_above_the_least():
    heights, total = memmap._scaled_heights([1, 1000, 3000, 2], 600)
    assert total == 600 and sum(heights) == pytest.approx(600)
    assert heights[0] == heights[3] == memmap.MIN_HEIGHT
    assert heights[2] == pytest.approx(3 * heights[1])


# -- the picture, rendered -------------------------------------------------------------------------
ET.register_namespace("", SVG_NS)
PAD = 200  # drawn around the picture: ink there has left it


DRAWN = (f"{SVG}rect", f"{SVG}text", f"{SVG}polyline", f"{SVG}line", f"{SVG}path")


def render(svg: str, boxes: bool = False, text: int | None = None) -> np.ndarray:
    """The ink (alpha > 0) of the picture drawn with only its boxes (rects but the
    background) or only its ``text``-th text (and the style), on a canvas PAD larger on
    every side."""
    root = ET.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    texts = list(root.iter(f"{SVG}text"))
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{SVG}rect":
                keep = boxes and child.get("class") != "background"
            else:
                keep = child.tag not in DRAWN or (text is not None and child is texts[text])
            if not keep:
                parent.remove(child)
    root.set("width", str(width + 2 * PAD))
    root.set("height", str(height + 2 * PAD))
    root.set("viewBox", f"{-PAD} {-PAD} {width + 2 * PAD} {height + 2 * PAD}")
    # cairosvg's own surface, read in place: no PNG to encode and decode
    surface = PNGSurface(Tree(bytestring=ET.tostring(root)), None, 96).cairo
    surface.flush()
    pixels = np.frombuffer(surface.get_data(), np.uint8)
    pixels = pixels.reshape(surface.get_height(), surface.get_stride() // 4, 4)[:, : surface.get_width()]
    return pixels[:, :, 3 if sys.byteorder == "little" else 0] > 0  # ARGB32 in the native byte order


def label_problems(svg: str) -> list[str]:
    """What is wrong with the rendered picture's text: a text drawn over a box (a column's
    region or a legend swatch), outside the picture, or over another text."""
    root = ET.fromstring(svg)
    words = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    boxes = render(svg, boxes=True)
    width, height = float(root.get("width")), float(root.get("height"))
    inside = np.zeros_like(boxes)
    inside[PAD : PAD + int(height), PAD : PAD + int(width)] = True
    problems, inks = [], []
    for index, said in enumerate(words):
        ink = render(svg, text=index)
        if not ink.any():
            problems.append(f"{said!r} drew nothing")
        if (ink & boxes).any():
            problems.append(f"{said!r} is drawn over a box")
        if (ink & ~inside).any():
            problems.append(f"{said!r} leaves the picture")
        problems += [f"{said!r} is drawn over {other!r}" for other, seen in inks if (ink & seen).any()]
        inks.append((said, ink))
    return problems


@pytest.mark.parametrize("make", [chain_layout, managed_layout, crowded_layout])
def test_rendered_labels_stay_in_their_area(make):
    layout = make()
    assert label_problems(memory_svg(layout, used_sevenths(layout))) == []


def test_the_render_check_sees_a_label_run_into_the_next_column():
    """The fault of the first memory-map.svg: labels as wide as they came, running under
    the RAM column drawn after them, and past the picture's right edge."""
    svg = (
        f'<svg xmlns="{SVG_NS}" width="400" height="120"><style>text{{font:12px monospace}}</style>'
        '<rect x="10" y="10" width="60" height="100" style="fill:#eee"/>'
        '<text x="78" y="40">application.1 0x00213000 1964 KiB (0% used)</text>'
        '<rect x="250" y="10" width="60" height="100" style="fill:#eee"/>'
        '<text x="318" y="80">SSRAM23 0x20000000</text>'
        '<text x="318" y="85">SSRAM23 0x20000000</text>'
        "</svg>"
    )
    assert label_problems(svg) == [
        "'application.1 0x00213000 1964 KiB (0% used)' is drawn over a box",
        "'SSRAM23 0x20000000' leaves the picture",
        "'SSRAM23 0x20000000' leaves the picture",
        "'SSRAM23 0x20000000' is drawn over 'SSRAM23 0x20000000'",
    ]
