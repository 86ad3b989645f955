import re

import pytest

from fwbuild.cheader import layout_header
from fwbuild.errors import ConfigError
from fwbuild.layout import compute_layout
from fwbuild.linker import context_signature, linker_context, render_linker
from fwbuild.targets import Sourced, TargetSet


def managed_k64f():
    keys = dict(
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8200",
        restrict_size="0x77E00",
    )
    target = TargetSet().resolve("K64F", {k: Sourced(v, "fwbuild.json") for k, v in keys.items()})
    return compute_layout(target)


@pytest.mark.parametrize("name", TargetSet().public_names())
def test_every_target_renders(name):
    layout = compute_layout(TargetSet().resolve(name))
    script = render_linker(linker_context(layout))
    app = layout.application
    assert f"ORIGIN = 0x{app.start:08X}, LENGTH = 0x{app.size:08X}" in script
    assert "/work/" not in script and "/tmp/" not in script  # no host paths


def test_reserved_bytes_follow_the_program_at_flash_start():
    layout = managed_k64f()
    app_script = render_linker(linker_context(layout, "application"))
    boot_script = render_linker(linker_context(layout, "bootloader"))
    assert "flash_config" not in app_script.split("SECTIONS", 1)[1]
    assert "BYTE(0x000000FE)" in boot_script
    assert re.search(r"__fw_header_start\s*=\s*0x00008000", app_script)
    assert re.search(r"MBED_APP_START\s*=\s*0x00008200", app_script)


def test_signature_is_stable_and_path_free():
    a, b = linker_context(managed_k64f()), linker_context(managed_k64f())
    assert context_signature(a) == context_signature(b)
    assert "/" not in context_signature(a)


def test_strict_template_names_the_missing_variable(tmp_path):
    template = tmp_path / "mine.ld.j2"
    template.write_text("MEMORY { FLASH : ORIGIN = {{ rom.strat | hex }} }\n")
    with pytest.raises(ConfigError, match=r"mine\.ld\.j2: uses an undefined variable"):
        render_linker(linker_context(managed_k64f()), template)


def test_missing_template():
    with pytest.raises(ConfigError, match=r"nowhere\.ld\.j2: linker template not found"):
        render_linker(linker_context(managed_k64f()), "/nowhere/nowhere.ld.j2")


def test_layout_header_defines():
    text = layout_header(managed_k64f())
    for line in (
        "#define BOOTLOADER_ADDR 0x00000000u",
        "#define HEADER_ADDR 0x00008000u",
        "#define HEADER_SIZE 0x00000200u",
        "#define APPLICATION_ADDR 0x00008200u",
        "#define APPLICATION_SIZE 0x00077E00u",
        "#define POST_APPLICATION_ADDR 0x00080000u",
        "#define MBED_RAM_START 0x20000000u",
    ):
        assert line in text
    assert "MBED_APP_START" not in text  # linker-only, as in Mbed
    assert "CANDIDATE_ADDR" not in text  # absent regions are not defined
