"""``python -m fwbuild.steps STEP_FILE``: the command Ninja runs for each Python step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def steps(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fwbuild.steps", *map(str, args)], capture_output=True, text=True
    )


def write_step(path: Path, step: str, target: Path, source: Path, label: str, **args) -> Path:
    path.write_text(
        json.dumps(
            {
                "step": step,
                "targets": [str(target)],
                "sources": [str(source)],
                "inputs": [str(source)],
                "args": args,
                "label": label,
            }
        )
    )
    return path


def labels(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_when_stale_runs_the_steps_whose_inputs_changed(tmp_path):
    """The steps after a link, fused into one Ninja edge: each runs when an output is
    missing or older than an input (or its step file), or when an earlier step of the run
    wrote its input; it prints its label when it runs."""
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(bytes(range(64)))
    b.write_bytes(bytes(48))
    hooked, a_hex, b_hex = tmp_path / "a-crc.bin", tmp_path / "a-crc.hex", tmp_path / "b.hex"
    files = [
        write_step(tmp_path / "1.json", "image-hook", hooked, a, "HOOK a-crc.bin", hook="crc32_trailer"),
        write_step(tmp_path / "2.json", "hex", a_hex, hooked, "HEX a-crc.hex", start=0x8000),
        write_step(tmp_path / "3.json", "hex", b_hex, b, "HEX b.hex", start=0),
    ]
    base = os.stat(a).st_mtime_ns - 100 * 10**9  # times set by hand, whatever the clock's grain

    def at(seconds: int, *paths: Path) -> None:
        for path in paths:
            os.utime(path, ns=(base + seconds * 10**9,) * 2)

    at(0, a, b, *files)
    assert labels(steps("--when-stale", *files)) == ["HOOK a-crc.bin", "HEX a-crc.hex", "HEX b.hex"]
    assert a_hex.read_text().startswith(":10800000")
    written = {p: p.stat().st_mtime_ns for p in (hooked, a_hex, b_hex)}
    assert labels(steps("--when-stale", *files)) == []  # all up to date
    assert {p: p.stat().st_mtime_ns for p in written} == written

    a.write_bytes(bytes(range(1, 65)))  # a newer input: its step, and the one after it
    at(10, hooked, a_hex, b_hex)
    at(20, a)
    assert labels(steps("--when-stale", *files)) == ["HOOK a-crc.bin", "HEX a-crc.hex"]
    assert b_hex.stat().st_mtime_ns == base + 10 * 10**9
    b_hex.unlink()  # a missing output
    assert labels(steps("--when-stale", *files)) == ["HEX b.hex"]
    at(30, hooked, a_hex)
    at(40, files[1])  # a step file rewritten (its settings changed)
    assert labels(steps("--when-stale", *files)) == ["HEX a-crc.hex"]

    usage = steps(*files)  # several step files: only with --when-stale
    assert usage.returncode == 2 and usage.stderr.startswith("usage:"), usage.stderr


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


def test_fused_steps_report_their_depfiles_as_one(tmp_path):
    """--depfile: the steps' own depfiles (a linker script's included templates) are
    written as one, for the fused edge's first output; a newer file one of them lists
    makes that step stale."""
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(bytes(32))
    b.write_bytes(bytes(16))
    part = tmp_path / "my part.ld"
    part.write_text("/* included */\n")
    (tmp_path / "a.d").write_text(f"{tmp_path}/a.hex: {str(part).replace(' ', chr(92) + ' ')}\n")
    files = []
    for name, source in (("a", a), ("b", b)):
        path = write_step(
            tmp_path / f"{name}.json", "hex", tmp_path / f"{name}.hex", source, f"HEX {name}", start=0
        )
        step = json.loads(path.read_text())
        step["depfile"] = str(tmp_path / f"{name}.d") if name == "a" else None
        path.write_text(json.dumps(step))
        files.append(path)
    merged = tmp_path / "fused.d"
    assert labels(steps("--when-stale", "--depfile", merged, *files)) == ["HEX a", "HEX b"]
    assert merged.read_text() == f"{tmp_path}/a.hex: {str(part).replace(' ', chr(92) + ' ')}\n"
    later = (tmp_path / "a.hex").stat().st_mtime_ns + 10**9
    os.utime(part, ns=(later, later))
    assert labels(steps("--when-stale", "--depfile", merged, *files)) == ["HEX a"]
