"""fwbuild's default start-up code and VTOR: written where the core has one (whatever its
architecture), never where it has none; there every handler can reach a first stage's
forwarder."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fwbuild.startup import render_startup, startup_context
from fwbuild.targets import TargetSet

VTOR_WRITE = "*(volatile uint32_t *)0xE000ED08u = (uint32_t)(uintptr_t)__fwbuild_vector_table;"


def rendered(name: str, **changes) -> str:
    target = dataclasses.replace(TargetSet().resolve(name), **changes)
    return render_startup(startup_context(target))


def compile_for(source: str, tmp_path: Path, *cpu: str, optimize: str = "-Os") -> Path:
    compiler = shutil.which("arm-none-eabi-gcc")
    if compiler is None:
        pytest.fail("arm-none-eabi-gcc not found: run ./setup.sh", pytrace=False)
    path = tmp_path / "startup.c"
    path.write_text(source)
    obj = tmp_path / "startup.o"
    result = subprocess.run(
        [
            compiler,
            *cpu,
            "-mthumb",
            optimize,
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-c",
            str(path),
            "-o",
            str(obj),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return obj


def symbols(obj: Path) -> dict[str, str]:
    """name -> nm's type letter (T: global, W: weak)."""
    out = subprocess.run(["arm-none-eabi-nm", str(obj)], capture_output=True, text=True, check=True).stdout
    return {m.group(2): m.group(1) for m in re.finditer(r"^\S*\s+([A-Za-z])\s+(\S+)$", out, re.M)}


def test_the_context_says_whether_the_core_has_vtor():
    assert startup_context(TargetSet().resolve("MICROBIT"))["vtor"] is False
    assert startup_context(TargetSet().resolve("K64F"))["vtor"] is True


def test_no_vtor_write_and_weak_handlers_on_a_core_without_vtor(tmp_path):
    text = rendered("MICROBIT")
    assert "0xE000ED08" not in text
    assert "No VTOR to write on MICROBIT" in text
    obj = compile_for(text, tmp_path, "-mcpu=cortex-m0")
    found = symbols(obj)
    # A first stage's forwarder replaces Default_Handler; each handler is a weak stub of its own
    # (an alias would stay bound to this file's Default_Handler).
    assert found["Default_Handler"] == "W"
    for name in ("NMI_Handler", "SVC_Handler", "PendSV_Handler", "UART0_IRQHandler", "SWI0_IRQHandler"):
        assert found[name] == "W", name
    disassembly = subprocess.run(
        ["arm-none-eabi-objdump", "-dr", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    stub = disassembly.split("<UART0_IRQHandler>:")[1].split("\n\n")[0]
    assert "ldr\tr0," in stub and "bx\tr0" in stub and "R_ARM_ABS32\tDefault_Handler" in stub, stub


@pytest.mark.parametrize(
    ("name", "changes", "cpu"),
    [
        ("K64F", {}, ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")),
        ("MPS3_AN547", {}, ("-mcpu=cortex-m55+nomve", "-mfloat-abi=hard")),
        ("MICROBIT", {"core": "cortex-m0plus", "vtor": True}, ("-mcpu=cortex-m0plus",)),
        ("MICROBIT", {"core": "cortex-m23", "vtor": True}, ("-mcpu=cortex-m23",)),
    ],
    ids=["armv7e-m", "armv8.1-m", "armv6-m-with-vtor", "armv8-m-baseline-with-vtor"],
)
def test_vtor_is_written_on_every_architecture_that_has_it(tmp_path, name, changes, cpu):
    text = rendered(name, **changes)
    assert VTOR_WRITE in text
    # -O0: the store's address stays whole (optimized code may build it from a nearby one)
    obj = compile_for(text, tmp_path, *cpu, optimize="-O0")
    disassembly = subprocess.run(
        ["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    # a literal, or (Armv8-M baseline) movw/movt halves
    vtor = r"\.word\s+0xe000ed08|movw\s+r\d+, #\d+\s+@ 0xed08"
    assert re.search(vtor, disassembly), f"no VTOR store for {cpu}:\n{disassembly}"
    assert symbols(obj)["Default_Handler"] == "T"  # as it always was where VTOR exists
