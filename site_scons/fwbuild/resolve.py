"""One call from (project folder, target name) to the checked project, target and layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fwbuild.layout import Layout, compute_layout
from fwbuild.project import Project, load_project
from fwbuild.readcache import ReadCache
from fwbuild.targets import Target, TargetSet


@dataclass(frozen=True)
class Resolved:
    project: Project
    targets: TargetSet
    target: Target
    layout: Layout


def resolve(project_root: Path | str, target_name: str, cache: ReadCache | None = None) -> Resolved:
    """Read ``fwbuild.json``, resolve the target with the overrides, compute the layout.
    ``cache`` remembers which config files already passed their schema."""
    project = load_project(project_root, cache)
    targets = project.target_set(cache)
    base = targets.resolve(target_name)
    target = targets.resolve(target_name, project.overrides_for(base, targets))
    return Resolved(project, targets, target, compute_layout(target))
