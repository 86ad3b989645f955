"""``python -m fwbuild.steps STEP_FILE``: the command Ninja runs for each Python step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def steps(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fwbuild.steps", *map(str, args)], capture_output=True, text=True
    )


def test_a_text_step_writes_its_text_once(tmp_path):
    out = tmp_path / "fwbuild_layout.h"
    step = tmp_path / "step.json"
    step.write_text(
        json.dumps({"step": "text", "targets": [str(out)], "sources": [], "args": {"text": "#define A 1\n"}})
    )
    result = steps(step)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "#define A 1\n"
    written = out.stat().st_mtime_ns
    assert steps(step).returncode == 0
    assert out.stat().st_mtime_ns == written  # the same text is not written again


def test_a_missing_step_file_is_one_error(tmp_path):
    result = steps(tmp_path / "absent.json")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "scons ninja=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_step_is_one_error(tmp_path):
    step = tmp_path / "step.json"
    step.write_text(json.dumps({"step": "fold", "targets": [], "sources": []}))
    result = steps(step)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown step 'fold'"), result.stderr


def test_a_core_error_is_one_paragraph(tmp_path):
    """An image hook over a missing .bin: the step names the file, in one error paragraph."""
    step = tmp_path / "step.json"
    missing = tmp_path / "app.bin"
    step.write_text(
        json.dumps(
            {
                "step": "image-hook",
                "targets": [str(tmp_path / "out.bin")],
                "sources": [str(missing)],
                "args": {"hook": "crc32_trailer"},
            }
        )
    )
    result = steps(step)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    said = " ".join(result.stderr.split())
    assert said.startswith(f"error: {missing}: No such file or directory"), result.stderr
