"""Every output of every profile is the same in any checkout folder: debug builds too
(their DWARF carries the compiler's working directory and every file's path), from the
project's own SConstruct or from one in a folder above it, with the default start-up code
and the generated header in the build folder, and in a folder whose name holds a space."""

from __future__ import annotations

import pytest

EPOCH = "1700000000"


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def outputs(build_dir):
    return {
        p.relative_to(build_dir).as_posix(): p.read_bytes()
        for p in sorted(build_dir.rglob("*"))
        if p.is_file()
    }


def same_everywhere(first, second, target, checkouts):
    """Every file of the two build folders is byte-identical, and none holds a checkout's path."""
    one, two = outputs(first / "build" / target), outputs(second / "build" / target)
    assert sorted(one) == sorted(two)
    assert any(name.endswith(".o") for name in one) and any(name.endswith(".elf") for name in one)
    different = [name for name in one if one[name] != two[name]]
    assert different == [], f"differ between {first} and {second}: {different}"
    for name, data in one.items():
        for folder in checkouts:
            assert str(folder).encode() not in data, f"{name} holds the checkout path {folder}"


def build(fw, where, target, *args):
    result = fw.run_scons(where, target, *args)
    assert result.returncode == 0, result.describe()
    return result


@pytest.mark.parametrize("target", ["K64F", "MPS2_AN385"])
def test_debug_builds_in_two_checkouts(fw, tmp_path, target):
    first = fw.copy_project(fw.EXAMPLE, tmp_path / "a" / "fw")
    second = fw.copy_project(fw.EXAMPLE, tmp_path / "elsewhere with spaces" / "much deeper" / "firmware-repo")
    for project in (first, second):
        build(fw, project, target, "profile=debug")
    same_everywhere(first, second, target, [tmp_path])


def root_clone(fw, where):
    """The repository's layout: the root SConstruct that SConscripts example_project's."""
    fw.copy_project(fw.EXAMPLE, where / "example_project")
    (where / "SConstruct").write_text((fw.REPO / "SConstruct").read_text())
    return where


@pytest.mark.parametrize("profile", ["debug", "release"])
def test_root_sconstruct_in_two_clones(fw, tmp_path, key_files, profile):
    """SCons runs the compiler in the clone's root, above the project: that folder is as
    much a part of the checkout path as the project's."""
    first = root_clone(fw, tmp_path / "fwbuild")
    second = root_clone(fw, tmp_path / "work" / "my clone of fwbuild")
    for clone in (first, second):
        build(fw, clone, "K64F", f"profile={profile}", f"sign_key={key_files['ecdsa-p256']}")
    same_everywhere(first, second, "K64F", [tmp_path])


def startup_repo(fw, where, name):
    """A repo from `fwbuild new` (only app/main.c and a board file: the default start-up
    code is generated into build/), SConscripted from an SConstruct in the folder above."""
    result = fw.run_fwbuild("new", where / name, "--target", "K64F", "--layout", "plain")
    assert result.returncode == 0, result.describe()
    sconstruct = where / name / "SConstruct"
    # "#common" is relative to the top folder, which is now the one above: name it from here.
    sconstruct.write_text(sconstruct.read_text().replace('"#common"', 'Dir("common")'))
    (where / "SConstruct").write_text(f'SConscript("{name}/SConstruct")\n')
    return where


def test_default_startup_code_from_a_parent_sconstruct(fw, tmp_path):
    first = startup_repo(fw, tmp_path / "one", "firmware")
    second = startup_repo(fw, tmp_path / "two" / "other place", "firmware")
    for top in (first, second):
        build(fw, top, "K64F", "profile=debug")
    same_everywhere(first, second, "K64F", [tmp_path])
    names = outputs(first / "build" / "K64F")
    assert "fwbuild-startup/startup.c" in names and "fwbuild_layout.h" in names
    assert any(name.startswith("fwbuild-startup/") and name.endswith("startup.o") for name in names)
