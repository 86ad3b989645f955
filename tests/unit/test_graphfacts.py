"""Remembered graph facts: they come back while nothing they were computed from changes,
and never after."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from fwbuild import graphfacts
from fwbuild.resolve import resolve
from fwbuild.signing import choose_signer

TARGET = "MY_BOARD"


def settings(root: Path, **changes) -> dict:
    base = {"target": TARGET, "profile": "debug", "signs": True, "sign_key": None, "sign_command": None}
    return {**base, "launch_dir": None, **changes}


def computed(root: Path, profile: str = "debug") -> dict:
    resolved = resolve(root, TARGET)
    choice = choose_signer(resolved.project, profile, cwd=root) if resolved.layout.region("header") else None
    return graphfacts.compute(resolved, choice, profile)


@pytest.fixture
def project(ws, key_files):
    """A managed board of the project's own, a prebuilt bootloader and a signing key."""
    (ws.root / "boot.bin").write_bytes(bytes(range(256)) * 16)
    shutil.copy(key_files["ecdsa-p256"], ws.root / "signing.pem")
    ws.target(TARGET, {"inherits": "MPS2_AN385", "description": "a board"})
    layout = {"bootloader_img": "boot.bin", "header_offset": "0x8000", "app_offset": "0x8400"}
    ws.project(version="1.2.3", signing={"key": "signing.pem"}, target_overrides={TARGET: layout})
    return ws


def long_after() -> float:
    """A resolution start well after the project's files were written: facts computed from
    inputs changed within seconds of their resolution are not kept (see the race test), and
    these tests write their inputs just before."""
    return time.time() + graphfacts.FRESH_SECONDS + 1


def remembered(root: Path) -> Path:
    cache = root / "build" / ".fwbuild-graph.json"
    kept, _ = graphfacts.remember(cache, root, settings(root), computed(root), long_after())
    assert kept
    return cache


def test_remembered_facts_are_the_computed_ones(project):
    root = project.root
    cache = remembered(root)
    facts = graphfacts.lookup(cache, root, settings(root))
    assert facts == computed(root)
    assert facts == json.loads(json.dumps(facts))  # plain JSON, the same whichever way they came
    boot, app = facts["stages"]
    signing = app["slots"][0]["signing"]
    assert facts["mode"] == "managed" and signing["signed"] and signing["deterministic"]
    assert (boot["built"], boot["image"]) == (False, str(root / "boot.bin"))
    assert str(root / "signing.pem") in facts["read"] and str(root / "boot.bin") in facts["read"]


def edit_project(ws):
    data = json.loads((ws.root / "fwbuild.json").read_text())
    ws.project(**{**data, "version": "1.2.4"})


def edit_target(ws):
    ws.target(TARGET, {"inherits": "MPS2_AN385", "description": "a board", "stack_size": "0x2000"})


def add_target(ws):
    ws.target("ANOTHER_BOARD", {"inherits": "MPS2_AN385"})


def replace_key(ws, key_files):
    shutil.copy(key_files["ed25519"], ws.root / "signing.pem")


def rebuild_bootloader(ws):
    (ws.root / "boot.bin").write_bytes(bytes(4096))


@pytest.mark.parametrize(
    "change",
    [edit_project, edit_target, add_target, replace_key, rebuild_bootloader],
    ids=["fwbuild.json", "target file", "new target file", "signing key", "prebuilt bootloader"],
)
def test_a_changed_file_computes_them_again(project, key_files, change):
    root = project.root
    cache = remembered(root)
    if change is replace_key:
        change(project, key_files)
    else:
        change(project)
    assert graphfacts.lookup(cache, root, settings(root)) is None


def test_a_changed_setting_or_variable_computes_them_again(project, monkeypatch):
    root = project.root
    cache = remembered(root)
    assert graphfacts.lookup(cache, root, settings(root, profile="release")) is None
    assert graphfacts.lookup(cache, root, settings(root, sign_key="other.pem")) is None
    assert graphfacts.lookup(cache, root, settings(root, launch_dir="/elsewhere")) is None
    assert graphfacts.lookup(cache, root, settings(root)) is not None
    monkeypatch.setenv("FWBUILD_SIGNING_KEY", str(root / "signing.pem"))
    assert graphfacts.lookup(cache, root, settings(root)) is None


