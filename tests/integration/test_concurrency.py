"""Real scons processes at once on one copy of the example: builds of one build folder never
overlap (the second waits and says so once), a killed build's lock is taken over, builds of
different targets run side by side without losing each other's signatures, and -n / -h
never wait."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

WAITING = re.compile(r"^waiting for another build of build/(\S+) to finish \(pid (\d+)\)\.\.\.$")
TIMEOUT = 300


class Scons:
    """A scons process whose stdout and stderr are read as they come."""

    def __init__(self, fw, project: Path, *args: str):
        self.args = [str(fw.SCONS), "-C", str(project), "-j2", *args]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,  # its own process group, to kill it with its compilers
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
        stream.close()

    def wait_for(self, pattern: str, where: str = "out", timeout: float = TIMEOUT) -> str:
        """The first line of stdout (or stderr) matching ``pattern``, as soon as it comes."""
        lines = self.out if where == "out" else self.err
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None and not any(r.is_alive() for r in self.readers):
                break
            time.sleep(0.02)
        pytest.fail(f"no line matching {pattern!r} on std{where}\n{self.describe()}")

    def finish(self, timeout: float = TIMEOUT) -> int:
        self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.finish()

    def waits(self) -> list[str]:
        return [line for line in self.err if WAITING.match(line)]

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit status {self.proc.returncode}\n"
            "--- stdout\n" + "\n".join(self.out) + "\n--- stderr\n" + "\n".join(self.err)
        )


@pytest.fixture
def started():
    """Start scons processes; any still running when the test ends is killed."""
    procs: list[Scons] = []

    def start(fw, project: Path, *args: str) -> Scons:
        procs.append(Scons(fw, project, *args))
        return procs[-1]

    yield start
    for proc in procs:
        proc.kill()


def clean(project: Path) -> None:
    shutil.rmtree(project / "build", ignore_errors=True)
    for db in project.glob(".sconsign*"):
        db.unlink()


def check_signed_with(fw, project: Path, key: Path, other: Path) -> None:
    """The slot image verifies with ``key`` and build-info.json names it; ``other`` fails;
    every output matches build-info.json."""
    out = project / "build/K64F"
    info = json.loads((out / "build-info.json").read_text())
    named = info["signing_key_sha256"]
    verify = ["verify", out / "app-signed.bin", "--target", "K64F", "--project", project]
    good = fw.run_fwbuild(*verify, "--key", key)
    assert good.returncode == 0 and f"KEYHASH {named[:16]}" in good.stdout, good.describe()
    bad = fw.run_fwbuild(*verify, "--key", other)
    assert bad.returncode == 1, bad.describe()
    built = fw.run_fwbuild("verify-build", out / "build-info.json")
    assert built.returncode == 0 and built.stdout.startswith("ok:"), built.describe()


@pytest.mark.parametrize("round", range(3))
def test_two_builds_of_one_folder_at_once(fw, tmp_path, key_files, started, round):
    """`scons target=K64F sign_key=other.pem & scons target=K64F`, started together from
    clean: one waits for the other, and the folder ends as the later one made it."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    dev, other = project / "keys/dev-ed25519-key.pem", key_files["ecdsa-p256"]
    clean(project)
    first = started(fw, project, "target=K64F", f"sign_key={other}")
    second = started(fw, project, "target=K64F")
    status = (first.finish(), second.finish())
    assert status == (0, 0), first.describe() + "\n" + second.describe()
    waited = [b for b in (first, second) if b.waits()]
    assert len(waited) == 1, first.describe() + "\n" + second.describe()  # the builds overlapped
    later = waited[0]
    assert len(later.waits()) == 1  # said once
    holder = second if later is first else first
    assert WAITING.match(later.waits()[0]).groups() == ("K64F", str(holder.proc.pid))
    assert "No such file" not in "\n".join(later.err + holder.err)
    key, not_key = (other, dev) if later is first else (dev, other)
    check_signed_with(fw, project, key, not_key)
    # The next build with the later one's settings has nothing to do.
    again = fw.run_scons(project, "K64F", *([f"sign_key={other}"] if key == other else []))
    assert again.returncode == 0 and again.steps == [], again.describe()


