"""fwbuild as an installed dependency. The sdist and, from it, the wheel are built from a
clean clone of the committed repository; the wheel, installed (not editable) in a fresh
venv, lists the targets and builds a copy of the example project with its own tool,
targets and templates, far from any checkout. Building a wheel writes nothing into the
sources it is built from: neither the clone nor the checkout itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

import fwbuild

SHIPPED = (
    "fwbuild/site_tools/fwbuild.py",
    "fwbuild/targets/K64F.json",
    "fwbuild/targets/schema.json",
    "fwbuild/targets/project-schema.json",
    "fwbuild/templates/gcc_arm.ld.j2",
    "fwbuild/example/app/main.c",
    "fwbuild/example/bootloader/main.c",
    "fwbuild/example/common/startup.c",
    "fwbuild/py.typed",
)
INSTALL_TIMEOUT = 300


@dataclass(frozen=True)
class Packaged:
    clone: Path  # the clean clone the sdist was made from
    sdist: Path
    wheel: Path
    venv: Path  # the wheel installed, not editable
    checkout_status: tuple[str, str]  # ignored files in the checkout, before and after all this
    clone_status: tuple[str, str]  # `git status` of the clone before and after building

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def _status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--ignored", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def _ignored(repo: Path) -> str:
    """What a build leaves in a checkout (build/, *.egg-info, __pycache__) is ignored by git:
    only these lines are compared. People editing the checkout while the tests run change
    the rest."""
    return "".join(line for line in _status(repo).splitlines(keepends=True) if line.startswith("!! "))


def _run(fw, args: list[str | Path], cwd: Path, timeout: float = INSTALL_TIMEOUT):
    """Run a command as a user of the installed package would: no PYTHONPATH leading back
    to a checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    argv = [str(a) for a in args]
    proc = subprocess.run(
        argv, capture_output=True, text=True, errors="replace", timeout=timeout, cwd=cwd, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return fw.Run(argv, proc.returncode, proc.stdout, proc.stderr)


def _ok(result):
    assert result.returncode == 0, result.describe()
    return result


@pytest.fixture(scope="module")
def packaged(fw, tmp_path_factory) -> Callable[[], Packaged]:
    """``packaged()``: sdist, wheel and venv, made on first use (in a test body, so that a
    failure fails the test)."""
    made: list[Packaged] = []

    def get() -> Packaged:
        if not made:
            root = tmp_path_factory.mktemp("wheel")
            checkout_before = _ignored(fw.REPO)
            clone, dist, venv = root / "clone", root / "dist", root / "venv"
            _ok(_run(fw, ["git", "clone", "-q", "--no-hardlinks", fw.REPO, clone], cwd=root))
            before = _status(clone)
            # the sdist, then the wheel built from the sdist: the sdist must hold all it needs
            _ok(_run(fw, [sys.executable, "-m", "build", "--outdir", dist, clone], cwd=root))
            after = _status(clone)
            (sdist,), (wheel,) = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
            _ok(_run(fw, [sys.executable, "-m", "venv", venv], cwd=root))
            pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            _ok(_run(fw, [*pip, wheel], cwd=root))
            # straight from the checkout, as `pip install /path/to/checkout` does
            pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", fw.REPO]
            _ok(_run(fw, [*pip_wheel, "-w", root / "from-checkout"], cwd=root))
            checkout = (checkout_before, _ignored(fw.REPO))
            made.append(Packaged(clone, sdist, wheel, venv, checkout, (before, after)))
        return made[0]

    return get


def test_the_wheel_carries_what_fwbuild_reads(packaged):
    p = packaged()
    names = zipfile.ZipFile(p.wheel).namelist()
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, f"{p.wheel.name} lacks {missing}"
    # every module of the package, sub-packages included, and every shipped target file
    tracked = subprocess.run(
        ["git", "ls-files", "site_scons/fwbuild", "targets", "templates"],
        cwd=p.clone, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    expected = ["fwbuild/" + name.removeprefix("site_scons/fwbuild/") for name in tracked]
    assert sorted(set(expected) - set(names)) == []


def test_the_wheel_holds_no_key_build_output_or_bytecode(packaged):
    p = packaged()
    names = zipfile.ZipFile(p.wheel).namelist()
    info = f"fwbuild-{fwbuild.__version__}.dist-info/"
    stray = [n for n in names if not n.startswith(("fwbuild/", info))]
    assert not stray, f"outside the package: {stray}"
    parts = {part for n in names for part in PurePosixPath(n).parts}
    assert not {"__pycache__", "build", "keys", "example_project"} & parts, sorted(parts)
    assert not [n for n in names if n.endswith((".pem", ".key", ".pyc", ".o", ".elf", ".hex", ".bin"))]
    example = {PurePosixPath(n).parts[2] for n in names if n.startswith("fwbuild/example/")}
    assert example == {"app", "bootloader", "common"}


def test_the_wheel_metadata_has_the_package_version(packaged):
    p = packaged()
    assert p.wheel.name == f"fwbuild-{fwbuild.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(p.wheel) as wheel:
        metadata = wheel.read(f"fwbuild-{fwbuild.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {fwbuild.__version__}\n" in metadata


def test_the_sdist_holds_the_sources_and_no_keys(packaged):
    p = packaged()
    top = f"fwbuild-{fwbuild.__version__}/"
    with tarfile.open(p.sdist) as sdist:
        names = [n.removeprefix(top) for n in sdist.getnames()]
    for name in (
        "pyproject.toml",
        "README.md",
        "site_scons/fwbuild/__init__.py",
        "site_scons/site_tools/fwbuild.py",
        "targets/K64F.json",
        "templates/gcc_arm.ld.j2",
        "example_project/bootloader/main.c",
    ):
        assert name in names, f"{p.sdist.name} lacks {name}"
    assert not [n for n in names if n.endswith((".pem", ".key")) or "/keys/" in n or "__pycache__" in n]


def test_building_writes_nothing_into_the_sources(packaged):
    before, after = packaged().clone_status
    assert before == "" and after == "", f"the build left in its sources:\n{after}"


def test_installed_version(fw, packaged, tmp_path):
    result = _ok(_run(fw, [packaged().bin("fwbuild"), "--version"], cwd=tmp_path))
    assert result.stdout == f"fwbuild {fwbuild.__version__}\n"


def test_installed_targets(fw, packaged, tmp_path):
    result = _ok(_run(fw, [packaged().bin("fwbuild"), "targets"], cwd=tmp_path))
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert {"K64F", "MPS2_AN385"} <= set(names), result.describe()


def test_installed_package_reads_only_its_own_files(fw, packaged, tmp_path):
    p = packaged()
    code = (
        "import fwbuild, fwbuild.shipped as s\n"
        "print(fwbuild.__file__, fwbuild.scons_toolpath())\n"
        "print(s.targets_dir(), s.templates_dir(), s.example_dir())\n"
        "print(*(place for item in (s.TARGETS, s.TEMPLATES, s.TOOL, s.EXAMPLE) for place in item.places()))\n"
    )
    paths = [Path(word) for word in _ok(_run(fw, [p.bin("python"), "-c", code], cwd=tmp_path)).stdout.split()]
    site = p.venv.resolve()
    outside = [path for path in paths if not path.is_relative_to(site)]
    assert not outside, f"not in the venv: {outside}"
    assert Path(paths[1]) == Path(paths[0]).parent / "site_tools"


def test_installed_package_builds_the_example(fw, packaged, tmp_path):
    p = packaged()
    project = fw.copy_project(p.clone / "example_project", tmp_path / "firmware")
    result = _run(fw, [p.bin("scons"), "-C", project, "-j2", "target=K64F"], cwd=tmp_path)
    assert result.returncode == 0, result.describe()
    assert (project / "build" / "K64F" / "combined.hex").is_file()
    assert (project / "build" / "K64F" / "app-signed.bin").is_file()
    info = json.loads((project / "build" / "K64F" / "build-info.json").read_text())
    assert info["packages"]["fwbuild"] == fwbuild.__version__


def test_the_checkout_is_unchanged(fw, packaged):
    before, after = packaged().checkout_status
    assert after == before
    assert _ignored(fw.REPO) == before


@pytest.mark.parametrize("target", ["K64F", "MPS2_AN385"])
def test_installed_fwbuild_new_builds(fw, packaged, tmp_path, target):
    """A user's first steps: ``fwbuild new`` from the installed wheel, then ``scons``, far
    from any checkout; the MPS2_AN385 repo boots under QEMU (``scons run``)."""
    p = packaged()
    repo = tmp_path / "my-firmware"
    _ok(_run(fw, [p.bin("fwbuild"), "new", repo, "--target", target], cwd=tmp_path))
    result = _ok(_run(fw, [p.bin("scons"), "-j2", f"target={target}"], cwd=repo))
    assert (repo / "build" / target / "combined.hex").is_file(), result.describe()
    if target == "MPS2_AN385":
        booted = _ok(_run(fw, [p.bin("scons"), f"target={target}", "run"], cwd=repo))
        lines = booted.output.splitlines()
        assert "fwbuild example app 0.1.0 on MPS2_AN385" in lines, booted.describe()
