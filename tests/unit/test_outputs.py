"""fwbuild.outputs.sweep: a build folder keeps what the graph declares and fwbuild's
dot-files, nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from fwbuild.outputs import remove, sweep


def make(root: Path, *paths: str) -> None:
    for rel in paths:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rel)


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in root.rglob("*"))


def test_undeclared_outputs_go_declared_ones_and_dot_files_stay(tmp_path):
    make(
        tmp_path,
        "app.elf",
        "app.bin",
        "combined.bin",  # an earlier layout's
        "app-signed.sig",  # an earlier format's
        "app.elf.tmp",  # a killed link's
        ".app.bin.x1.tmp",  # fwbuild's dot-files stay
        "obj/app/main.o",
        "obj/app/old.o",  # a deleted source's
    )
    removed = sweep(tmp_path, {"app.elf", "app.bin", "obj/app/main.o"})
    assert sorted(removed) == ["app-signed.sig", "app.elf.tmp", "combined.bin", "obj/app/old.o"]
    assert files(tmp_path) == [".app.bin.x1.tmp", "app.bin", "app.elf", "obj/", "obj/app/", "obj/app/main.o"]


def test_a_folder_with_nothing_declared_goes_whole(tmp_path):
    make(
        tmp_path,
        "app.elf",
        "bootloader/bootloader.elf",
        "bootloader/.bootloader.ld.templates",
        "bootloader/obj/bootloader/main.o",
        "hooks/",
    )
    removed = sweep(tmp_path, {"app.elf"})
    assert "bootloader/" in removed and "hooks/" in removed
    assert files(tmp_path) == ["app.elf"]


def test_dot_files_stay_where_outputs_remain(tmp_path):
    make(tmp_path, "bootloader/bootloader.elf", "bootloader/.bootloader.ld.templates", ".lock")
    assert sweep(tmp_path, {"bootloader/bootloader.elf"}) == []
    assert files(tmp_path) == [
        ".lock",
        "bootloader/",
        "bootloader/.bootloader.ld.templates",
        "bootloader/bootloader.elf",
    ]


def test_a_declared_folder_is_kept_whole(tmp_path):
    make(tmp_path, "docs/index.html", "docs/img/a.png", "stray.txt")
    assert sweep(tmp_path, {"docs"}) == ["stray.txt"]
    assert files(tmp_path) == ["docs/", "docs/img/", "docs/img/a.png", "docs/index.html"]


def test_a_nested_build_folder_is_left_alone(tmp_path):
    """build/K64F/variant with its own lock file beside it is another build's folder."""
    make(tmp_path, "app.elf", "variant/app.elf", ".fwbuild-lock-variant", ".fwbuild-graph-variant.json")
    assert sweep(tmp_path, {"app.elf"}) == []
    assert "variant/app.elf" in files(tmp_path)


def test_links_are_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    make(outside, "keep.txt")
    folder = tmp_path / "build"
    make(folder, "app.elf")
    os.symlink(outside, folder / "linked")
    assert sweep(folder, {"app.elf"}) == ["linked"]
    assert (outside / "keep.txt").exists()


def test_a_missing_folder_is_nothing_to_do(tmp_path):
    assert sweep(tmp_path / "nothing", {"app.elf"}) == []


def test_remove_takes_what_exists(tmp_path):
    make(tmp_path, "combined.bin", "app-signed.bin", "obj/")
    assert remove(tmp_path, {"combined.bin", "combined.hex", "app-signed.bin", "obj"}) == [
        "app-signed.bin",
        "combined.bin",
    ]
    assert files(tmp_path) == ["obj/"]
