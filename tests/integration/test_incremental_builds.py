"""Incremental builds: a rebuild does exactly the steps its change needs, no more.

The default log shows one line per step ("CC app/main.c", "LINK build/K64F/app.elf",
"LDSCRIPT build/K64F/app.ld", ...); the tests count them.
"""

from __future__ import annotations

import json
import shutil
import struct

TARGET = "K64F"
EDIT = "/* edited by the test */"


def plain_example(fw, tmp_path):
    """A copy of the example with K64F's bootloader layout removed: one program to watch."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, TARGET)
    return project


def build_example(fw, tmp_path, *args):
    """A fresh plain copy of the example project, built once for K64F."""
    project = plain_example(fw, tmp_path)
    build = fw.Build(project, TARGET, fw.run_scons(project, TARGET, *args)).require_ok()
    assert args or build.result.count("LINK") == 1, build.result.describe()
    return build


def rebuild(fw, build, *args):
    result = fw.run_scons(build.project, TARGET, *args)
    assert result.returncode == 0, result.describe()
    return result


def vector_table_start(fw, build):
    first = min((s for s in fw.load_segments(build.elf) if s.filesz), key=lambda s: s.paddr)
    sp, reset = struct.unpack("<II", first.data[:8])
    return first.paddr, reset


def test_nothing_changed_nothing_built(fw, tmp_path):
    built = build_example(fw, tmp_path)
    result = rebuild(fw, built)
    assert result.steps == [], result.describe()
    assert "is up to date" in result.stdout, result.describe()


def test_app_offset_change_relinks_without_compiling(fw, tmp_path):
    built = build_example(fw, tmp_path)
    fw.next_second()  # as a person editing after the build
    fw.set_overrides(built.project, TARGET, app_offset="0x8000")
    result = rebuild(fw, built)
    assert result.files("CC") == [], "an offset change recompiled sources\n" + result.describe()
    assert result.count("LINK") == 1, result.describe()
    assert built.region("application")["start"] == 0x8000
    start, reset = vector_table_start(fw, built)
    assert start == 0x8000, f"the ELF starts at {start:#x}\n{result.describe()}"
    assert 0x8000 <= reset & ~1 < 0x100000
    assert (built.dir / "app.bin").is_file()


def test_linker_template_change_relinks_without_compiling(fw, tmp_path):
    project = plain_example(fw, tmp_path)
    template = project / "ld" / "app.ld.j2"
    template.parent.mkdir()
    shutil.copy2(fw.TEMPLATE, template)  # like the sources: a file older than the build
    fw.edit_project(project, linker_template="ld/app.ld.j2")
    first = fw.run_scons(project, TARGET)
    assert first.returncode == 0 and first.count("LINK") == 1, first.describe()
    script = project / "build" / TARGET / "app.ld"
    assert EDIT not in script.read_text()

    fw.next_second()  # as a person editing after the build
    template.write_text(template.read_text() + EDIT + "\n")
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 0, result.describe()
    assert result.files("CC") == [], result.describe()
    assert result.count("LDSCRIPT") == 1, "the edited template was not rendered\n" + result.describe()
    assert result.count("LINK") == 1, "the new linker script was not linked\n" + result.describe()
    assert EDIT in script.read_text()


def test_change_in_the_same_second_is_not_lost(fw, tmp_path):
    """A script (or these tests) may edit and rebuild within the second of the last build:
    the rebuild must still link the changed layout, not keep a stale app.elf."""
    fw.next_second()  # the build, the edit and the rebuild share one wall-clock second
    built = build_example(fw, tmp_path)
    fw.set_overrides(built.project, TARGET, app_offset="0x8000")
    result = rebuild(fw, built)
    assert built.region("application")["start"] == 0x8000
    start, _ = vector_table_start(fw, built)
    assert result.count("LINK") == 1 and start == 0x8000, (
        f"layout.json says the application starts at 0x8000 but app.elf starts at {start:#x}: "
        f"the changed app.ld was not linked\n{result.describe()}"
    )


def test_editing_one_source_recompiles_only_it(fw, tmp_path):
    built = build_example(fw, tmp_path)
    main = built.project / "app" / "main.c"
    main.write_text(main.read_text() + "\n" + EDIT + "\n")
    result = rebuild(fw, built)
    assert result.files("CC") == ["app/main.c"], result.describe()


def test_verbose_shows_command_lines(fw, tmp_path):
    build = build_example(fw, tmp_path, "verbose=1")
    out = build.result.stdout
    assert "arm-none-eabi-gcc" in out, build.result.describe()
    compiles = [line for line in out.splitlines() if "arm-none-eabi-gcc" in line and " -c " in line]
    assert len(compiles) == 3, build.result.describe()
    assert any("-T" in line.split() and "app.ld" in line for line in out.splitlines()), out


CORE_READ = "core modules read: "


def test_null_build_does_not_resolve_the_project_again(fw, tmp_path):
    """The graph of a null build comes from the facts the last build remembered: reading the
    SConstruct imports no part of the core that resolves targets, layouts or keys."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    sconstruct = project / "SConstruct"
    report = "' '.join(sorted(m for m in sys.modules if m.startswith('fwbuild.')))"
    sconstruct.write_text(sconstruct.read_text() + f"\nimport sys\nprint({CORE_READ!r} + {report})\n")
    fw.settle(project)
    first = fw.run_scons(project, TARGET)
    assert first.returncode == 0, first.describe()
    resolved = next(line for line in first.stdout.splitlines() if line.startswith(CORE_READ))
    assert "fwbuild.layout" in resolved.split(), first.describe()

    result = fw.run_scons(project, TARGET)
    assert result.returncode == 0 and result.steps == [], result.describe()
    read = next(line for line in result.stdout.splitlines() if line.startswith(CORE_READ))
    resolving = {"fwbuild.targets", "fwbuild.project", "fwbuild.layout", "fwbuild.resolve", "fwbuild.signing"}
    assert not resolving & set(read[len(CORE_READ) :].split()), read


def test_editing_a_target_file_rebuilds_what_it_changes(fw, tmp_path):
    """A board file of the project's own: its edit reaches the graph although fwbuild.json,
    the sources and the settings are unchanged."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "targets").mkdir()
    board = project / "targets" / "MY_K64F.json"
    own = {"inherits": "K64F", "description": "our K64F board"}
    board.write_text(json.dumps(own))
    fw.edit_project(project, targets_dirs=["targets"])
    fw.settle(project)  # so that the first build remembers its graph facts
    first = fw.run_scons(project, "MY_K64F")
    assert first.returncode == 0, first.describe()
    script = project / "build" / "MY_K64F" / "app.ld"
    assert "__stack_size = 0x00001000;" in script.read_text()  # what MY_K64F inherits
    assert (project / "build" / ".fwbuild-graph-MY_K64F.json").is_file()  # the graph's facts, remembered

    fw.next_second()  # as a person editing after the build
    board.write_text(json.dumps({**own, "stack_size": "0x1800"}))
    result = fw.run_scons(project, "MY_K64F")
    assert result.returncode == 0, result.describe()
    assert result.files("CC") == [], result.describe()
    assert result.count("LDSCRIPT") == 2 and result.count("LINK") == 2, result.describe()
    assert "__stack_size = 0x00001800;" in script.read_text()
