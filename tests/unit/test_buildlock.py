"""fwbuild.buildlock between real processes: the second waits and says so once, a killed
holder's lock is taken over at once, and processes taking several locks never deadlock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fwbuild.buildlock import FolderLocks, holder, lock_file, locked_folder

SITE = Path(__file__).resolve().parents[2] / "site_scons"

# A process that locks the folders named on its command line, one hold() each in that order
# (PAUSE seconds apart), prints "held", then waits for a line on stdin before it exits; with
# EXIT=1 it exits at once.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from fwbuild.buildlock import FolderLocks

    locks = FolderLocks()
    for i, folder in enumerate(sys.argv[1:]):
        if i:
            time.sleep(float(os.environ.get("PAUSE", "0")))
        locks.hold([(folder, "build/" + folder.rsplit("/", 1)[-1])])
    print("held", flush=True)
    if os.environ.get("EXIT") != "1":
        sys.stdin.readline()
    """
)


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def no_child_left():
    """A failing test (a deadlock, say) leaves no child process behind."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            kill(proc)


def start(*folders: Path, **env_vars: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SITE), "PYTHONDONTWRITEBYTECODE": "1", **env_vars}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, folders)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    STARTED.append(proc)
    return proc


def wait_held(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n", proc.stderr.read() if proc.stderr else ""


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate("\n", timeout=30)
    return proc.returncode, err


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes its pipes


def stderr_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    return proc.stderr.readline()


def test_lock_file_is_a_dot_file_beside_the_folder(tmp_path):
    assert lock_file(tmp_path / "build" / "K64F") == str(tmp_path / "build" / ".fwbuild-lock-K64F")


def test_second_process_waits_says_so_once_and_runs_after_the_first(tmp_path):
    folder = tmp_path / "build" / "K64F"
    first = start(folder)
    wait_held(first)
    assert holder(lock_file(folder)) == first.pid
    second = start(folder)
    line = stderr_line(second)  # printed before it blocks
    assert line == f"waiting for another build of build/K64F to finish (pid {first.pid})...\n"
    time.sleep(0.5)
    assert second.poll() is None  # still waiting
    assert finish(first)[0] == 0
    wait_held(second)
    assert holder(lock_file(folder)) == second.pid
    status, rest = finish(second)
    assert status == 0 and "waiting" not in rest  # once


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    folder = tmp_path / "build" / "K64F"
    first = start(folder)
    wait_held(first)
    second = start(folder)
    assert "waiting for another build" in stderr_line(second)
    kill(first)
    started = time.monotonic()
    wait_held(second)
    assert time.monotonic() - started < 5
    assert finish(second)[0] == 0
    # The lock file a killed holder leaves behind is no lock at all.
    killed = start(folder)
    wait_held(killed)
    kill(killed)
    assert holder(lock_file(folder)) == killed.pid
    locks = FolderLocks(announce=pytest.fail)
    locks.hold([(folder, "build/K64F")])  # never waits
    assert holder(lock_file(folder)) == os.getpid()
    locks.release()


def test_distinct_folders_do_not_wait(tmp_path):
    first = start(tmp_path / "build" / "K64F")
    wait_held(first)
    said: list[str] = []
    locks = FolderLocks(announce=said.append)
    locks.hold([(tmp_path / "build" / "MPS2_AN385", "build/MPS2_AN385")])
    assert said == []
    locks.release()
    finish(first)


@pytest.mark.parametrize("round", range(3))
def test_opposite_orders_never_deadlock(tmp_path, round):
    """A takes A, B, C and the other C, B, A, one at a time, 0.2 s apart: without giving back
    the locks that sort after the one it waits for, each would end up waiting for the other."""
    folders = [tmp_path / "build" / name for name in ("A", "B", "C")]
    procs = [start(*folders, PAUSE="0.2", EXIT="1"), start(*reversed(folders), PAUSE="0.2", EXIT="1")]
    for proc in procs:
        out, err = proc.communicate(timeout=30)  # a deadlock ends here
        assert proc.returncode == 0 and out == "held\n", err


def test_giving_back_a_later_lock_while_waiting(tmp_path):
    """A process holding B that needs A (held elsewhere) releases B meanwhile, so a third
    process can take B."""
    a, b = tmp_path / "build" / "A", tmp_path / "build" / "B"
    holds_a = start(a)
    wait_held(holds_a)
    needs_a = start(b, a)
    assert "build/A" in stderr_line(needs_a)
    said: list[str] = []
    locks = FolderLocks(announce=said.append)
    locks.hold([(b, "build/B")])  # free: needs_a gave it back
    assert said == []
    locks.release()
    finish(holds_a)
    wait_held(needs_a)
    finish(needs_a)


def test_a_removed_lock_file_is_made_again(tmp_path):
    folder = tmp_path / "build" / "K64F"
    first = start(folder)
    wait_held(first)
    second = start(folder)
    assert "waiting" in stderr_line(second)
    os.unlink(lock_file(folder))  # rm -rf build while one build waits for another
    finish(first)
    wait_held(second)  # it locked the file it opened, saw it gone, and locked a new one
    assert os.path.exists(lock_file(folder)) and holder(lock_file(folder)) == second.pid
    finish(second)


def test_the_descriptor_is_not_inherited(tmp_path):
    folder = tmp_path / "build" / "K64F"
    locks = FolderLocks()
    locks.hold([(folder, "build/K64F")])
    # A long-lived child of the holder (an emulator) must not keep the lock.
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        locks.release()
        other = FolderLocks(announce=pytest.fail)
        other.hold([(folder, "build/K64F")])
        other.release()
    finally:
        child.kill()
        child.wait()


def test_locked_folder_is_exclusive_between_processes(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from fwbuild.buildlock import locked_folder
        with locked_folder({str(tmp_path)!r}):
            print("in", flush=True)
            time.sleep(1.0)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SITE)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline() == "in\n"
    started = time.monotonic()
    with locked_folder(tmp_path):
        waited = time.monotonic() - started
    proc.communicate(timeout=10)
    assert waited > 0.5
