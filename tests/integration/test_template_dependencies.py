"""Every file the template engine loads for a linker script is a dependency of the script:
an edit of an included, imported or extended file (named literally or computed) renders
the script again and relinks, and a file looked for in vain is remembered, so that
creating it renders again. Errors in those files name the file and its line."""

from __future__ import annotations

import pytest

TARGET = "K64F"
ANCHOR = "__heap_size = {{ heap_size|hex }};"


def project_with_template(fw, tmp_path, text: str, **files: str):
    """The example in the plain K64F layout (one program) with its own template, ld/app.ld.j2:
    the shipped one with ``text`` after the heap size; ``files`` go into ld/ beside it."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    shipped = fw.TEMPLATE.read_text()
    assert shipped.count(ANCHOR) == 1, f"{fw.TEMPLATE} no longer holds {ANCHOR!r}: update this test"
    folder = project / "ld"
    folder.mkdir()
    (folder / "app.ld.j2").write_text(shipped.replace(ANCHOR, f"{ANCHOR}\n{text}\n"))
    for name, content in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    fw.edit_project(project, linker_template="ld/app.ld.j2")
    fw.set_overrides(project, TARGET)
    return project


def symbol(elf, name):
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        found = table.get_symbol_by_name(name)
        return found[0]["st_value"] if found else None


def build(fw, project, *args):
    result = fw.run_scons(project, TARGET, *args)
    assert result.returncode == 0, result.describe()
    return result


def relinked(fw, project, marker):
    """Build; the script must have been rendered again and linked, nothing compiled, and
    the program must carry the new marker. A build right after does nothing."""
    result = build(fw, project)
    assert result.count("LDSCRIPT") == 1 and result.count("LINK") == 1, result.describe()
    assert result.files("CC") == [], result.describe()
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_test_marker") == marker
    again = build(fw, project)
    assert again.steps == [], "a build after it was not a null build\n" + again.describe()


MARK = "__fw_test_marker = {};\n"

CASES = {
    # (template text after the heap size, files in ld/, the file to edit)
    "include": ('{% include "extra.ld.j2" %}', {"extra.ld.j2": MARK.format(1)}, "extra.ld.j2"),
    "nested include in a sub-folder": (
        '{% include "parts/outer.ld.j2" %}',
        {"parts__outer.ld.j2": '{% include "parts/inner.ld.j2" %}\n', "parts__inner.ld.j2": MARK.format(1)},
        "parts/inner.ld.j2",
    ),
    "computed name": (
        '{% set part = "parts/" ~ program ~ ".ld.j2" %}{% include part %}',
        {"parts__application.ld.j2": MARK.format(1)},
        "parts/application.ld.j2",
    ),
    "import": (
        '{% import "macros.ld.j2" as m %}{{ m.marker() }}',
        {"macros.ld.j2": "{% macro marker() %}" + MARK.format(1) + "{% endmacro %}"},
        "macros.ld.j2",
    ),
    "from import": (
        '{% from "macros.ld.j2" import marker %}{{ marker() }}',
        {"macros.ld.j2": "{% macro marker() %}" + MARK.format(1) + "{% endmacro %}"},
        "macros.ld.j2",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_editing_a_loaded_file_renders_and_relinks(fw, tmp_path, case):
    text, files, edited = CASES[case]
    project = project_with_template(fw, tmp_path, text, **files)
    first = build(fw, project)
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_test_marker") == 1, first.describe()
    assert build(fw, project).steps == []

    fw.next_second()  # as a person editing after the build
    path = project / "ld" / edited
    path.write_text(path.read_text().replace(MARK.format(1), MARK.format(2)))
    relinked(fw, project, 2)


def test_editing_an_extended_base_renders_and_relinks(fw, tmp_path):
    """{% extends %}: the project's template is a child of its own base template."""
    project = project_with_template(fw, tmp_path, "{% block extra %}{% endblock %}")
    folder = project / "ld"
    (folder / "app.ld.j2").rename(folder / "base.ld.j2")
    (folder / "app.ld.j2").write_text(
        '{% extends "base.ld.j2" %}{% block extra %}' + MARK.format(1) + "{% endblock %}"
    )
    build(fw, project)
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_test_marker") == 1
    fw.next_second()
    base = folder / "base.ld.j2"
    base.write_text(base.read_text().replace(ANCHOR, ANCHOR + "\n__fw_base_edit = 7;"))
    result = build(fw, project)
    assert result.count("LDSCRIPT") == 1 and result.count("LINK") == 1 and result.files("CC") == []
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_base_edit") == 7


