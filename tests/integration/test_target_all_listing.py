"""``target=all`` lists the public targets with the run's read cache (the schema checks the
targets' builds remember): every public target is still declared, a project's own target
file is still checked in full, and a broken one still stops the run with its error. Dry
runs (``-n``): nothing is compiled."""

from __future__ import annotations

import json

PROGRESS_LAYOUT = "GEN build/{}/fwbuild_layout.h"


def test_target_all_declares_every_public_target_twice_over(fw, tmp_path):
    project = fw.copy_one_stage(tmp_path / "p")
    first = fw.run_scons(project, "all", "-n", "-Q")
    assert first.returncode == 0, first.describe()
    cache = json.loads((project / "build" / ".fwbuild-cache.json").read_text())
    assert sum(key.startswith("valid:") for key in cache) >= len(fw.public_targets())
    again = fw.run_scons(project, "all", "-n", "-Q")  # now from the remembered checks
    assert again.returncode == 0, again.describe()
    for target in fw.public_targets():
        assert PROGRESS_LAYOUT.format(target) in again.stdout, target
    assert sorted(again.steps) == sorted(first.steps)


def test_a_projects_broken_target_file_still_stops_target_all(fw, tmp_path):
    project = fw.copy_one_stage(tmp_path / "p")
    assert fw.run_scons(project, "all", "-n", "-Q").returncode == 0
    (project / "targets").mkdir()
    board = {"inherits": "K64F", "public": True, "flash": {"size": "0x100000", "sectorz": []}}
    (project / "targets" / "MY_BOARD.json").write_text(json.dumps(board))
    fw.edit_project(project, targets_dirs=["targets"])
    broken = fw.run_scons(project, "all", "-n", "-Q")
    assert broken.returncode != 0, broken.describe()
    assert "error:" in broken.stderr and "MY_BOARD.json" in broken.stderr, broken.describe()
    assert "Traceback" not in broken.output
