"""The build's timestamp: SOURCE_DATE_EPOCH, else the firmware repo's HEAD commit time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fwbuild.errors import ConfigError


@dataclass(frozen=True)
class Epoch:
    seconds: int
    source: str  # "SOURCE_DATE_EPOCH", "git HEAD" or "current time"


def build_epoch(project_root: Path, env: Mapping[str, str], profile: str) -> Epoch:
    """Release builds must be reproducible, so they never fall back to the clock."""
    value = env.get("SOURCE_DATE_EPOCH")
    if value is not None:
        if not value.strip().isdigit():
            raise ConfigError(
                None,
                f"SOURCE_DATE_EPOCH={value!r}",
                "is not a whole number of seconds",
                "set it to e.g. $(git log -1 --format=%ct)",
            )
        return Epoch(int(value), "SOURCE_DATE_EPOCH")
    commit_time = _git_head_time(project_root)
    if commit_time is not None:
        return Epoch(commit_time, "git HEAD")
    if profile == "release":
        raise ConfigError(
            project_root,
            None,
            "a release build needs a reproducible timestamp for the firmware header, and this "
            "folder is not a git checkout",
            "set SOURCE_DATE_EPOCH (seconds since 1970), e.g. SOURCE_DATE_EPOCH=1700000000",
        )
    return Epoch(int(time.time()), "current time")


def _git_head_time(root: Path) -> int | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.strip()
    return int(text) if result.returncode == 0 and text.isdigit() else None
