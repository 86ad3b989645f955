"""The fwbuild console script (next to the interpreter, as setup.sh installs it)."""

from __future__ import annotations

import re


def test_layout_table(fw):
    result = fw.run_fwbuild("layout", "K64F", "--project", "example_project", cwd=fw.REPO)
    assert result.returncode == 0, result.describe()
    rows = [line.split() for line in result.stdout.splitlines()]
    app = [row for row in rows if row and row[0] == "application"]
    assert app, result.describe()
    assert app[0][1:3] == ["0x00008400", "0x00084000"], result.describe()
    assert "K64F" in result.stdout and "Traceback" not in result.output


def test_layout_unknown_target(fw, tmp_path):
    result = fw.run_fwbuild("layout", "NOPE", cwd=tmp_path)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    assert result.stdout == "", result.describe()
    err = result.stderr.strip()
    assert err.startswith("error:"), result.describe()
    assert err.count("error:") == 1, result.describe()
    assert not re.search(r"\n\s*\n", err), f"more than one paragraph:\n{err}"
    assert "NOPE" in err, err
    assert any(name in err for name in fw.public_targets()), f"no target name offered in:\n{err}"
