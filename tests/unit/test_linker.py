import re
from pathlib import Path

import pytest

from fwbuild.cheader import layout_header
from fwbuild.errors import ConfigError
from fwbuild.layout import compute_layout
from fwbuild.linker import context_signature, linker_context, render_linker
from fwbuild.targets import Sourced, TargetSet

REPO = Path(__file__).resolve().parents[2]
TEMPLATES_DOC = REPO / "docs" / "linker-templates.md"


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


def undefined_variable_error(tmp_path):
    template = tmp_path / "mine.ld.j2"
    template.write_text("{{ romm }}\n")
    with pytest.raises(ConfigError) as caught:
        render_linker(linker_context(managed_k64f()), template)
    return str(caught.value)


def test_undefined_variable_names_a_page_that_exists(tmp_path):
    pages = re.findall(r"docs/[\w./-]+\.md", undefined_variable_error(tmp_path))
    assert pages, "the error should point to the page listing the variables"
    for page in pages:
        assert (REPO / page).is_file(), f"the error points to {page}, which does not exist"


def documented_variables():
    """First column of the table under '## Variables' in docs/linker-templates.md."""
    section = TEMPLATES_DOC.read_text().split("## Variables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, re.M)


@pytest.mark.parametrize("program", ["application", "bootloader"])
def test_docs_list_exactly_the_template_variables(program):
    documented = documented_variables()
    assert len(documented) == len(set(documented))
    assert set(documented) == set(linker_context(managed_k64f(), program))


def render_linker_text(folder, text, context=None):
    template = folder / "t.ld.j2"
    template.write_text(text)
    return render_linker(context or linker_context(managed_k64f()), template)


def test_docs_hex_filter_example(tmp_path):
    text = TEMPLATES_DOC.read_text()
    assert "`{{ rom.start|hex }}` gives `0x00008200`" in text
    assert managed_k64f().application.start == 0x8200
    script = render_linker_text(tmp_path, "{{ rom.start|hex }} {{ (rom.start + rom.size)|hex }}")
    assert script == "0x00008200 0x00080000"


@pytest.mark.parametrize("name", TargetSet().public_names())
def test_docs_example_partial_renders(tmp_path, name):
    """The complete file of the guide's worked example (its ```jinja block) renders with
    every public target's variables and lists every RAM bank."""
    (partial,) = re.findall(r"^```jinja\n(.*?)^```", TEMPLATES_DOC.read_text(), re.M | re.S)
    context = linker_context(compute_layout(TargetSet().resolve(name)))
    script = render_linker_text(tmp_path, partial, context)
    for bank in context["ram"]:
        assert f"__ram_{bank['name'].lower()}_start = 0x{bank['start']:08X};" in script


def test_compiled_templates_are_kept_and_checked_against_the_text(tmp_path):
    """With a cache folder, the second render loads the compiled template (and still
    records the included files); an edited template is compiled again."""
    from fwbuild.linker import DEFAULT_TEMPLATE, render_linker_templates

    context = linker_context(managed_k64f())
    cache = tmp_path / "cache"
    plain = render_linker_templates(context)
    first = render_linker_templates(context, DEFAULT_TEMPLATE, cache)
    assert first == plain and len(list(cache.iterdir())) == 1
    assert render_linker_templates(context, DEFAULT_TEMPLATE, cache) == plain

    (tmp_path / "part.ld").write_text("/* part {{ 1 + 1 }} */\n")
    template = tmp_path / "app.ld.j2"
    template.write_text('{% include "part.ld" %}/* one */\n')
    assert render_linker_templates({}, template, cache).text == "/* part 2 */\n/* one */\n"
    again = render_linker_templates({}, template, cache)
    assert again.text == "/* part 2 */\n/* one */\n" and again.templates == {"part.ld": True}
    template.write_text('{% include "part.ld" %}/* two */\n')  # same path, new text
    assert render_linker_templates({}, template, cache).text == "/* part 2 */\n/* two */\n"
