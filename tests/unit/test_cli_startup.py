"""What `fwbuild sign --target` does before it signs: the schema checks of the config files
it reads are remembered (the build's cache once the project is built, else the user's), so a
second run imports neither jsonschema nor the other commands' code, and a changed file is
still checked in full."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fwbuild.readcache import ReadCache

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from fwbuild.cli import main
status = main(sys.argv[1:])
print("\\n" + json.dumps({"status": status, "jsonschema": "jsonschema" in sys.modules}))
"""


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "tests" / "projects" / "one_stage" / "fwbuild.json", root)
    shutil.copytree(REPO / "example_project" / "keys", root / "keys")
    (root / "app.bin").write_bytes(bytes(range(256)) * 64)
    return root


def sign(project: Path, cache_home: Path, out: str = "signed.bin") -> tuple[dict, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(REPO / "site_scons")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "sign", "--target", "K64F", "--project", str(project),
         str(project / "app.bin"), str(project / out)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    facts = json.loads(result.stdout.strip().splitlines()[-1])  # the probe's own last line
    return facts, result.stderr


def test_a_second_sign_does_not_check_the_schemas_again(project, tmp_path):
    cache_home = tmp_path / "cache"
    first, _ = sign(project, cache_home, "one.bin")
    assert first == {"status": 0, "jsonschema": True}
    user_cache = cache_home / "fwbuild" / "read-cache.json"
    entries = json.loads(user_cache.read_text())
    assert any(key.startswith("valid:") for key in entries)
    second, _ = sign(project, cache_home, "two.bin")
    assert second == {"status": 0, "jsonschema": False}
    assert (project / "one.bin").read_bytes() == (project / "two.bin").read_bytes()


def test_a_changed_config_is_checked_in_full(project, tmp_path):
    cache_home = tmp_path / "cache"
    assert sign(project, cache_home)[0]["status"] == 0
    config = json.loads((project / "fwbuild.json").read_text())
    config["target_overrides"]["K64F"]["restrict_sise"] = "0x1000"  # a typo the schema refuses
    (project / "fwbuild.json").write_text(json.dumps(config))
    facts, stderr = sign(project, cache_home)
    assert facts == {"status": 2, "jsonschema": True}
    assert "error:" in stderr and "restrict_sise" in stderr and "Traceback" not in stderr


def test_a_built_project_uses_the_build_cache(project, tmp_path):
    build_cache = project / "build" / ".fwbuild-cache.json"
    build_cache.parent.mkdir()
    build_cache.write_text("{}\n")
    cache_home = tmp_path / "cache"
    assert sign(project, cache_home)[0] == {"status": 0, "jsonschema": True}
    assert any(key.startswith("valid:") for key in json.loads(build_cache.read_text()))
    assert not (cache_home / "fwbuild").exists()
    assert sign(project, cache_home)[0] == {"status": 0, "jsonschema": False}


def test_an_unwritable_user_cache_is_no_error(project, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be\n")
    facts, stderr = sign(project, blocker)
    assert facts == {"status": 0, "jsonschema": True} and "error" not in stderr


def test_a_shared_cache_keeps_its_newest_entries(tmp_path):
    path = tmp_path / "read-cache.json"
    cache = ReadCache(path, limit=3)
    digests = [f"{i:064x}" for i in range(5, 0, -1)]
    for digest in digests:
        cache.put(f"valid:{digest}", True)
    cache.put(f"valid:{digests[1]}", True)  # already there: not newer
    cache.save()
    assert list(json.loads(path.read_text())) == [f"valid:{d}" for d in digests[2:]]
    again = ReadCache(path, limit=3)
    again.put(f"valid:{'f' * 64}", True)
    again.save()
    assert list(json.loads(path.read_text())) == [f"valid:{d}" for d in [*digests[3:], "f" * 64]]