def test_first_existing_file_of_a_list(fw, tmp_path):
    """{% include [board file, default] %}: the board file, absent at first, is remembered;
    creating it renders the script again, and so does deleting it."""
    text = '{% include ["boards/" ~ target ~ ".ld.j2", "boards/default.ld.j2"] %}'
    project = project_with_template(fw, tmp_path, text, **{"boards__default.ld.j2": MARK.format(1)})
    build(fw, project)
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_test_marker") == 1
    assert build(fw, project).steps == []

    fw.next_second()
    board = project / "ld" / "boards" / f"{TARGET}.ld.j2"
    board.write_text(MARK.format(64))
    relinked(fw, project, 64)

    fw.next_second()
    board.unlink()
    relinked(fw, project, 1)


def test_the_shipped_template_needs_no_other_file(fw, tmp_path):
    """The default template loads nothing else: its record is empty, and a null build
    stays null."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    build(fw, project)
    record = project / "build" / TARGET / ".app.ld.templates"
    assert record.read_text() == '{"templates": {}}\n'
    assert build(fw, project).steps == []


# -- errors ----------------------------------------------------------------------------------
def failed(fw, project):
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    errors = [line for line in result.stderr.splitlines() if "***" in line or line.startswith("error")]
    assert len(errors) == 1, result.describe()
    assert not (project / "build" / TARGET / "app.ld").exists()
    assert not (project / "build" / TARGET / "app.elf").exists()
    return " ".join(result.stderr.split())


def template_line(project, text):
    lines = (project / "ld" / "app.ld.j2").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_missing_include_names_the_file_the_template_and_the_line(fw, tmp_path):
    project = project_with_template(fw, tmp_path, '{% include "memory-extra.ld.j2" %}')
    err = failed(fw, project)
    line = template_line(project, "memory-extra")
    assert f"{project / 'ld' / 'app.ld.j2'}: line {line}: includes 'memory-extra.ld.j2'" in err, err
    assert "linker template not found" not in err, err

    (project / "ld" / "memory-extra.ld.j2").write_text(MARK.format(5))  # the fix
    build(fw, project)
    assert symbol(project / "build" / TARGET / "app.elf", "__fw_test_marker") == 5


def test_include_deleted_after_a_build(fw, tmp_path):
    project = project_with_template(
        fw, tmp_path, '{% include "extra.ld.j2" %}', **{"extra.ld.j2": MARK.format(1)}
    )
    build(fw, project)
    (project / "ld" / "extra.ld.j2").unlink()
    err = failed(fw, project)
    assert "includes 'extra.ld.j2'" in err and f"line {template_line(project, 'extra.ld.j2')}" in err, err


def test_syntax_error_in_an_included_file_names_that_file(fw, tmp_path):
    files = {"parts__sections.ld.j2": "/* ok */\n/* ok */\n{% if %}\n"}
    project = project_with_template(fw, tmp_path, '{% include "parts/sections.ld.j2" %}', **files)
    err = failed(fw, project)
    included = project / "ld" / "parts" / "sections.ld.j2"
    assert f"{included}: line 3: template syntax error" in err, err
    assert f"app.ld.j2 line {template_line(project, 'parts/sections')}" in err, err


def test_hex_of_a_string_is_one_clear_error(fw, tmp_path):
    files = {"names.ld.j2": "/* name */\n__fw_name = {{ rom.name|hex }};\n"}
    project = project_with_template(fw, tmp_path, '{% include "names.ld.j2" %}', **files)
    err = failed(fw, project)
    assert f"{project / 'ld' / 'names.ld.j2'}: line 2:" in err, err
    assert "hex filter needs a non-negative integer, not the str 'application'" in err, err


def test_an_expression_that_raises_is_one_clear_error(fw, tmp_path):
    project = project_with_template(fw, tmp_path, "__fw_ratio = {{ stack_size // (heap_size - heap_size) }};")
    err = failed(fw, project)
    line = template_line(project, "__fw_ratio")
    assert f"{project / 'ld' / 'app.ld.j2'}: line {line}: ZeroDivisionError" in err, err


def test_undefined_variable_in_an_included_file(fw, tmp_path):
    files = {"extra.ld.j2": "\n\n__fw_x = {{ rom.strat|hex }};\n"}
    project = project_with_template(fw, tmp_path, '{% include "extra.ld.j2" %}', **files)
    err = failed(fw, project)
    assert f"{project / 'ld' / 'extra.ld.j2'}: uses an undefined variable" in err and "on line 3" in err, err
    assert "'strat'" in err, err
