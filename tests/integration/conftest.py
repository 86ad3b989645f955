"""Integration fixtures: real arm-none-eabi-gcc builds in temporary copies, real QEMU boots.

Every build runs ``scons -C <copy> target=NAME`` in a copy of a project under ``tmp_path``
(never in the repository). Builds that several tests read are made once per session.
A missing cross compiler or QEMU fails the tests (it never skips them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_project"
PROJECTS = REPO / "tests" / "projects"
TEMPLATE = REPO / "templates" / "gcc_arm.ld.j2"
BIN = Path(sys.executable).parent
SCONS = BIN / "scons"
FWBUILD = BIN / "fwbuild"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "qemu-system-arm", "timeout", "cc")
BUILD_TIMEOUT = 300
# One line per build step in the default (non-verbose) log, after a progress counter:
# "[3/24] CC app/main.c", "[9/24] LINK build/K64F/app.elf".
PROGRESS_RE = re.compile(r"^\[\d+/\d+\] ")
STEP_RE = re.compile(r"^(?:\[\d+/\d+\] )?([A-Z][A-Z0-9_]*) (\S+)$")


def log_lines(text: str) -> list[str]:
    """The log's lines without their progress counters."""
    return [PROGRESS_RE.sub("", line) for line in text.splitlines()]


def public_targets() -> list[str]:
    from fwbuild.targets import TargetSet

    return TargetSet().public_names()


def require_tools() -> None:
    """Fail (never skip) when the tool chain the integration tests need is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [str(path) for path in (SCONS, FWBUILD) if not path.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run ./setup.sh", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Check the tools in the test's call phase, so that a missing one FAILS every test.

    (Builds happen in test bodies, never in fixture set-up, for the same reason.)"""
    require_tools()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the tool is imported from the repo: write nothing there
    return env


