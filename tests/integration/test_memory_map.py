"""A boot chain's build summary and memory map: every slot with its stage and slot number,
every stage's program with its sizes, memory-map.svg with every region by stage, and
size-report.json with an entry per program."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from fwbuild.values import hex32

SVG = "{http://www.w3.org/2000/svg}"
PROGRAMS = {"selector": "selector", "bootloader": "bootloader", "application": "app"}


def test_chain_summary_svg_and_size_report(fw, tmp_path, key_files):
    build = fw.build_copy(
        fw.PROJECTS / "chain", tmp_path / "chain", "MPS2_AN385", f"sign_key={key_files['ed25519']}"
    ).require_ok()
    layout = build.layout()
    lines = build.result.stdout.splitlines()
    start = lines.index("MPS2_AN385 memory (chain):")
    summary = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        summary.append(line.split())
    assert summary[0] == ["REGION", "STAGE", "SLOT", "START..END", "SIZE", "USED", "FREE", "USE"]
    heading = summary.index(
        ["PROGRAM", "STAGE", ".text", ".data", ".bss", "heap", "stack", "FLASH", "USE", "RAM", "USE"]
    )
    rows = {words[0]: words for words in summary[:heading]}
    for region in layout["regions"]:
        span = f"{hex32(region['start'])}..{hex32(region['start'] + region['size'])}"
        if "stage" in region:
            assert rows[region["name"]][1:4] == [region["stage"], str(region["slot"]), span]
        else:
            assert rows[region["name"]][1] == span
    assert rows["ram"][1] == "SSRAM23"

    programs = summary[heading + 1 :]
    assert [(words[0], words[1]) for words in programs] == [(p, s) for s, p in PROGRAMS.items()]
    for words in programs:
        program, stage = words[0], words[1]
        # FLASH: the bytes the program's .bin holds (selector: 352 B), of its slot less the header
        flash = " ".join(words[12:14])
        binary = build.dir / stage / "slot0" / f"{program}.bin"
        size = binary.stat().st_size
        assert flash == (f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB".replace(".0 KiB", " KiB"))
        slot = next(r for r in layout["regions"] if r.get("stage") == stage)
        room = (slot["size"] - slot["header_size"]) // 1024
        assert words[15:18] == ["of", str(room), "KiB"], words

    root = ET.parse(build.dir / "memory-map.svg").getroot()
    groups = {g.get("data-name"): g for g in root.iter(f"{SVG}g") if g.get("class") == "region"}
    assert set(groups) == {r["name"] for r in layout["regions"] + layout["ram"]}
    for region in layout["regions"]:
        group = groups[region["name"]]
        assert group.get("data-start") == hex32(region["start"])
        assert group.get("data-stage") == region.get("stage")
        assert int(group.get("data-used")) > 0 or region["name"] == "boot_state"

    report = json.loads((build.dir / "size-report.json").read_text())
    assert set(report) == {"selector", "bootloader", "app"}
    assert any(name.endswith("/selector/main.o") for name in report["selector"]), sorted(report["selector"])
