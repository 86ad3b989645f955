"""Cores and FPUs: the flags each choice gives, and the refusal of an FPU left unsaid."""

from __future__ import annotations

import subprocess

import pytest

from fwbuild.cli import main
from fwbuild.cores import CORES, CoreError, choose
from fwbuild.errors import ConfigError
from fwbuild.targets import TargetSet

BOARD = {
    "flash": {"start": "0x08000000", "size": "0x100000", "sectors": [["0x08000000", "0x8000"]]},
    "ram": [{"name": "SRAM", "start": "0x20000000", "size": "0x40000"}],
    "vector_count": "16+98",
}


@pytest.mark.parametrize(
    ("core", "fpu", "float_abi", "flags"),
    [
        ("cortex-m0", None, None, ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft")),
        ("cortex-m3", None, None, ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft")),
        ("cortex-m4", "none", None, ("-mcpu=cortex-m4+nofp", "-mthumb", "-mfloat-abi=soft")),
        ("cortex-m4f", None, None, ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")),
        (
            "cortex-m4",
            "single",
            "softfp",
            ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=softfp"),
        ),
        (
            "cortex-m7",
            "single",
            None,
            ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
        ),
        ("cortex-m7f", "double", None, ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard")),
        ("cortex-m23", None, None, ("-mcpu=cortex-m23", "-mthumb", "-mfloat-abi=soft")),
        ("cortex-m33", "none", None, ("-mcpu=cortex-m33+nofp", "-mthumb", "-mfloat-abi=soft")),
        ("cortex-m33f", None, None, ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard")),
        ("cortex-m55", "double", None, ("-mcpu=cortex-m55+nomve", "-mthumb", "-mfloat-abi=hard")),
        ("cortex-m55", "none", None, ("-mcpu=cortex-m55+nofp+nomve", "-mthumb", "-mfloat-abi=soft")),
    ],
)
def test_flags_follow_core_fpu_and_abi(core, fpu, float_abi, flags):
    assert choose(core, fpu, float_abi).flags == flags


@pytest.mark.parametrize(
    ("core", "fpu", "float_abi", "key", "words"),
    [
        ("cortex-m7", None, None, "fpu", "optional on silicon"),
        ("cortex-m7f", None, None, "fpu", "optional on silicon"),  # single or double: say which
        ("cortex-m4", None, None, "fpu", "optional on silicon"),
        ("cortex-m55", None, None, "fpu", "optional on silicon"),
        ("cortex-m4", "double", None, "fpu", 'has no "double" FPU'),
        ("cortex-m55", "single", None, "fpu", 'has no "single" FPU'),
        ("cortex-m4f", "none", None, "fpu", "means a single-precision FPU"),
        ("cortex-m3", None, "hard", "float_abi", "needs an FPU"),
    ],
)
def test_impossible_or_unsaid_choices_are_refused(core, fpu, float_abi, key, words):
    with pytest.raises(CoreError, match=words) as caught:
        choose(core, fpu, float_abi)
    assert caught.value.key == key


def test_every_flag_set_has_a_newlib_multilib():
    """Compile and link agree: each core/FPU choice selects a real multilib of the C library."""
    multilibs = subprocess.run(
        ["arm-none-eabi-gcc", "-print-multi-lib"], capture_output=True, text=True, check=True
    ).stdout
    folders = {line.split(";")[0] for line in multilibs.splitlines()}
    for core in CORES.values():
        for fpu in core.fpus:
            for abi in (None, "softfp") if fpu != "none" else (None,):
                flags = choose(core.name, fpu, abi).flags
                folder = subprocess.run(
                    ["arm-none-eabi-gcc", *flags, "-print-multi-directory"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                assert folder in folders and folder != ".", (flags, folder)
                assert ("nofp" in folder) == (fpu == "none"), (flags, folder)


def test_target_file_states_core_fpu_and_comment(ws):
    ws.target(
        "F7_BOARD",
        {**BOARD, "$comment": "RM0385 rev 8, section 2.2", "core": "cortex-m7", "fpu": "single"},
    )
    t = TargetSet([ws.targets_dir]).resolve("F7_BOARD")
    assert (t.core, t.fpu, t.float_abi, t.vtor) == ("cortex-m7", "single", "hard", True)
    assert "-mfpu=fpv5-sp-d16" in t.flags("debug")["ldflags"]  # the link picks the same multilib
    assert t.core_label == "cortex-m7f-sp"


def test_cortex_m0_has_no_vtor_by_default(ws):
    ws.target("M0_BOARD", {**BOARD, "core": "cortex-m0"})
    ws.target("M0P_BOARD", {**BOARD, "core": "cortex-m0plus", "vtor": False})
    targets = TargetSet([ws.targets_dir])
    assert targets.resolve("M0_BOARD").vtor is False
    assert targets.resolve("M0P_BOARD").vtor is False


def test_resolving_an_ambiguous_core_names_file_and_key(ws):
    path = ws.target("F7_BOARD", {**BOARD, "core": "cortex-m7f"})
    with pytest.raises(ConfigError) as caught:
        TargetSet([ws.targets_dir]).resolve("F7_BOARD")
    text = str(caught.value)
    assert str(path) in text and "fpu" in text and '"single" | "double"' in text


def test_check_target_refuses_an_ambiguous_fpu(ws, capsys):
    ws.target("F7_BOARD", {**BOARD, "core": "cortex-m7"})
    assert main(["check-target", "F7_BOARD", "--targets-dir", str(ws.targets_dir)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "fpu: cortex-m7's FPU is optional on silicon" in err, err
    assert '"none" | "single" | "double"' in err and "Traceback" not in err


def test_check_target_says_core_fpu_and_vtor(ws, capsys):
    ws.target("F7_BOARD", {**BOARD, "core": "cortex-m7", "fpu": "double"})
    assert main(["check-target", "F7_BOARD", "--targets-dir", str(ws.targets_dir)]) == 0
    out = capsys.readouterr().out
    assert "core cortex-m7 (Armv7E-M, double-precision FPU, float ABI hard), with VTOR" in out, out


def test_docs_show_the_cores_table_as_it_is():
    from pathlib import Path

    from fwbuild.cores import markdown_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "target-format.md").read_text()
    assert markdown_table() in doc, "docs/target-format.md: paste fwbuild.cores.markdown_table() again"
