"""fwbuild new: the layout it writes resolves for every shipped target; bad requests fail
before anything is written."""

import json

import pytest

from fwbuild.cli import main
from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.keyfacts import marked_as_development
from fwbuild.newrepo import LAYOUTS, new_repo
from fwbuild.resolve import resolve
from fwbuild.sectors import SectorMap
from fwbuild.targets import TargetSet

PUBLIC = TargetSet().public_names()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("target", PUBLIC)
def test_every_target_and_layout_resolves(tmp_path, target, layout):
    if layout == "unmanaged" and not TargetSet().resolve(target).vtor:
        # The core takes every exception from the flash start, and an unmanaged bootloader
        # is not known to forward them: refused before anything is written.
        with pytest.raises(ConfigError, match="mbed_app_start: .* no vector-table offset register"):
            new_repo(tmp_path / "fw", target, layout)
        assert not (tmp_path / "fw").exists()
        return
    repo = new_repo(tmp_path / "fw", target, layout)
    resolved = resolve(repo.folder, target)
    assert resolved.layout.mode == {"managed": "managed", "unmanaged": "unmanaged", "plain": "none"}[layout]
    t = resolved.target
    sectors = SectorMap(t.sectors, t.flash_end)
    for region in resolved.layout.regions:
        if region.name != "application" or layout != "managed":
            assert sectors.is_boundary(region.start), region
    if layout == "managed":
        assert resolved.layout.region("header").start == resolved.layout.region("bootloader").end
        assert (repo.folder / "bootloader" / "main.c").is_file()
        assert marked_as_development(repo.folder / "keys" / "dev-signing-key.pem")
        assert (repo.folder / "keys" / "dev-signing-key.pem").stat().st_mode & 0o077 == 0
    else:
        assert not (repo.folder / "keys").exists() and not (repo.folder / "bootloader").exists()


def test_repo_files(tmp_path):
    repo = new_repo(tmp_path / "widget", "K64F")
    sconstruct = (repo.folder / "SConstruct").read_text()
    assert len([line for line in sconstruct.splitlines() if line]) == 3 and "bootloader=" in sconstruct
    config = json.loads((repo.folder / "fwbuild.json").read_text())
    assert config["name"] == "widget" and config["signing"] == {"key": "keys/dev-signing-key.pem"}
    assert config["target_overrides"]["K64F"]["bootloader_img"] == "@bootloader"
    ignore = (repo.folder / ".gitignore").read_text().splitlines()
    assert "*.pem" in ignore and "!/keys/dev-signing-key.pem" in ignore and "/build/" in ignore
    assert "startup.c" not in {p.split("/")[-1] for p in repo.files}


def test_two_repos_get_two_keys(tmp_path):
    first = new_repo(tmp_path / "a", "K64F").folder / "keys" / "dev-signing-key.pem"
    second = new_repo(tmp_path / "b", "K64F").folder / "keys" / "dev-signing-key.pem"
    assert first.read_bytes() != second.read_bytes()


def test_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(["new", str(folder), "--target", "K64F"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not empty" in err and "--force" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert main(["new", str(folder), "--target", "K64F", "--force"]) == 0
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "SConstruct").is_file()


def test_force_never_overwrites(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "SConstruct").write_text("# mine\n")
    assert main(["new", str(folder), "--target", "K64F", "--force"]) == 2
    assert "would overwrite SConstruct" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["SConstruct"]
    assert (folder / "SConstruct").read_text() == "# mine\n"


def test_unknown_target_writes_nothing(tmp_path, capsys):
    assert main(["new", str(tmp_path / "fw"), "--target", "K46F"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'K46F'" in err and "K64F" in err
    assert not (tmp_path / "fw").exists()


def test_a_file_in_the_way(tmp_path):
    (tmp_path / "fw").write_text("")
    with pytest.raises(FwbuildError, match="is not a folder"):
        new_repo(tmp_path / "fw", "K64F")


def test_release_refuses_the_new_key(tmp_path):
    from fwbuild.errors import ConfigError
    from fwbuild.project import load_project
    from fwbuild.signing import choose_signer

    repo = new_repo(tmp_path / "fw", "K64F")
    project = load_project(repo.folder)
    assert choose_signer(project, "debug").signer is not None
    with pytest.raises(ConfigError, match="marked DEVELOPMENT SIGNING KEY"):
        choose_signer(project, "release")
