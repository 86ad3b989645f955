"""The SCons tool's Python steps: their signatures decide when SCons reruns them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import SCons.Action

TOOL = Path(__file__).resolve().parents[2] / "site_scons" / "site_tools" / "fwbuild.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("fwbuild_tool_under_test", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step_from_source(tool, source: str, name: str = "step"):
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), "/somewhere/else/steps.py", "exec"), namespace)
    return tool._Step(namespace[name])


STEP = """
    def step(target, source, env):
        '''Writes the file.'''
        if env["MODE"] in {"a", "b", "c", "d", "e"}:
            return [len(str(s)) for s in source]
        return None
"""


def test_scons_asks_the_step_for_its_signature_and_the_step_still_runs():
    tool = load_tool()
    action = tool._action(step_from_source(tool, STEP).func, "STEP $TARGET")
    assert isinstance(action, SCons.Action.FunctionAction)
    assert not hasattr(action, "funccontents"), "SCons walked the bytecode when the action was made"
    assert action.get_contents([], [], {}).startswith(b"fwbuild step step ")
    assert action.execfunction([], ["ab", "c"], {"MODE": "a"}) == [2, 1]


def test_signature_ignores_where_the_code_is_but_not_what_it_does():
    tool = load_tool()

    def signature(source):
        return step_from_source(tool, source).get_contents([], [], {})

    base = signature(STEP)
    assert signature("\n\n# a comment above\n" + textwrap.dedent(STEP)) == base
    assert signature(STEP.replace("Writes the file.", "Writes it.")) == base
    edits = (
        STEP.replace('"e"}', '"f"}'),  # a constant
        STEP.replace("len(str(s))", "len(str(s)) + 1"),  # the bytecode
        STEP.replace("return None", "return source"),  # the names
    )
    for edited in edits:
        assert signature(edited) != base, edited


def test_signature_is_the_same_in_every_interpreter():
    """Set constants iterate in an order that follows the hash seed; the signature must not,
    or every run would rebuild every step."""
    script = textwrap.dedent(
        f"""
        import importlib.util, sys, textwrap
        spec = importlib.util.spec_from_file_location("tool", {str(TOOL)!r})
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        namespace = {{}}
        exec(textwrap.dedent({STEP!r}), namespace)
        sys.stdout.write(tool._Step(namespace["step"]).get_contents([], [], {{}}).decode())
        """
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(seen) == 1, seen
