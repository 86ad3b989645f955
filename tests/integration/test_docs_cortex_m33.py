"""docs/adding-a-target.md, its second half: the Cortex-M33 board (the ```jsonc target file
and fwbuild.json) checks with exactly the output the page shows and builds the example, and
the check-target line the FPU section quotes is what a shipped board prints.

(The page's first example, the ```json blocks, is built by test_docs.py.)"""

from __future__ import annotations

import shutil

PAGE = "adding-a-target.md"


def blocks(fw, language: str) -> list[str]:
    """The page's fenced blocks of one language ("" for plain fences), read fence by fence."""
    found: list[str] = []
    lines: list[str] | None = None
    opened = ""
    for line in (fw.REPO / "docs" / PAGE).read_text().splitlines(keepends=True):
        if lines is None and line.startswith("```"):
            lines, opened = [], line[3:].strip()
        elif lines is not None and line.rstrip() == "```":
            if opened == language:
                found.append("".join(lines))
            lines = None
        elif lines is not None:
            lines.append(line)
    return found


def test_cortex_m33_board_from_the_guide(fw, tmp_path):
    repo = tmp_path / "acme-sensor"
    for folder in ("app", "common", "bootloader", "keys"):
        shutil.copytree(fw.EXAMPLE / folder, repo / folder)
    shutil.copy(fw.EXAMPLE / "SConstruct", repo / "SConstruct")
    target, config = blocks(fw, "jsonc")
    (repo / "targets").mkdir()
    (repo / "targets" / "ACME_L552CC.json").write_text(target)
    (repo / "fwbuild.json").write_text(config)
    (shown,) = blocks(fw, "text")
    check = fw.run_fwbuild("check-target", "ACME_L552CC", "--project", ".", cwd=repo)
    assert check.returncode == 0, check.describe()
    assert check.stdout == shown, f"the page shows:\n{shown}\ncheck-target prints:\n{check.stdout}"
    build = fw.Build(repo, "ACME_L552CC", fw.run_scons(repo, "ACME_L552CC")).require_ok()
    assert (build.dir / "combined.bin").is_file() and (build.dir / "app-signed.bin").is_file()
    assert build.region("candidate") == {"name": "candidate", "start": 0x0802_4000, "size": 0x1_C000}


def test_quoted_check_target_line(fw):
    quoted = [b for b in blocks(fw, "") if b.lstrip().startswith("core cortex-m7")]
    assert len(quoted) == 1, quoted
    start = quoted[0].strip().removesuffix("...")
    check = fw.run_fwbuild("check-target", "NUCLEO_F746ZG")
    assert check.returncode == 0, check.describe()
    assert start.strip() in check.stdout, check.stdout
