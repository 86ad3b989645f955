"""Bootloader layouts on a core without a vector-table offset register (VTOR): the layout
reserves the word through which the first stage forwards exceptions, every program is
linked around it, and what cannot work without a first stage is still refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from chain_configs import three_stage_chain

from fwbuild.cheader import layout_header
from fwbuild.cli import main
from fwbuild.elfcheck import check_elf_placement
from fwbuild.errors import ConfigError, ImageError
from fwbuild.layout import VECTOR_FORWARD_SIZE, compute_layout, vector_forward_note
from fwbuild.linker import Overflow, linker_context, overflow_error, render_linker
from fwbuild.targets import Sourced, TargetSet

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path("/project/fwbuild.json")
M0 = {
    "core": "cortex-m0",
    "flash": {"start": 0, "size": "0x20000", "sectors": [[0, 1024]]},
    "ram": [{"name": "RAM", "start": "0x20000000", "size": "0x4000"}],
    "vector_count": 48,
}
MANAGED = {
    "bootloader_img": "@bootloader",
    "bootloader_size": "0x4000",
    "header_offset": "0x4000",
    "app_offset": "0x4400",
}
CHAIN = three_stage_chain(state_size=None)


def layout_of(name: str, targets: TargetSet | None = None, **keys):
    target = (targets or TargetSet()).resolve(name, {k: Sourced(v, CONFIG) for k, v in keys.items()})
    return compute_layout(target)


@pytest.fixture
def m0(ws) -> TargetSet:
    ws.target("M0", M0)
    return TargetSet([ws.targets_dir])


def test_a_bootloader_layout_reserves_the_forwarding_word(m0):
    layout = layout_of("M0", m0, **MANAGED)
    assert [(r.name, r.start) for r in layout.regions][:3] == [
        ("bootloader", 0),
        ("header", 0x4000),
        ("application", 0x4400),
    ]
    assert layout.vector_forward == 0x20000000
    data = layout.to_dict()
    assert data["vector_forward"] == {"ram": "RAM", "start": 0x20000000, "size": VECTOR_FORWARD_SIZE}
    # layout.json keeps its shape: the RAM bank as the chip has it, the word as an added key
    assert data["ram"] == [{"name": "RAM", "start": 0x20000000, "size": 0x4000}]
    assert json.loads(layout.to_json()) == data


@pytest.mark.parametrize("program", ["bootloader", "application"])
def test_no_program_is_linked_over_the_word(m0, program):
    layout = layout_of("M0", m0, **MANAGED)
    context = linker_context(layout, program)
    trimmed = {"name": "RAM", "start": 0x20000008, "size": 0x4000 - 8}
    assert context["ram"] == [trimmed] and context["main_ram"] == trimmed
    script = render_linker(context)
    assert "RAM (rwx) : ORIGIN = 0x20000008, LENGTH = 0x00003FF8" in script
    assert "__StackTop = ORIGIN(RAM) + LENGTH(RAM);" in script  # the stack still tops the bank


def test_the_header_defines_the_word_and_keeps_every_other_define(m0):
    header = layout_header(layout_of("M0", m0, **MANAGED))
    for line in (
        "#define BOOTLOADER_ADDR 0x00000000u",
        "#define HEADER_ADDR 0x00004000u",
        "#define APPLICATION_ADDR 0x00004400u",
        "#define MBED_RAM_START 0x20000000u",
        "#define MBED_RAM_SIZE 0x00004000u",
        "#define VECTOR_FORWARD_ADDR 0x20000000u",
        f"#define VECTOR_FORWARD_SIZE {VECTOR_FORWARD_SIZE}u",
    ):
        assert line in header.splitlines(), header
    assert header.rstrip().endswith("#endif /* FWBUILD_LAYOUT_H */")


def test_the_word_is_in_the_main_bank_when_there_are_several(ws):
    ws.target(
        "M0_TWO_BANKS",
        {
            **M0,
            "ram": [
                {"name": "SRAM0", "start": "0x1FFFC000", "size": "0x4000"},
                {"name": "SRAM1", "start": "0x20000000", "size": "0x8000"},
            ],
            "main_ram": "SRAM1",
        },
    )
    layout = layout_of("M0_TWO_BANKS", TargetSet([ws.targets_dir]), **MANAGED)
    assert layout.vector_forward == 0x20000000
    context = linker_context(layout, "application")
    assert context["ram"] == [
        {"name": "SRAM0", "start": 0x1FFFC000, "size": 0x4000},
        {"name": "SRAM1", "start": 0x20000008, "size": 0x8000 - 8},
    ]


def test_a_plain_layout_needs_no_word(m0):
    layout = layout_of("M0", m0)
    assert layout.application.start == 0 and layout.vector_forward is None
    assert "vector_forward" not in layout.to_dict()
    assert "VECTOR_FORWARD" not in layout_header(layout)
    assert linker_context(layout)["ram"] == [{"name": "RAM", "start": 0x20000000, "size": 0x4000}]
    assert vector_forward_note(layout) is None


def test_a_core_with_vtor_needs_no_word():
    layout = layout_of("K64F", **MANAGED)
    assert layout.vector_forward is None
    assert "vector_forward" not in layout.to_dict() and "vector_forward" not in layout.signature()
    assert "VECTOR_FORWARD" not in layout_header(layout)
    assert linker_context(layout, "application")["ram"] == [
        {"name": b.name, "start": b.start, "size": b.size} for b in layout.ram
    ]


def test_any_core_said_to_lack_vtor_forwards(ws):
    ws.target("M0PLUS_NO_VTOR", {**M0, "core": "cortex-m0plus", "vtor": False})
    ws.target("M0PLUS", {**M0, "core": "cortex-m0plus"})
    targets = TargetSet([ws.targets_dir])
    assert layout_of("M0PLUS_NO_VTOR", targets, **MANAGED).vector_forward == 0x20000000
    assert layout_of("M0PLUS", targets, **MANAGED).vector_forward is None


def test_the_word_changes_the_layout_signature(m0):
    """A build depends on the signature: a layout gaining the word relinks every program."""
    assert '"vector_forward": 536870912' in layout_of("M0", m0, **MANAGED).signature()


def test_a_boot_chain_on_a_core_without_vtor_forwards_too(ws):
    ws.target("M0_CHAIN", {"inherits": "MPS2_AN385", "core": "cortex-m0", "vtor": False})
    layout = layout_of("M0_CHAIN", TargetSet([ws.targets_dir]), boot_chain=CHAIN)
    assert layout.mode == "chain" and layout.vector_forward == 0x20000000
    assert layout.to_dict()["vector_forward"]["ram"] == "SSRAM23"
    note = vector_forward_note(layout)
    assert note is not None and "selector's vector table at 0x00000000" in note


def test_the_note_says_where_the_word_is(m0):
    note = vector_forward_note(layout_of("M0", m0, **MANAGED))
    assert note is not None
    for part in (
        "no vector-table offset register (VTOR)",
        "bootloader's vector table at 0x00000000",
        "forwards every exception but reset",
        "word at 0x20000000 (VECTOR_FORWARD_ADDR in fwbuild_layout.h",
        "first 8 bytes of RAM bank RAM",
    ):
        assert part in note, note


# -- what still cannot work ------------------------------------------------------------------
def test_an_application_away_from_flash_start_without_a_bootloader_is_refused(m0):
    with pytest.raises(ConfigError) as info:
        layout_of("M0", m0, app_offset="0x4000")
    text = str(info.value)
    assert text.startswith(f"{CONFIG}: app_offset: cortex-m0 has no vector-table offset register"), text
    assert "no bootloader is there to forward them" in text
    assert "use a managed layout" in text and "docs/layouts.md" in text


def test_an_unmanaged_application_away_from_flash_start_is_refused(m0):
    with pytest.raises(ConfigError) as info:
        layout_of("M0", m0, mbed_app_start="0x4000")
    text = str(info.value)
    assert text.startswith(f"{CONFIG}: mbed_app_start: cortex-m0 has no vector-table offset register"), text
    assert "a bootloader built elsewhere (unmanaged) is not known to forward them" in text


def test_a_main_bank_too_small_for_the_word_is_refused(ws):
    small = {
        "ram": [{"name": "RAM", "start": "0x20000000", "size": "0x1800"}],
        "stack_size": "0x1000",
        "heap_size": "0x800",
    }
    path = ws.target("M0_SMALL", {**M0, **small})
    targets = TargetSet([ws.targets_dir])
    assert layout_of("M0_SMALL", targets).vector_forward is None  # stack + heap fill it exactly
    with pytest.raises(
        ConfigError, match=rf"^{path}: ram: the main RAM bank .* 8-byte vector-forwarding word"
    ):
        layout_of("M0_SMALL", targets, **MANAGED)


def test_the_refusal_is_one_error_paragraph_from_the_cli(ws, capsys):
    ws.target("M0", M0)
    ws.project(target_overrides={"M0": {"app_offset": "0x4000"}})
    assert main(["layout", "M0", "--project", str(ws.root)]) == 2
    err = capsys.readouterr().err
    text = " ".join(err.split())  # the CLI wraps the paragraph
    assert err.startswith("error: ") and "app_offset: cortex-m0 has no vector-table offset register" in text
    assert "Traceback" not in err and err.count("error:") == 1


# -- the shipped MICROBIT target and the example's layout for it ----------------------------
def test_microbit_target_is_the_nrf51822_qemu_models():
    t = TargetSet().resolve("MICROBIT")
    assert (t.core, t.vtor, t.flash_start, t.flash_size) == ("cortex-m0", False, 0, 0x40000)
    assert t.sectors == ((0, 0x400),) and t.write_size == 4
    assert [(b.name, b.start, b.size) for b in t.ram] == [("RAM", 0x20000000, 0x4000)]
    assert t.vector_count == 48
    assert "FW_SEMIHOSTING" in t.macros and "-M microbit" in (t.emulator or "")


def test_the_example_layout_on_microbit(capsys):
    assert main(["layout", "MICROBIT", "--project", str(REPO / "example_project"), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [(r["name"], r["start"], r["size"]) for r in data["regions"]] == [
        ("bootloader", 0, 0x8000),
        ("header", 0x8000, 0x400),
        ("application", 0x8400, 0x1BC00),
        ("candidate", 0x24000, 0x1C000),
    ]
    assert data["vector_forward"] == {"ram": "RAM", "start": 0x20000000, "size": 8}
    assert "note: MICROBIT: the core has no vector-table offset register (VTOR)" in err


def test_check_target_accepts_a_bootloader_layout_on_microbit(ws, capsys):
    ws.project(target_overrides={"MICROBIT": MANAGED})
    assert main(["check-target", "MICROBIT", "--project", str(ws.root)]) == 0
    out = capsys.readouterr().out
    assert "no VTOR" in out and "bootloader 0x00000000..0x00004000" in out, out
    assert "note: MICROBIT: the core has no vector-table offset register (VTOR)" in out, out


# -- the placement check ---------------------------------------------------------------------
def link(tmp_path: Path, context: dict) -> Path:
    """A minimal program (a vector table and initialised data) linked with the shipped
    template rendered from ``context``."""
    compiler = shutil.which("arm-none-eabi-gcc")
    if compiler is None:
        pytest.fail("arm-none-eabi-gcc not found: run ./setup.sh", pytrace=False)
    source = tmp_path / "main.c"
    source.write_text(
        "extern char __StackTop[];\n"
        "void Reset_Handler(void) { for (;;) {} }\n"
        "int counter = 1;\n"
        '__attribute__((section(".isr_vector"), used))\n'
        "void *const vectors[2] = {__StackTop, Reset_Handler};\n"
    )
    script = tmp_path / "app.ld"
    script.write_text(render_linker(context))
    elf = tmp_path / "app.elf"
    result = subprocess.run(
        [compiler, "-mcpu=cortex-m0", "-mthumb", "-nostartfiles", "-nostdlib", "-T", str(script), str(source),
         "-o", str(elf), "-Wl,--no-warn-rwx-segments"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return elf


def test_the_placement_check_refuses_data_over_the_word(m0, tmp_path):
    layout = layout_of("M0", m0, **MANAGED)
    context = linker_context(layout, "application")
    check_elf_placement(link(tmp_path, context), layout)  # the shipped template leaves it out
    whole = {"name": "RAM", "start": 0x20000000, "size": 0x4000}
    elf = link(tmp_path, {**context, "ram": [whole], "main_ram": whole})  # a template that does not
    with pytest.raises(ImageError, match=r"\.data covers 0x20000000\.\.0x20000008, the word of RAM bank RAM"):
        check_elf_placement(elf, layout)


def test_a_ram_overflow_counts_the_ram_programs_get(m0):
    layout = layout_of("M0", m0, **MANAGED)
    message = str(overflow_error("app.elf", Overflow("RAM", 100, (".bss",)), layout, "application"))
    assert "than RAM bank RAM 0x20000008..0x20004000 (16376 bytes) holds" in message, message
