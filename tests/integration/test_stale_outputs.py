"""A build folder holds exactly what the current configuration produces: an output the
configuration no longer produces is removed by the next build, and a failed step takes every
output downstream of it along (DESIGN.md, "Build folders")."""

from __future__ import annotations

import json
from pathlib import Path

TARGET = "K64F"


def files(folder: Path) -> set[str]:
    """Every file of the folder but fwbuild's dot-files, by path relative to it."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def products(folder: Path) -> set[str]:
    """The files a user takes from the folder: all but objects and linker scripts."""
    return {f for f in files(folder) if "obj/" not in f and not f.endswith(".ld")}


def check_exactly_what_build_info_lists(fw, folder: Path) -> None:
    info = json.loads((folder / "build-info.json").read_text())
    assert products(folder) == set(info["outputs"]) | {"build-info.json"}
    result = fw.run_fwbuild("verify-build", folder / "build-info.json")
    assert result.returncode == 0, result.describe()


def build(fw, project: Path, *args: str):
    result = fw.run_scons(project, TARGET, *args)
    assert result.returncode == 0, result.describe()
    return result


def test_dropping_the_managed_keys_removes_the_slot_and_merge(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    build(fw, project)
    before = files(out)
    assert {
        "combined.bin",
        "combined.hex",
        "app-signed.bin",
        "app-signed.hex",
        "bootloader/bootloader.elf",
    } <= before
    (out / ".fwbuild-note").write_text("fwbuild's own dot-file")
    data = json.loads((project / "fwbuild.json").read_text())
    del data["target_overrides"][TARGET]
    (project / "fwbuild.json").write_text(json.dumps(data))

    result = build(fw, project)
    gone = before - files(out)
    assert {"combined.bin", "combined.hex", "combined.elf", "app-signed.bin", "app-signed.hex"} <= gone
    assert not (out / "bootloader").exists()  # the bootloader's whole build, objects and all
    assert "removed from build/K64F, no longer produced: " in result.stdout
    assert (out / ".fwbuild-note").exists()
    check_exactly_what_build_info_lists(fw, out)
    again = build(fw, project)
    assert again.steps == [] and "removed" not in again.stdout, again.describe()


def test_leaving_an_mbed_format_removes_the_detached_signature(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    overrides = json.loads((project / "fwbuild.json").read_text())["target_overrides"][TARGET]
    fw.set_overrides(project, TARGET, **overrides, header_format="mbed-v2")
    build(fw, project)
    assert (out / "app-signed.sig").exists()
    check_exactly_what_build_info_lists(fw, out)

    fw.set_overrides(project, TARGET, **overrides, header_format="mcuboot")
    build(fw, project)
    assert not (out / "app-signed.sig").exists()
    check_exactly_what_build_info_lists(fw, out)
    verify = fw.run_fwbuild("verify", out / "app-signed.bin", "--target", TARGET, "--project", project)
    assert verify.returncode == 0 and "MCUboot image" in verify.stdout, verify.describe()


def test_a_signing_failure_removes_everything_after_it(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    build(fw, project)
    failed = fw.run_scons(project, TARGET, "sign_command=false {digest} {signature}")
    assert failed.returncode != 0 and "sign_command" in failed.stderr, failed.describe()
    left = files(out)
    for name in ("app-signed.bin", "app-signed.hex", "combined.bin", "combined.hex", "build-info.json"):
        assert name not in left, f"{name} survived the failed signing"
    assert {"app.elf", "app.bin", "app.hex", "bootloader/bootloader.bin"} <= left  # before the failure
    assert "removed from build/K64F after the failure: " in failed.stdout
    verify = fw.run_fwbuild("verify-build", out / "build-info.json")
    assert verify.returncode != 0

    build(fw, project)  # and the next good build makes them again
    check_exactly_what_build_info_lists(fw, out)


def test_a_failed_link_removes_the_programs_images(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    build(fw, project)
    (project / "app/extra.c").write_text("void missing(void);\nvoid use(void) { missing(); }\n")
    failed = fw.run_scons(project, TARGET)
    assert failed.returncode != 0 and "undefined reference to `missing'" in failed.output, failed.describe()
    left = files(out)
    for name in ("app.elf", "app.bin", "app.hex", "app-signed.bin", "app-signed.hex", "combined.bin",
                 "combined.hex", "combined.elf", "memory-map.svg", "build-info.json"):  # fmt: skip
        assert name not in left, f"{name} survived the failed link"
    assert "obj/app/app/main.o" in left  # upstream of the link

    (project / "app/extra.c").unlink()
    result = build(fw, project)
    assert "obj/app/app/extra.o" in result.stdout  # the object of the deleted source goes too
    assert "obj/app/app/extra.o" not in files(out)
    check_exactly_what_build_info_lists(fw, out)


def test_building_a_part_removes_only_what_is_no_longer_produced(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    build(fw, project)
    before = files(out)
    (project / "app/main.c").write_text((project / "app/main.c").read_text() + "\n/* edited */\n")
    build(fw, project, f"build/{TARGET}/app.elf")
    assert files(out) == before  # declared outputs the run did not build stay

    data = json.loads((project / "fwbuild.json").read_text())
    del data["target_overrides"][TARGET]
    (project / "fwbuild.json").write_text(json.dumps(data))
    build(fw, project, f"build/{TARGET}/app.elf")
    left = files(out)
    assert not {"combined.bin", "combined.hex", "app-signed.bin", "app-signed.hex"} & left
    assert {"memory-map.svg", "size-report.json", "build-info.json", "layout.json", "app.bin"} <= left


def test_repo_hook_outputs_stay_while_registered(fw, tmp_path):
    """A repo hook's output is declared: it stays; a file nobody declares goes, and the
    hook's output goes once the SConstruct no longer registers the hook."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    sconstruct = project / "SConstruct"
    plain = sconstruct.read_text()
    hook = 'env.FirmwarePostBuild("cp $SOURCE $TARGET", name="copy", output="release/firmware.bin")\n'
    sconstruct.write_text(plain.replace("Default(", hook + "Default(", 1))
    build(fw, project)
    assert (out / "release/firmware.bin").read_bytes() == (out / "combined.bin").read_bytes()
    (out / "notes.txt").write_text("put here by hand")
    (out / "release/old.bin").write_text("an earlier release")
    result = build(fw, project)
    assert (out / "release/firmware.bin").exists() and result.steps == []
    assert not (out / "notes.txt").exists() and not (out / "release/old.bin").exists()

    sconstruct.write_text(plain)
    build(fw, project)
    assert not (out / "release").exists()
    check_exactly_what_build_info_lists(fw, out)


def test_dry_run_and_question_remove_nothing(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    out = project / "build" / TARGET
    build(fw, project)
    (out / "stray.bin").write_text("x")
    for args in (["-n"], ["-q"]):
        fw.run_scons(project, TARGET, *args)
        assert (out / "stray.bin").exists()


def test_a_build_folder_that_holds_the_project_is_never_swept(fw, tmp_path):
    """$FW_BUILD_DIR set to the project's own folder: fwbuild removes nothing it did not
    make, and says why."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    sconstruct = project / "SConstruct"
    sconstruct.write_text(
        sconstruct.read_text().replace("FW_STARTUP=False", 'FW_STARTUP=False, FW_BUILD_DIR="#"')
    )
    (project / "notes.txt").write_text("the user's")
    result = build(fw, project)
    assert (project / "combined.bin").exists() and (project / "notes.txt").exists()
    assert "warning: . holds the project: fwbuild removes no stale outputs from it" in result.stderr
    assert sorted(p.name for p in (project / "keys").iterdir()) == sorted(
        p.name for p in (fw.EXAMPLE / "keys").iterdir()
    )
