"""The default start-up code renders for a target and compiles cleanly."""

import shutil
import subprocess

import pytest

from fwbuild.startup import render_startup, startup_context
from fwbuild.targets import TargetSet


def test_context_lists_every_irq():
    k64f = TargetSet().resolve("K64F")
    context = startup_context(k64f)
    assert context["vector_count"] == 102
    assert context["irq_handlers"] == [None] * (102 - 16)


def test_rendered_table_has_one_entry_per_vector(tmp_path):
    import dataclasses

    target = dataclasses.replace(TargetSet().resolve("MPS2_AN385"), irq_handlers=((1, "UART0TX_IRQHandler"),))
    text = render_startup(startup_context(target))
    assert "const fwbuild_vector_t __fwbuild_vector_table[48]" in text
    assert "[17] = UART0TX_IRQHandler," in text and "[16] = Default_Handler," in text
    assert "[47] = Default_Handler," in text and "[48]" not in text.split("__fwbuild_vector_table[48]")[1]
    assert "void UART0TX_IRQHandler(void) FWBUILD_WEAK_DEFAULT;" in text
    compiler = shutil.which("arm-none-eabi-gcc")
    if compiler is None:
        pytest.fail("arm-none-eabi-gcc not found: run ./setup.sh", pytrace=False)
    source = tmp_path / "startup.c"
    source.write_text(text)
    for cpu in ("-mcpu=cortex-m0", "-mcpu=cortex-m3", "-mcpu=cortex-m4"):
        result = subprocess.run(
            [compiler, cpu, "-mthumb", "-Os", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", str(source),
             "-o", str(tmp_path / "startup.o")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
