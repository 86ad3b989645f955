"""fwbuild.shipped: the shipped files inside an installed package, else at a checkout's top."""

from pathlib import Path

import pytest
from conftest import REPO

import fwbuild
from fwbuild import shipped
from fwbuild.cli import main
from fwbuild.errors import FwbuildError
from fwbuild.graphfacts import SHIPPED_TARGETS_DIR
from fwbuild.jsonfile import SCHEMA_DIR
from fwbuild.linker import DEFAULT_TEMPLATE
from fwbuild.targets import BUILTIN_TARGETS_DIR

ALL = (shipped.TARGETS, shipped.TEMPLATES, shipped.TOOL, shipped.EXAMPLE)


def _fill(folder: Path, item: shipped.Shipped) -> Path:
    """A copy of ``item`` in ``folder``: just its marker file."""
    (folder / item.marker).parent.mkdir(parents=True, exist_ok=True)
    (folder / item.marker).write_text("")
    return folder


def test_a_checkout_finds_them_at_its_top():
    assert shipped.PACKAGE_DIR == REPO / "site_scons" / "fwbuild"
    assert shipped.targets_dir() == REPO / "targets"
    assert shipped.templates_dir() == REPO / "templates"
    assert shipped.tool_dir() == REPO / "site_scons" / "site_tools"
    assert shipped.example_dir() == REPO / "example_project"


def test_the_module_constants_come_from_the_locator():
    assert BUILTIN_TARGETS_DIR == SCHEMA_DIR == SHIPPED_TARGETS_DIR == shipped.targets_dir()
    assert shipped.templates_dir() / "gcc_arm.ld.j2" == DEFAULT_TEMPLATE
    assert Path(fwbuild.scons_toolpath()) == shipped.tool_dir()
    assert (Path(fwbuild.scons_toolpath()) / "fwbuild.py").is_file()


@pytest.mark.parametrize("item", ALL, ids=lambda i: i.installed)
def test_an_installed_package_finds_them_inside_itself(tmp_path, item):
    package = tmp_path / "site-packages" / "fwbuild"
    _fill(package / item.installed, item)
    assert item.locate(package) == package / item.installed


@pytest.mark.parametrize("item", ALL, ids=lambda i: i.installed)
def test_the_package_copy_wins_over_the_checkout(tmp_path, item):
    package = tmp_path / "site_scons" / "fwbuild"
    _fill(tmp_path / item.checkout, item)
    assert item.locate(package) == tmp_path / item.checkout
    _fill(package / item.installed, item)
    assert item.locate(package) == package / item.installed


def test_a_checkout_counts_only_around_site_scons(tmp_path):
    """An installed package's grandparent is no checkout, whatever lies there."""
    package = tmp_path / "lib" / "fwbuild"
    _fill(tmp_path / "targets", shipped.TARGETS)
    assert shipped.TARGETS.places(package) == (package / "targets",)
    assert shipped.TARGETS.find(package) is None


def test_missing_in_both_places_says_what_and_to_reinstall(tmp_path):
    package = tmp_path / "site_scons" / "fwbuild"
    with pytest.raises(shipped.ShippedFileMissing) as caught:
        shipped.TOOL.locate(package)
    message = str(caught.value)
    assert isinstance(caught.value, FwbuildError)  # reported as a user error, no traceback
    assert "SCons tool" in message and "reinstall fwbuild" in message
    assert str(package / "site_tools" / "fwbuild.py") in message
    assert str(tmp_path / "site_scons" / "site_tools" / "fwbuild.py") in message
    # constants computed on import do not fail: they point where an install keeps it
    assert shipped.TOOL.expected(package) == package / "site_tools"


def test_a_missing_file_in_a_present_folder_is_named(tmp_path):
    package = tmp_path / "site-packages" / "fwbuild"
    _fill(package / "targets", shipped.TARGETS)
    assert shipped.TARGETS.file("schema.json", package) == package / "targets" / "schema.json"
    with pytest.raises(shipped.ShippedFileMissing, match=r"project-schema\.json.*reinstall fwbuild"):
        shipped.TARGETS.file("project-schema.json", package)


def test_the_command_line_reports_missing_targets_as_a_broken_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shipped, "PACKAGE_DIR", tmp_path / "site-packages" / "fwbuild")
    monkeypatch.chdir(tmp_path)
    assert main(["targets"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fwbuild's target files and JSON schemas are missing")
    assert "reinstall fwbuild" in err and "check targets_dirs" not in err


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"fwbuild {fwbuild.__version__}\n"
