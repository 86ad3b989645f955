"""write_atomic gives outputs the mode the umask asks for (mkstemp alone makes them 0600).

The umask is read once per process, so each case writes in a fresh interpreter started
with the umask under test."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fwbuild.fileio import output_mode, process_umask, write_atomic

SITE_SCONS = Path(__file__).resolve().parents[2] / "site_scons"
# Bytes, text and an iterable of pieces: every kind of data write_atomic takes.
WRITES = """
import sys
from pathlib import Path
from fwbuild.fileio import write_atomic
out = Path(sys.argv[1])
write_atomic(out / "a.bin", b"\\x00\\x01")
write_atomic(out / "b.json", "{}\\n")
write_atomic(out / "c.hex", iter([":00000001FF\\n", b""]))
write_atomic(out / "sub" / "d.bin", b"x")
"""


def write_with_umask(folder: Path, umask: int) -> dict[str, int]:
    """Run the writes in a child whose umask is ``umask``; the permission bits of each file."""
    env = {**os.environ, "PYTHONPATH": str(SITE_SCONS), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [sys.executable, "-c", WRITES, str(folder)],
        check=True,
        env=env,
        preexec_fn=lambda: os.umask(umask),
    )
    return {
        p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
def test_mode_follows_umask(tmp_path, umask, mode):
    modes = write_with_umask(tmp_path, umask)
    assert modes == dict.fromkeys(["a.bin", "b.json", "c.hex", "sub/d.bin"], mode)


def test_no_temporary_file_left(tmp_path):
    write_with_umask(tmp_path, 0o022)
    assert not [p for p in tmp_path.rglob(".*")]


def test_umask_read_without_changing_it():
    before = os.umask(0o022)
    os.umask(before)
    assert process_umask() == before
    after = os.umask(before)
    assert after == before
    assert output_mode() == 0o666 & ~before


def test_replaces_a_private_file_with_the_umask_mode(tmp_path):
    """An output left 0600 by an earlier build gets the umask's mode when rewritten."""
    target = tmp_path / "layout.json"
    target.write_text("old")
    target.chmod(0o600)
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == output_mode()
