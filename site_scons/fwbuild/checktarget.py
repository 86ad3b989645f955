"""``fwbuild check-target``: everything a BSP team needs to hear about a new target file,
all at once: schema, inheritance and values, sector map, vector table, RAM, and the
layout its own keys give."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.jsonfile import read_json, schema_problems
from fwbuild.layout import Layout, compute_layout
from fwbuild.project import Project
from fwbuild.targets import Target, TargetSet
from fwbuild.values import hex32

MAX_VECTORS = 16 + 496  # the architecture's limit (ARMv7-M / ARMv8-M)


@dataclass
class TargetReport:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: Target | None = None
    layout: Layout | None = None


def check_target(
    name: str, targets_dirs: tuple[Path, ...] = (), project: Project | None = None
) -> TargetReport:
    """Check target ``name``; with a ``project``, its layout includes the project's overrides."""
    report = TargetReport(name)
    targets = TargetSet(targets_dirs)
    if name not in targets.all_names():
        targets.resolve(name)  # raises with the "did you mean" message
    path = targets.file_of(name)
    try:
        data = read_json(path)
    except ConfigError as exc:
        report.problems.append(str(exc))
        return report
    report.problems += [str(p) for p in schema_problems(data, "schema.json", path)]
    if report.problems:
        return report  # the value checks below would only repeat these
    try:
        target = targets.resolve(name)
        if project is not None:
            target = targets.resolve(name, project.overrides_for(target, targets))
    except FwbuildError as exc:
        report.problems.append(str(exc))
        return report
    report.target = target
    if not data.get("public", True):
        report.notes.append(
            f"{name} is a family (public: false): boards inherit from it, scons cannot build it"
        )
    if target.vector_count > MAX_VECTORS:
        report.problems.append(
            f"{path}: vector_count: {target.vector_count} entries exceed the architecture's {MAX_VECTORS}; "
            "count the 16 core entries plus the chip's IRQs"
        )
    if target.write_size & (target.write_size - 1):
        report.problems.append(f"{path}: flash.write_size: {target.write_size} is not a power of two")
    banks = sorted(target.ram, key=lambda b: b.start)
    for a, b in zip(banks, banks[1:]):
        if b.start < a.end:
            report.problems.append(
                f"{path}: ram: {a.describe()} overlaps {b.describe()}; fix the banks' starts"
            )
    main = next(b for b in target.ram if b.name == target.main_ram)
    if target.stack_size + target.heap_size > main.size:
        report.problems.append(
            f"{path}: stack_size + heap_size ({target.stack_size + target.heap_size} bytes) exceed the main "
            f"RAM bank {main.describe()}; shrink them or pick a larger main_ram"
        )
    try:
        report.layout = compute_layout(target)
    except FwbuildError as exc:
        report.problems.append(str(exc))
    return report


def describe(report: TargetReport) -> list[str]:
    target, layout = report.target, report.layout
    assert target is not None and layout is not None
    sizes = " / ".join(dict.fromkeys(f"{size // 1024} KiB" for _, size in target.sectors))
    lines = [
        f"ok: {target.name} ({' <- '.join(target.chain)})",
        f"  core {target.core}, {target.vector_count} vectors, flash {hex32(target.flash_start)}.."
        f"{hex32(target.flash_end)} in {sizes} sectors, write size {target.write_size}",
        "  RAM " + ", ".join(b.describe() for b in target.ram) + f" (main: {target.main_ram})",
        f"  layout ({layout.mode}): " + ", ".join(r.describe() for r in layout.regions),
    ]
    return lines + [f"  note: {note}" for note in report.notes]
