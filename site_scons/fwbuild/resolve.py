"""One call from (project folder, target name) to the checked project, target and layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fwbuild.errors import ConfigError
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
    layout = compute_layout(target)
    _check_trailer(project, target, layout)
    return Resolved(project, targets, target, layout)


def _check_trailer(project: Project, target: Target, layout: Layout) -> None:
    """An image trailer (signing.pad/confirm) needs a write size MCUboot's trailer knows;
    said here, before anything is built, with the keys on both sides."""
    from fwbuild.mcuboot import TRAILER_ALIGNS

    signing = project.signing
    if not (signing.pad or signing.confirm) or not layout.has_headers:
        return
    if target.write_size not in TRAILER_ALIGNS:
        key = "signing.confirm" if signing.confirm else "signing.pad"
        raise ConfigError(
            signing.file or project.file or project.root,
            key,
            f"{target.name} writes flash in {target.write_size}-byte units (flash.write_size in "
            f"{target.file}), and MCUboot's image trailer knows write sizes "
            f"{', '.join(map(str, TRAILER_ALIGNS))} only",
            f"remove {key} for this target (an overwrite-only bootloader needs no trailer)",
        )
