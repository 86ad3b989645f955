"""What users see after a build: the region summary, memory-map.svg, size-report.json and
`fwbuild size`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from fwbuild.values import hex32

SVG = "{http://www.w3.org/2000/svg}"


def test_memory_map_draws_every_region(fw, example_build):
    for target in ("K64F", "MPS2_AN385", "LPC1768"):
        build = example_build(target)
        layout = build.layout()
        root = ET.parse(build.dir / "memory-map.svg").getroot()
        groups = {g.get("data-name"): g for g in root.iter(f"{SVG}g")}
        for region in layout["regions"] + layout["ram"]:
            group = groups[region["name"]]
            assert group.get("data-start") == hex32(region["start"])
            label = "".join(group.find(f"{SVG}text").itertext())
            assert label.startswith(f"{region['name']} {hex32(region['start'])} "), label
            assert float(group.findall(f"{SVG}rect")[0].get("height")) >= 20  # small regions stay visible
        application = next(r["name"] for r in layout["regions"] if r.get("stage", r["name"]) == "application")
        assert int(groups[application].get("data-used")) > 0  # the application's (first) slot


def test_summary_and_size_report(fw, example_build):
    build = example_build("K64F")
    lines = build.result.stdout.splitlines()
    summary = [line for line in lines if line.startswith("  ")]
    for name in ("bootloader", "header", "application", "candidate", "ram SRAM_U"):
        assert any(line.split()[0:2] == name.split()[:2] or line.split()[0] == name for line in summary), name
    assert any(line.split() == ["REGION", "START..END", "SIZE", "USED", "FREE", "USE"] for line in summary)
    assert any(line.split()[:3] == ["PROGRAM", "STAGE", ".text"] for line in summary)
    rows = [line.split() for line in summary]
    programs = {w[0]: w[1] for w in rows if len(w) > 1 and w[1] in ("bootloader", "application")}
    assert programs == {"bootloader": "bootloader", "app": "application"}  # a row per program
    report = json.loads((build.dir / "size-report.json").read_text())
    assert "build/K64F/obj/app/app/main.o" in report["app"]
    assert report["bootloader"]["build/K64F/bootloader/obj/bootloader/bootloader/sha256.o"]["text"] > 0

    result = fw.run_fwbuild("size", build.dir / "bootloader/bootloader.map", "--top", "2")
    assert result.returncode == 0, result.describe()
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["BYTES", "TEXT", "RODATA", "DATA", "BSS", "OBJECT"] and len(rows) == 3


def test_nearly_full_region_warns(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    room = 0x4000
    fw.set_overrides(project, "K64F", restrict_size=hex(room))
    first = fw.run_scons(project, "K64F")
    assert first.returncode == 0, first.describe()
    assert not [line for line in first.stdout.splitlines() if line.startswith("warning: application is")]
    # filled to 95 %, whatever the example's application takes
    filler = int(0.95 * room) - (project / "build/K64F/app.bin").stat().st_size
    (project / "app" / "filler.c").write_text(
        f"__attribute__((used)) const unsigned char filler[{filler}] = {{1}};\n"
    )
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: application is")]
    assert warnings and "% full" in warnings[0], result.describe()


def test_progress_counter(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, "K64F", jobs=1)
    assert result.returncode == 0, result.describe()
    counters = [line.split("]")[0] + "]" for line in result.stdout.splitlines() if line.startswith("[")]
    total = len(counters)
    assert total == len(result.steps) and total > 20
    assert counters == [f"[{i}/{total}]" for i in range(1, total + 1)]  # a clean build runs them all
    main = project / "app" / "main.c"
    main.write_text(main.read_text() + "\n/* edited */\n")
    again = fw.run_scons(project, "K64F", jobs=1)
    assert f"[1/{total}] CC app/main.c" in again.stdout.splitlines(), again.describe()
