"""Build outputs honour the umask: a CI step running as another user, or a web server,
can read them when the umask allows. Data files get 0666 less the umask, programs (the
.elf files) 0777 less the umask, and nothing is writable beyond what the umask allows."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

TARGET = "K64F"
# umask -> (mode of a data file, mode of a program)
MODES = {0o022: (0o644, 0o755), 0o077: (0o600, 0o700)}
each_umask = pytest.mark.parametrize("umask", sorted(MODES), ids=lambda m: f"umask{m:03o}")


def run_scons_with_umask(fw, project: Path, umask: int):
    """conftest's run_scons with the build's umask set (its helpers take no umask)."""
    fw.require_tools()
    argv = [str(fw.SCONS), "-C", str(project), "-j2", f"target={TARGET}"]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=fw.BUILD_TIMEOUT,
        env=fw._env(),
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(umask),
    )
    return fw.Run(argv, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def modes(fw, tmp_path_factory) -> Callable[[int], dict[str, int]]:
    """``modes(umask)``: permission bits of every entry of build/K64F/ (dot-files left out,
    folders named with a trailing "/"), after building a fresh copy of the example under
    ``umask``; one build per umask."""
    cache: dict[int, dict[str, int]] = {}

    def get(umask: int) -> dict[str, int]:
        if umask not in cache:
            project = fw.copy_project(fw.EXAMPLE, tmp_path_factory.mktemp(f"umask{umask:03o}") / "project")
            result = run_scons_with_umask(fw, project, umask)
            assert result.returncode == 0, result.describe()
            build = project / "build" / TARGET
            cache[umask] = {
                p.relative_to(build).as_posix() + ("/" if p.is_dir() else ""): stat.S_IMODE(p.stat().st_mode)
                for p in sorted(build.rglob("*"))
                if not any(part.startswith(".") for part in p.relative_to(build).parts)
            }
        return cache[umask]

    return get


def is_program(name: str) -> bool:
    return name.endswith(".elf")


def is_data(name: str) -> bool:
    return not name.endswith("/") and not is_program(name)


@each_umask
def test_data_files_follow_umask(modes, umask):
    found, (data, _) = modes(umask), MODES[umask]
    checked = {n for n in found if is_data(n)}
    # The .bin files come from objcopy, which gives them the ELF's mode; the rest from fwbuild.
    expected = {"app.bin", "bootloader/bootloader.bin", "layout.json", "app.hex", "app-signed.bin"}
    assert expected | {"combined.bin", "build-info.json"} <= checked
    wrong = {n: f"{found[n]:o}" for n in checked if found[n] != data}
    assert not wrong, f"expected {data:o} under umask {umask:03o}: {wrong}"


@each_umask
def test_programs_are_executable(modes, umask):
    found, (_, program) = modes(umask), MODES[umask]
    programs = {n for n in found if is_program(n)}
    assert {"app.elf", "bootloader/bootloader.elf"} <= programs
    wrong = {n: f"{found[n]:o}" for n in programs if found[n] != program}
    assert not wrong, f"expected {program:o} under umask {umask:03o}: {wrong}"


@each_umask
def test_nothing_writable_by_others(modes, umask):
    writable = {n: f"{m:o}" for n, m in modes(umask).items() if m & (stat.S_IWGRP | stat.S_IWOTH)}
    assert not writable, f"group/world-writable under umask {umask:03o}: {writable}"
