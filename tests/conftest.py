"""Shared helpers: inline targets and projects written to a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


class Workspace:
    """A temporary firmware repo: ``target(name, **data)`` and ``project(**data)`` write JSON."""

    def __init__(self, root: Path):
        self.root = root
        self.targets_dir = root / "targets"
        self.targets_dir.mkdir()

    def target(self, name: str, data: dict[str, Any] | str) -> Path:
        path = self.targets_dir / f"{name}.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return path

    def project(self, **data: Any) -> Path:
        data.setdefault("targets_dirs", ["targets"])
        path = self.root / "fwbuild.json"
        path.write_text(json.dumps(data))
        return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)