def gated(fw, tmp_path) -> Path:
    """The example with an image-stage hook that waits while the file `gate-<target>` exists:
    a build holds its folder's lock for as long as the test wants."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    sconstruct = project / "SConstruct"
    text = sconstruct.read_text()
    wait = "while [ -e ../../gate-$$FWBUILD_TARGET ]; do sleep 0.05; done"
    hook = f'env.FirmwarePostBuild("{wait}", name="gate")\n'
    sconstruct.write_text(text.replace("Default(", hook + "Default(", 1))
    return project


def test_the_second_build_waits_until_the_first_has_finished(fw, tmp_path, key_files, started):
    project = gated(fw, tmp_path)
    dev, other = project / "keys/dev-ed25519-key.pem", key_files["ecdsa-p256"]
    for _ in range(2):
        (project / "gate-K64F").touch()
        first = started(fw, project, "target=K64F", f"sign_key={other}")
        first.wait_for(r"HOOK gate ")  # signed with the other key, now held in the hook
        second = started(fw, project, "target=K64F")
        second.wait_for(r"^waiting for another build of build/K64F", where="err")
        time.sleep(1.0)
        assert second.proc.poll() is None, second.describe()
        assert not [line for line in second.out if fw.PROGRESS_RE.match(line)]  # no step meanwhile
        (project / "gate-K64F").unlink()
        assert first.finish() == 0, first.describe()
        assert second.finish() == 0, second.describe()
        assert first.waits() == [] and len(second.waits()) == 1, second.describe()
        said = f"waiting for another build of build/K64F to finish (pid {first.proc.pid})..."
        assert second.waits() == [said]
        assert any("SIGN build/K64F/app-signed.bin" in line for line in second.out), second.describe()
        check_signed_with(fw, project, dev, other)


def test_a_killed_builds_lock_is_taken_over(fw, tmp_path, key_files, started):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    dev, other = project / "keys/dev-ed25519-key.pem", key_files["ecdsa-p256"]
    # Killed while nobody waits: the lock file stays, the next build takes it at once.
    status = fw.kill_build_after(project, "K64F", "SIGN build/K64F/app-signed.bin", f"sign_key={other}")
    assert status == -signal.SIGKILL
    assert (project / "build/.fwbuild-lock-K64F").exists()
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0 and "waiting" not in result.stderr, result.describe()
    check_signed_with(fw, project, dev, other)

    # Killed while another build waits for it: that one goes on. The first is held in an
    # image-stage hook until it is killed, so the second surely finds it building.
    clean(project)
    project = gated(fw, tmp_path / "gated")
    (project / "gate-K64F").touch()
    first = started(fw, project, "target=K64F", f"sign_key={other}")
    first.wait_for(r"HOOK gate ")
    second = started(fw, project, "target=K64F")
    second.wait_for(r"^waiting for another build", where="err")
    first.kill()
    (project / "gate-K64F").unlink()
    assert second.finish(timeout=120) == 0, second.describe()
    check_signed_with(fw, project, dev, other)
    again = fw.run_scons(project, "K64F")
    assert again.returncode == 0 and again.steps == [], again.describe()


@pytest.mark.parametrize("round", range(2))
def test_builds_of_two_targets_at_once_keep_both_signatures(fw, tmp_path, started, round):
    """SCons keeps one signature database at the project top for every target: two builds
    writing it at once must not lose one's signatures (the next build would then rebuild,
    or take an image made with other settings for up to date)."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    builds = [started(fw, project, f"target={t}") for t in ("K64F", "MPS2_AN385")]
    for build in builds:
        assert build.finish() == 0, build.describe()
        assert build.waits() == [], build.describe()  # different folders: nobody waits
    for target in ("K64F", "MPS2_AN385"):
        again = fw.run_scons(project, target)
        assert again.returncode == 0 and again.steps == [], again.describe()


def test_other_settings_of_one_target_while_another_target_builds(fw, tmp_path, key_files, started):
    """K64F is signed with another key while a build of MPS2_AN385, which read the signature
    database before, writes it after: the next K64F build with the project's key must sign
    again, not take the other key's image for up to date."""
    project = gated(fw, tmp_path)
    dev, other = project / "keys/dev-ed25519-key.pem", key_files["ecdsa-p256"]
    assert fw.run_scons(project, "K64F").returncode == 0
    (project / "gate-MPS2_AN385").touch()
    longer = started(fw, project, "target=MPS2_AN385")
    longer.wait_for(r"HOOK gate ")
    signing = fw.run_scons(project, "K64F", f"sign_key={other}")
    assert signing.returncode == 0 and "waiting" not in signing.stderr, signing.describe()
    (project / "gate-MPS2_AN385").unlink()
    assert longer.finish() == 0, longer.describe()
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0 and result.files("SIGN") == ["build/K64F/app-signed.bin"], result.describe()
    check_signed_with(fw, project, dev, other)


def test_target_lists_in_opposite_orders_at_once(fw, tmp_path, started):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    builds = [
        started(fw, project, "target=K64F,MPS2_AN385"),
        started(fw, project, "target=MPS2_AN385,K64F"),
    ]
    for build in builds:
        assert build.finish(timeout=240) == 0, build.describe()
        assert len(build.waits()) <= 2, build.describe()
    for target in ("K64F", "MPS2_AN385"):
        again = fw.run_scons(project, target)
        assert again.returncode == 0 and again.steps == [], again.describe()


def test_help_and_dry_run_do_not_wait_clean_does(fw, tmp_path, started):
    project = gated(fw, tmp_path)
    (project / "gate-K64F").touch()
    holder = started(fw, project, "target=K64F")
    holder.wait_for(r"HOOK gate ")
    for args in (["-n"], ["-h"], ["-q"]):
        result = fw.run_scons(project, "K64F", *args)
        assert "waiting" not in result.stderr, result.describe()
        assert result.returncode in (0, 1), result.describe()  # -q: 1 when something is out of date
    assert holder.proc.poll() is None  # they did not wait for it
    cleaning = started(fw, project, "target=K64F", "-c")
    cleaning.wait_for(r"^waiting for another build of build/K64F", where="err")
    (project / "gate-K64F").unlink()
    assert holder.finish() == 0 and cleaning.finish() == 0, holder.describe() + cleaning.describe()
    left = sorted(p.name for p in (project / "build/K64F").rglob("*") if p.is_file())
    assert left == [], left