def copy_project(src: Path, dest: Path) -> Path:
    """A private copy of a firmware project, without any build output."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", ".sconsign*", "__pycache__"))
    return dest


ONE_STAGE = PROJECTS / "one_stage"


def copy_one_stage(dest: Path) -> Path:
    """The example with the one-stage Mbed layout on MPS2_AN385 too (its bootloader at 0x0,
    the MCUboot slot at 0x8000, a candidate): tests/projects/one_stage/fwbuild.json."""
    copy_project(EXAMPLE, dest)
    shutil.copy(ONE_STAGE / "fwbuild.json", dest / "fwbuild.json")
    return dest


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def steps(self) -> list[tuple[str, str]]:
        """(verb, file) of every build step the log shows."""
        return [m.groups() for m in map(STEP_RE.match, self.stdout.splitlines()) if m]

    def count(self, verb: str) -> int:
        return sum(1 for v, _ in self.steps if v == verb)

    def files(self, verb: str) -> list[str]:
        return [f for v, f in self.steps if v == verb]

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit status {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def run(args: list[str | Path], timeout: float = BUILD_TIMEOUT, cwd: Path | None = None) -> Run:
    argv = [str(a) for a in args]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    return Run(argv, proc.returncode, proc.stdout, proc.stderr)


def run_scons(project: Path, target: str, *args: str, jobs: int = 2) -> Run:
    require_tools()
    return run([SCONS, "-C", project, f"-j{jobs}", f"target={target}", *args])


def run_fwbuild(*args: str | Path, cwd: Path | None = None) -> Run:
    require_tools()
    return run([FWBUILD, *args], timeout=60, cwd=cwd)


def run_qemu(
    image: Path | str,
    timeout: int = 10,
    machine: str = "mps2-an385",
    loads: Sequence[tuple[Path | str, int]] = (),
) -> tuple[int, str]:
    """Boot ``image`` with semihosting; returns (exit status, semihosting text + console).

    ``loads`` puts more files in memory before the boot (a candidate image at its slot).
    QEMU prints semihosting output on stderr; SYS_EXIT_EXTENDED sets its exit status.
    ``timeout`` ends a firmware that never exits (status 124).
    """
    require_tools()
    cmd = ["timeout", str(timeout), "qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none"]
    cmd += ["-semihosting-config", "enable=on,target=native", "-kernel", str(image)]
    for path, address in loads:
        cmd += ["-device", f"loader,file={path},addr={address:#x},force-raw=on"]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout + 30,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stderr + proc.stdout


def kill_build_after(project: Path, target: str, step: str, *args: str) -> int:
    """Start ``scons target=...`` (one job), SIGKILL its whole process group as soon as the
    log shows ``step`` (the step's action is then running), and wait for it. Returns the
    exit status: -SIGKILL when it was killed."""
    require_tools()
    env = {**_env(), "PYTHONUNBUFFERED": "1"}
    argv = [str(SCONS), "-C", str(project), "-j1", f"target={target}", *args]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if PROGRESS_RE.sub("", line.rstrip("\n")) == step:
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.stdout.close()
        proc.wait(timeout=BUILD_TIMEOUT)
    return proc.returncode


def next_second() -> None:
    """Wait for the next whole second of the wall clock. File times are often compared in
    whole seconds: this separates an edit from the previous build, or puts a build and its
    rebuild in the same second, deterministically (nothing is asserted about time)."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def settle(folder: Path) -> None:
    """Wait until a project's files, and the shipped target files, last changed more than
    2 s ago. A build does not remember its graph facts from inputs changed within seconds of
    it (their times cannot tell a later edit apart), and a test of the remembered path
    writes its project just before building it."""
    paths = [folder, *folder.rglob("*"), *(REPO / "targets").glob("*.json")]
    newest = max(max(p.lstat().st_mtime, p.lstat().st_ctime) for p in paths)
    time.sleep(max(0.0, newest + 2.5 - time.time()))


# -- builds --------------------------------------------------------------------------------
@dataclass
class Build:
    project: Path
    target: str
    result: Run

    @property
    def dir(self) -> Path:
        return self.project / "build" / self.target

    @property
    def elf(self) -> Path:
        return self.dir / "app.elf"

    def layout(self) -> dict[str, Any]:
        return json.loads((self.dir / "layout.json").read_text())

    def region(self, name: str) -> dict[str, Any]:
        return region_of(self.layout(), name)

    def require_ok(self) -> Build:
        assert self.result.returncode == 0, self.result.describe()
        return self


def region_of(layout: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in layout["regions"] if r["name"] == name]
    assert found, f"no region '{name}' in {layout['regions']}"
    return found[0]


def build_copy(src: Path, dest: Path, target: str, *args: str) -> Build:
    project = copy_project(src, dest)
    return Build(project, target, run_scons(project, target, *args))


@pytest.fixture(scope="session")
def example_build(
    tmp_path_factory: pytest.TempPathFactory, key_files: dict[str, Path]
) -> Iterator[Callable[..., Build]]:
    """``example_build(target, profile="debug", one_stage=False)``: the example project built
    once per session; with ``one_stage`` its one-stage layout on every target (copy_one_stage).
    Release builds sign with a throw-away key: they refuse the example's development keys."""
    cache: dict[tuple[str, str, bool], Build] = {}

    def get(target: str, profile: str = "debug", one_stage: bool = False) -> Build:
        key = (target, profile, one_stage)
        if key not in cache:
            dest = tmp_path_factory.mktemp(f"example-{target}-{profile}") / "project"
            args = [f"profile={profile}"]
            if profile == "release":
                args.append(f"sign_key={key_files['ed25519']}")
            if one_stage:
                copy_one_stage(dest)
                cache[key] = Build(dest, target, run_scons(dest, target, *args))
            else:
                cache[key] = build_copy(EXAMPLE, dest, target, *args)
        return cache[key].require_ok()

    yield get


# -- ELF, read independently of fwbuild.elfcheck -------------------------------------------
@dataclass
class Segment:
    paddr: int
    vaddr: int
    filesz: int
    memsz: int
    data: bytes


def load_segments(elf_path: Path) -> list[Segment]:
    """Every PT_LOAD of the ELF, in file order."""
    from elftools.elf.elffile import ELFFile

    with elf_path.open("rb") as stream:
        return [
            Segment(s["p_paddr"], s["p_vaddr"], s["p_filesz"], s["p_memsz"], s.data())
            for s in ELFFile(stream).iter_segments()
            if s["p_type"] == "PT_LOAD"
        ]


def flash_bytes(segments: list[Segment], address: int, size: int) -> bytes | None:
    """The bytes a programmer writes at ``address`` (load addresses), or None if none."""
    for seg in segments:
        if seg.paddr <= address and address + size <= seg.paddr + seg.filesz:
            return seg.data[address - seg.paddr : address - seg.paddr + size]
    return None


def touches(segments: list[Segment], start: int, end: int) -> list[Segment]:
    """Segments with file bytes anywhere in [start, end)."""
    return [s for s in segments if s.filesz and s.paddr < end and start < s.paddr + s.filesz]


# -- editing a project copy ----------------------------------------------------------------
def edit_project(project: Path, **keys: Any) -> dict[str, Any]:
    """Set top-level keys of the copy's fwbuild.json; returns the new content."""
    path = project / "fwbuild.json"
    data = json.loads(path.read_text())
    data.update(keys)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def set_overrides(project: Path, target: str, **keys: Any) -> dict[str, Any]:
    """Replace target_overrides[target] in the copy's fwbuild.json with ``keys``."""
    path = project / "fwbuild.json"
    data = json.loads(path.read_text())
    data.setdefault("target_overrides", {})[target] = keys
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


@pytest.fixture(scope="session")
def fw() -> Any:
    """These helpers, for tests (conftest.py is not meant to be imported by name):
    ``fw.run_scons``, ``fw.run_qemu``, ``fw.copy_project``, ``fw.load_segments``, ..."""
    return sys.modules[__name__]
