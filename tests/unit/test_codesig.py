"""code_signature: a Python build step reruns when what it does changes, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fwbuild.codesig import code_signature

STEP = """
    def step(target, source, env):
        '''Writes the file.'''
        if env["MODE"] in {"a", "b", "c", "d", "e"}:
            return [len(str(s)) for s in source]
        return None
"""


def signature(source: str, filename: str = "/checkout/one/steps.py") -> bytes:
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), filename, "exec"), namespace)
    return code_signature(namespace["step"])


def test_where_the_code_is_and_how_it_is_documented_do_not_count():
    base = signature(STEP)
    assert base.startswith(b"step ")
    assert signature(STEP, "/elsewhere/checkout/two/steps.py") == base
    assert signature("\n\n# a comment above\n" + textwrap.dedent(STEP)) == base
    assert signature(STEP.replace("Writes the file.", "Writes it.")) == base
    renamed = STEP.replace("for s in source", "for item in source").replace("str(s)", "str(item)")
    assert signature(renamed) == base  # a local variable's name


def test_what_the_code_does_counts():
    base = signature(STEP)
    edits = (
        STEP.replace('"e"}', '"f"}'),  # a constant
        STEP.replace("len(str(s))", "len(str(s)) + 1"),  # the bytecode
        STEP.replace("return None", "return source"),  # the names
        STEP.replace("[len(str(s)) for s in source]", "[len(repr(s)) for s in source]"),  # nested code
    )
    for edited in edits:
        assert signature(edited) != base, edited


def test_the_same_in_every_interpreter_run():
    """Set constants iterate in an order that follows the hash seed; the signature must not,
    or every build would rerun every Python step."""
    script = textwrap.dedent(
        f"""
        import sys, textwrap
        from fwbuild.codesig import code_signature
        namespace = {{}}
        exec(textwrap.dedent({STEP!r}), namespace)
        sys.stdout.write(code_signature(namespace["step"]).decode())
        """
    )
    site_scons = str(Path(__file__).resolve().parents[2] / "site_scons")
    seen = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": site_scons},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(seen) == 1, seen
