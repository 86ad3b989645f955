"""``fwbuild check-target``: everything a BSP team needs to hear about a new target file,
all at once: schema, inheritance and values, sector map, vector table, RAM, and the
layout its own keys give."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.jsonfile import read_json, schema_problems
from fwbuild.layout import Layout, compute_layout, vector_forward_note
from fwbuild.project import Project
from fwbuild.targets import LAYOUT_KEYS, MAX_VECTORS, Target, TargetSet
from fwbuild.values import hex32, size_text


@dataclass
class TargetReport:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: Target | None = None
    layout: Layout | None = None


# Values the layout is computed from: when one of them was wrong (and left out to check
# the rest), the layout would be computed from a stand-in and its errors misleading.
LAYOUT_INPUTS = frozenset(
    ("core", "fpu", "float_abi", "vtor", "flash", "vector_count", "pad_to_region_end", *LAYOUT_KEYS)
)
MAX_ROUNDS = 64


class _CheckedSet(TargetSet):
    """The target set with the values already reported left out of their files, so that
    a parent's value (or the default) stands in and the checks after them still run."""

    def __init__(self, dirs: tuple[Path, ...]):
        super().__init__(dirs)
        self.replaced: dict[str, dict[str, Any]] = {}

    def raw(self, name: str) -> dict[str, Any]:
        if name in self.replaced:
            return self.replaced[name]
        return super().raw(name)

    def leave_out(self, name: str, key: str) -> bool:
        """Drop the dotted ``key`` from target ``name``'s own data; False if it has none."""
        data = self.replaced.get(name)
        if data is None:
            data = self.replaced[name] = copy.deepcopy(super().raw(name))
        return _drop(data, key)


def _base_key(key: str | None) -> str | None:
    """``flash.sectors[2]`` -> ``flash.sectors``: the value a problem is about."""
    return re.split(r"\[", key, maxsplit=1)[0] or None if key else None


def check_target(
    name: str, targets_dirs: tuple[Path, ...] = (), project: Project | None = None
) -> TargetReport:
    """Check target ``name``; with a ``project``, its layout includes the project's overrides.
    Every problem is reported: the file's schema problems, then its values (each wrong
    value is left out, its parent's or the default standing in, and the checks run again),
    then the target's own rules and the layout."""
    report = TargetReport(name)
    targets = _CheckedSet(targets_dirs)
    if name not in targets.all_names():
        targets.resolve(name)  # raises with the "did you mean" message
    path = targets.file_of(name)
    try:
        data = read_json(path)
    except ConfigError as exc:
        report.problems.append(str(exc))
        return report
    except UnicodeDecodeError as exc:
        report.problems.append(f"{path}: is not UTF-8 text (byte {exc.start}); save it as UTF-8")
        return report
    schema = schema_problems(data, "schema.json", path)
    report.problems += [str(p) for p in schema]
    # "unknown key 'flassh'; did you mean 'flash'?": what is missing under 'flash' is the typo's
    meant = {m.group(1) for p in schema if (m := re.search(r"did you mean '([^']+)'", p.fix or ""))}
    if schema:
        if not isinstance(data, dict):
            return report
        cleaned = copy.deepcopy(data)
        dropped = set()
        for problem in schema:
            key = _base_key(problem.key)
            if key is None:
                return report  # the file as a whole is wrong: nothing below would be meaningful
            _drop(cleaned, key)
            dropped.add(key)
        targets.replaced[name] = cleaned
    target, left_out = _resolve_collecting(targets, name, project, report, bool(schema), meant)
    if schema:
        left_out |= dropped
    if target is None:
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
    if any(key.split(".")[0] in LAYOUT_INPUTS for key in left_out):
        return report  # the layout would be computed from a stand-in value
    try:
        report.layout = compute_layout(target)
    except FwbuildError as exc:
        report.problems.append(str(exc))
        return report
    from fwbuild.mbed_header import placement_note

    notes = (placement_note(report.layout, "app_offset" in target.layout), vector_forward_note(report.layout))
    report.notes.extend(note for note in notes if note)
    return report


def _resolve_collecting(
    targets: _CheckedSet,
    name: str,
    project: Project | None,
    report: TargetReport,
    had_schema_problems: bool,
    meant: set[str],
) -> tuple[Target | None, set[str]]:
    """Resolve ``name``; on a value error, report it, leave that value out of the file
    that sets it and try again. Returns the target (None when the problems leave nothing
    to resolve) and the keys left out. A problem under a key the schema problems suggest
    for a misspelt one (``meant``) is that typo's: not reported again."""
    files = {}
    left_out: set[str] = set()
    for _ in range(MAX_ROUNDS):
        try:
            files = {str(targets.file_of(n)): n for n in targets.chain(name)}
            target = targets.resolve(name, {})
            if project is not None:
                target = targets.resolve(name, project.overrides_for(target, targets))
            return target, left_out
        except ConfigError as exc:
            key = _base_key(exc.key)
            if key in left_out or (key or "").split(".")[0] in meant:
                return None, left_out  # a value left out, or the misspelt key's: already reported
            report.problems.append(str(exc))
            owner = files.get(exc.file or "")
            if key is None or key == "inherits" or owner != name or not targets.leave_out(owner, key):
                # a parent's value (or a rule across values) is shared with every board: leaving
                # it out would only show the same problem again under another key
                return None, left_out
            left_out.add(key)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            if had_schema_problems:
                return None, left_out  # malformed values the schema problems already name
            raise
    return None, left_out


def _drop(data: dict[str, Any], dotted: str) -> bool:
    """Remove a dotted key, and the objects it leaves empty (an empty object would replace
    the parent's whole object when the chain is merged). False if it is not there."""
    *parents, last = dotted.split(".")
    nodes: list[dict[str, Any]] = [data]
    for part in parents:
        node = nodes[-1].get(part)
        if not isinstance(node, dict):
            return False
        nodes.append(node)
    if last not in nodes[-1]:
        return False
    del nodes[-1][last]
    for part, node, parent in zip(reversed(parents), reversed(nodes[1:]), reversed(nodes[:-1])):
        if node:
            break
        del parent[part]
    return True


def describe(report: TargetReport) -> list[str]:
    target, layout = report.target, report.layout
    assert target is not None and layout is not None
    sizes = " / ".join(dict.fromkeys(size_text(size) for _, size in target.sectors))
    lines = [
        f"ok: {target.name} ({' <- '.join(target.chain)})",
        f"  core {target.core_choice.describe()}, {'with VTOR' if target.vtor else 'no VTOR'}, "
        f"{target.vector_count} vectors, flash {hex32(target.flash_start)}.."
        f"{hex32(target.flash_end)} in {sizes} sectors, write size {target.write_size}",
        "  RAM " + ", ".join(b.describe() for b in target.ram) + f" (main: {target.main_ram})",
        f"  layout ({layout.mode}): " + ", ".join(r.describe() for r in layout.regions),
    ]
    return lines + [f"  note: {note}" for note in report.notes]
