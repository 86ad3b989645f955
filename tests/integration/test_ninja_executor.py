"""``ninja=1``: SCons reads the graph and writes build/<target>/build.ninja, Ninja builds.

The outputs are the SCons path's byte for byte; afterwards ``ninja -C build/<target>`` alone
rebuilds exactly what an edit needs (the rules of test_incremental_builds.py), regenerates
its file when what shapes the graph changes, and runs every Python step as an ordinary
command (never SCons' Ninja daemon).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EDIT = "/* edited by the test */"
NINJA = Path(sys.executable).parent / "ninja"
# What only a Ninja build writes in the build folder.
NINJA_FILES = {"build.ninja", "compile_commands.json", ".ninja_log", ".ninja_deps", ".ninja-steps"}


def ninja(fw, project: Path, target: str, *args: str):
    fw.require_tools()
    assert NINJA.is_file(), f"{NINJA} is missing: pip install 'ninja==1.13.2' (the test extra has it)"
    return fw.run([NINJA, "-C", project / "build" / target, *args])


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but Ninja's own, by relative path."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] not in NINJA_FILES:
            found[rel.as_posix()] = path.read_bytes()
    return found


@pytest.mark.parametrize("target", ["K64F", "MPS2_AN385"])
def test_ninja_outputs_equal_the_scons_outputs(fw, example_build, tmp_path, target):
    """K64F: a bootloader and the signed application; MPS2_AN385: the three-stage boot chain
    with libsodium, each stage linked for each of its slots."""
    scons_build = example_build(target)
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run_scons(project, target, "ninja=1")
    assert result.returncode == 0, result.describe()
    build = project / "build" / target
    assert (build / "build.ninja").is_file(), result.describe()
    ours, theirs = tree(build), tree(scons_build.dir)
    assert sorted(ours) == sorted(theirs), result.describe()
    differ = [name for name in ours if ours[name] != theirs[name]]
    assert differ == [], f"differ from the SCons build: {differ}\n{result.describe()}"

    again = ninja(fw, project, target)
    assert again.returncode == 0 and "no work to do" in again.stdout, again.describe()
    # Every Python step ran as a command: SCons' Ninja daemon never started.
    assert not (project / ".ninja").exists()
    assert "ninja_run_daemon" not in (build / "build.ninja").read_text()
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "ninja_run_daemon" not in procs and "ninja_scons_daemon" not in procs

    compdb = json.loads((build / "compile_commands.json").read_text())
    files = {entry["file"] for entry in compdb}
    assert str(project / "app" / "main.c") in files and all(
        entry["directory"] == str(project) for entry in compdb
    )


def project_with_own_board(fw, tmp_path) -> Path:
    """The example with a board file of its own (MY_K64F, K64F's layout) and a linker
    template of its own, as a repo that edits both would have."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "targets").mkdir()
    (project / "targets" / "MY_K64F.json").write_text(json.dumps({"inherits": "K64F"}))
    (project / "ld").mkdir()
    shutil.copy2(fw.TEMPLATE, project / "ld" / "app.ld.j2")
    data = json.loads((project / "fwbuild.json").read_text())
    data["target_overrides"]["MY_K64F"] = data["target_overrides"]["K64F"]
    data.update(targets_dirs=["targets"], linker_template="ld/app.ld.j2")
    (project / "fwbuild.json").write_text(json.dumps(data, indent=2) + "\n")
    return project


def edited(fw, project: Path, target: str):
    """Ninja's run after an edit made a second after the last build, as a person would."""
    result = ninja(fw, project, target)
    assert result.returncode == 0, result.describe()
    return result


def test_ninja_rebuilds_what_each_edit_needs(fw, tmp_path, key_files):
    target = "MY_K64F"
    project = project_with_own_board(fw, tmp_path)
    first = fw.run_scons(project, target, "ninja=1")
    assert first.returncode == 0, first.describe()
    build = project / "build" / target

    fw.next_second()
    main = project / "app" / "main.c"
    main.write_text(main.read_text() + "\n" + EDIT + "\n")
    result = edited(fw, project, target)
    assert result.files("CC") == ["app/main.c"], result.describe()
    assert result.files("LINK") == [f"build/{target}/app.elf"], result.describe()
    assert result.count("LDSCRIPT") == 0 and result.count("SIGN") == 1, result.describe()

    fw.next_second()
    header = project / "common" / "trailer.h"  # app/main.c alone includes it
    header.write_text(header.read_text() + "\n" + EDIT + "\n")
    result = edited(fw, project, target)
    assert result.files("CC") == ["app/main.c"], result.describe()

    fw.next_second()  # an offset: what includes fwbuild_layout.h recompiles, both programs link
    fw.set_overrides(
        project,
        target,
        **{
            **json.loads((project / "fwbuild.json").read_text())["target_overrides"][target],
            "app_offset": "0x8800",
        },
    )
    result = edited(fw, project, target)
    assert "regenerating build.ninja" in result.stdout, result.describe()
    assert sorted(result.files("CC")) == ["bootloader/forward.c", "bootloader/main.c"], result.describe()
    assert result.count("LINK") == 2, result.describe()
    assert json.loads((build / "layout.json").read_text())["regions"]
    assert fw.region_of(json.loads((build / "layout.json").read_text()), "application")["start"] == 0x8800

    fw.next_second()  # the board file: a new stack size reaches both linker scripts, nothing compiles
    (project / "targets" / "MY_K64F.json").write_text(
        json.dumps({"inherits": "K64F", "stack_size": "0x1800"})
    )
    result = edited(fw, project, target)
    assert result.files("CC") == [], result.describe()
    assert result.count("LDSCRIPT") == 2 and result.count("LINK") == 2, result.describe()
    assert "__stack_size = 0x00001800;" in (build / "app.ld").read_text()

    fw.next_second()  # the linker template: rendered again and linked, nothing compiles
    template = project / "ld" / "app.ld.j2"
    template.write_text(template.read_text() + EDIT + "\n")
    result = edited(fw, project, target)
    assert result.files("CC") == [], result.describe()
    assert result.count("LDSCRIPT") == 2 and result.count("LINK") == 2, result.describe()
    assert EDIT in (build / "app.ld").read_text()

    fw.next_second()  # another signing key in the same file: signed again, nothing compiled or linked
    before = (build / "app-signed.bin").read_bytes()
    key = project / "keys" / "dev-ed25519-key.pem"
    key.write_bytes(key_files["ed25519"].read_bytes())
    result = edited(fw, project, target)
    assert result.files("CC") == [] and result.count("LINK") == 0, result.describe()
    assert result.count("SIGN") == 1 and result.count("MERGE") == 1, result.describe()
    assert (build / "app-signed.bin").read_bytes() != before

    fw.next_second()  # a new source in a folder the SConstruct globs: the graph grows
    (project / "app" / "extra.c").write_text("int fw_test_extra(void) { return 42; }\n")
    result = edited(fw, project, target)
    assert "regenerating build.ninja" in result.stdout, result.describe()
    assert result.files("CC") == ["app/extra.c"] and result.count("LINK") == 1, result.describe()

    result = edited(fw, project, target)
    assert "no work to do" in result.stdout, result.describe()

    # What Ninja left is what SCons builds from the same files.
    again = fw.copy_project(project, tmp_path / "again")
    scons = fw.run_scons(again, target)
    assert scons.returncode == 0, scons.describe()
    ours, theirs = tree(build), tree(again / "build" / target)
    assert [name for name in ours if ours[name] != theirs.get(name)] == [], scons.describe()

    # The scons line hands over to Ninja when nothing changed, and writes build.ninja anew
    # (then hands over) when something that shapes the graph did.
    result = fw.run_scons(project, target, "ninja=1")
    assert result.returncode == 0 and "no work to do" in result.stdout, result.describe()
    fw.next_second()
    overrides = json.loads((project / "fwbuild.json").read_text())["target_overrides"][target]
    fw.set_overrides(project, target, **{**overrides, "app_offset": "0x8400"})
    result = fw.run_scons(project, target, "ninja=1")
    assert result.returncode == 0 and result.count("LINK") == 2, result.describe()
    assert "waiting for another build" not in result.stderr, result.describe()  # no scons in scons
    assert fw.region_of(json.loads((build / "layout.json").read_text()), "application")["start"] == 0x8400
    result = fw.run_scons(project, target, "ninja=1", "profile=release", f"sign_key={key_files['ed25519']}")
    assert result.returncode == 0 and result.count("CC") > 0, result.describe()


def test_header_edits_rebuild_in_a_folder_with_a_space(fw, tmp_path):
    """gcc's depfiles name files relative to the project, made absolute for Ninja with the
    project's folder escaped as a depfile escapes it."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "my project")
    first = fw.run_scons(project, "K64F", "ninja=1")
    assert first.returncode == 0, first.describe()
    fw.next_second()
    header = project / "common" / "trailer.h"  # app/main.c alone includes it
    header.write_text(header.read_text() + "\n" + EDIT + "\n")
    result = edited(fw, project, "K64F")
    assert result.files("CC") == ["app/main.c"], result.describe()
    assert "no work to do" in edited(fw, project, "K64F").stdout


def test_ninja_builds_after_scons_clean(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    first = fw.run_scons(project, "K64F", "ninja=1")
    assert first.returncode == 0, first.describe()
    built = tree(project / "build" / "K64F")
    clean = fw.run_scons(project, "K64F", "ninja=1", "-c")
    assert clean.returncode == 0, clean.describe()
    assert not (project / "build" / "K64F" / "combined.bin").exists(), clean.describe()
    result = ninja(fw, project, "K64F")
    assert result.returncode == 0 and result.count("LINK") == 2, result.describe()
    assert tree(project / "build" / "K64F") == built


def test_ninja_missing_names_the_package(fw, tmp_path):
    """A Python without the ninja package (one whose import fails stands in for it)."""
    fw.require_tools()
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    absent = tmp_path / "absent" / "ninja"
    absent.mkdir(parents=True)
    (absent / "__init__.py").write_text("raise ImportError('no ninja here')\n")
    env = {**os.environ, "PYTHONPATH": str(absent.parent)}
    proc = subprocess.run(
        [fw.SCONS, "-C", project, "target=K64F", "ninja=1"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ninja=1: the ninja package is not installed"), proc.stderr
    assert "pip install 'ninja==1.13.2'" in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project / "build" / "K64F" / "build.ninja").exists()


def test_ccache_shares_compiles_across_checkouts_under_ninja(fw, tmp_path):
    """SCons' CacheDir is not consulted when Ninja builds: the shared cache is the compiler's
    (cc_prefix=ccache, one CCACHE_DIR). A second checkout elsewhere compiles nothing anew."""
    fw.require_tools()
    assert shutil.which("ccache"), "ccache is missing: run ./setup.sh"
    env = {**os.environ, "CCACHE_DIR": str(tmp_path / "ccache"), "PYTHONDONTWRITEBYTECODE": "1"}

    def build(name: str) -> subprocess.CompletedProcess:
        project = fw.copy_project(fw.EXAMPLE, tmp_path / name)
        args = [fw.SCONS, "-C", project, "-j2", "target=K64F", "ninja=1", "cc_prefix=ccache"]
        return subprocess.run(args, capture_output=True, text=True, env=env)

    first = build("one")
    assert first.returncode == 0, first.stdout + first.stderr
    subprocess.run(["ccache", "--zero-stats"], env=env, check=True, capture_output=True)
    second = build("two")
    assert second.returncode == 0, second.stdout + second.stderr
    stats = subprocess.run(["ccache", "--print-stats"], env=env, capture_output=True, text=True).stdout
    counts = dict(line.split("\t", 1) for line in stats.splitlines() if "\t" in line)
    compiles = second.stdout.count(" CC ")
    assert compiles > 0 and int(counts["direct_cache_hit"]) == compiles, stats + second.stdout
    assert tree(tmp_path / "one" / "build" / "K64F") == tree(tmp_path / "two" / "build" / "K64F")


def test_overflow_under_ninja_names_the_layout_key(fw, tmp_path):
    """ld's "region `FLASH' overflowed" is said in the layout's terms, as without Ninja."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    main = project / "app" / "main.c"
    table = "__attribute__((used)) const unsigned char fw_test_table[0x80000] = {1};"
    main.write_text(main.read_text() + "\n" + table + "\n")
    result = fw.run_scons(project, "K64F", "ninja=1")
    assert result.returncode != 0, result.describe()
    assert "overflowed by" not in result.output and "Traceback" not in result.output, result.describe()
    said = " ".join(result.output.split())
    assert "error: build/K64F/app.elf" in said and "restrict_size" in said, result.describe()
    assert "set it to at least" in said, result.describe()
    assert not (project / "build" / "K64F" / "app.elf").exists()
    assert not (project / "build" / "K64F" / "app.elf.tmp").exists()


def test_a_program_the_elf_check_rejects_is_never_in_place_under_ninja(fw, tmp_path):
    """The ELF check runs among the steps after the links: a program linked away from its
    region is refused with the same error as without Ninja, nothing made from it stays,
    and the next Ninja run links and refuses it again (never "no work to do")."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    flash_origin = "ORIGIN = {{ rom.start|hex }}"
    text = fw.TEMPLATE.read_text()
    assert text.count(flash_origin) == 1, f"{fw.TEMPLATE} no longer holds {flash_origin!r}: update this test"
    (project / "moved.ld.j2").write_text(
        text.replace(flash_origin, "ORIGIN = {{ (rom.start + 0x1000)|hex }}")
    )
    fw.edit_project(project, linker_template="moved.ld.j2")
    fw.set_overrides(project, "K64F")  # the plain layout: the application at the flash start
    build = project / "build" / "K64F"
    said = "app.elf.tmp: no vector table at the application start 0x00000000"
    scons = fw.run_scons(project, "K64F")
    assert scons.returncode == 2 and said in scons.stderr, scons.describe()
    shutil.rmtree(build)

    result = fw.run_scons(project, "K64F", "ninja=1")
    assert result.returncode != 0 and "Traceback" not in result.output, result.describe()
    assert f"error: {build}/{said}" in " ".join(result.output.split()), result.describe()
    for name in ("app.elf", "app.elf.tmp", "app.map", "app.bin", "app-signed.bin", "combined.bin"):
        assert not (build / name).exists(), f"{name} left behind\n{result.describe()}"
    again = ninja(fw, project, "K64F")
    assert again.returncode != 0 and again.count("LINK") == 1, again.describe()
    assert "no work to do" not in again.stdout and ".isr_vector" in again.output, again.describe()


def test_sconstruct_hooks_are_refused_under_ninja(fw, tmp_path):
    """A hook of the SConstruct (env.FirmwarePostBuild) has no command Ninja could run."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    sconstruct = project / "SConstruct"
    hook = 'env.FirmwarePostBuild("cp $SOURCE $TARGET", output="copy.bin")\n'
    sconstruct.write_text(sconstruct.read_text().replace("\nDefault(", "\n" + hook + "Default(", 1))
    result = fw.run_scons(project, "K64F", "ninja=1")
    assert result.returncode == 2, result.describe()
    said = " ".join(result.stderr.split())
    assert said.startswith("error: ninja=1: the SConstruct registers the image-stage hook cp"), said
    assert "build without ninja=1" in said and "Traceback" not in said
    assert not (project / "build" / "K64F" / "build.ninja").exists()