def test_changed_code_computes_them_again(project, tmp_path, monkeypatch):
    code = tmp_path / "package"
    (code / "scons").mkdir(parents=True)
    (code / "layout.py").write_text("# one\n")
    (code / "scons" / "pipeline.py").write_text("# reads the facts\n")
    monkeypatch.setattr(graphfacts, "PACKAGE_DIR", code)
    root = project.root
    cache = remembered(root)
    assert graphfacts.lookup(cache, root, settings(root)) is not None
    (code / "layout.py").write_text("# one, edited\n")
    assert graphfacts.lookup(cache, root, settings(root)) is None
    cache = remembered(root)
    assert graphfacts.lookup(cache, root, settings(root)) is not None
    (code / "scons" / "pipeline.py").write_text("# reads the facts differently\n")
    assert graphfacts.lookup(cache, root, settings(root)) is None


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"x": 1}'])
def test_a_damaged_file_computes_them_again(project, content):
    root = project.root
    cache = remembered(root)
    cache.write_text(content)
    assert graphfacts.lookup(cache, root, settings(root)) is None


def test_one_entry_per_profile(project):
    """Switching profiles keeps both; other settings replace the profile's entry, so the
    file does not grow with every key or folder a build was started with."""
    root = project.root
    cache = remembered(root)
    release = settings(root, profile="release")
    graphfacts.remember(cache, root, release, computed(root, "release"), long_after())
    assert graphfacts.lookup(cache, root, settings(root)) is not None
    assert graphfacts.lookup(cache, root, release) is not None
    moved = settings(root, sign_key="signing.pem", launch_dir=str(root))
    graphfacts.remember(cache, root, moved, computed(root), long_after())
    assert graphfacts.lookup(cache, root, moved) is not None
    assert graphfacts.lookup(cache, root, settings(root)) is None
    assert sorted(json.loads(cache.read_text())) == ["debug signed", "release signed"]


def test_an_input_changed_while_they_were_computed_is_not_trusted(project):
    """The record is taken after computing: a file saved in between (or too recently for
    its time to tell) would make the record describe contents the facts never saw."""
    root = project.root
    started = time.time()
    facts = computed(root)
    edit_target(project)  # saved by an editor while the build was resolving
    cache = root / "build" / ".fwbuild-graph.json"
    assert graphfacts.remember(cache, root, settings(root), facts, started) == (False, [])
    assert graphfacts.lookup(cache, root, settings(root)) is None


def test_a_repointed_symlink_computes_them_again(project, key_files):
    """The config names a link; what it points to is read, and a new target is noticed."""
    root = project.root
    (root / "keys").mkdir()
    shutil.copy(key_files["ed25519"], root / "keys" / "next.pem")
    (root / "signing.pem").rename(root / "keys" / "first.pem")
    (root / "signing.pem").symlink_to(root / "keys" / "first.pem")
    cache = remembered(root)
    assert graphfacts.lookup(cache, root, settings(root)) is not None
    (root / "signing.pem").unlink()
    (root / "signing.pem").symlink_to(root / "keys" / "next.pem")
    assert graphfacts.lookup(cache, root, settings(root)) is None


def test_a_key_password_is_never_written_down(project, keys, monkeypatch):
    keys.write(project.root / "signing.pem", keys.generate("ecdsa-p256"), password=b"not-in-the-file")
    monkeypatch.setenv("FWBUILD_SIGNING_KEY_PASSWORD", "not-in-the-file")
    cache = remembered(project.root)
    assert "not-in-the-file" not in cache.read_text()
    # With a password, only opening the key tells whether it still opens it: a build that
    # signs resolves again, so a wrong password is an error even with nothing to rebuild.
    assert graphfacts.lookup(cache, project.root, settings(project.root)) is None


def test_an_input_from_the_future_is_named_and_nothing_is_kept(project):
    root = project.root
    ahead = time.time() + 3600
    os.utime(root / "fwbuild.json", (ahead, ahead))
    cache = root / "cache.json"
    kept, future = graphfacts.remember(cache, root, settings(root), computed(root), long_after())
    assert not kept and future == [str(root / "fwbuild.json")]
    assert not cache.exists()
