"""The benchmark's generated repo builds, and its baselines (plain SCons, CMake + Ninja)
build the same bytes as fwbuild: what bench/scale.py times is the same work done by each
tool. Not timed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

import scale  # noqa: E402
from gen_repo import MODULE_SOURCE, TARGET, write_repo  # noqa: E402


def test_generated_repo_and_its_baselines_give_the_same_bytes(tmp_path: Path) -> None:
    if shutil.which("cmake") is None:
        pytest.fail("cmake is missing (the CMake + Ninja baseline): apt-get install cmake", pytrace=False)
    scale.need_ninja()
    fw = write_repo(tmp_path / "fw", 3)
    assert sorted(p.name for p in (fw / "src").iterdir()) == ["mod_0000.c", "mod_0001.c", "mod_0002.c"]
    assert (fw / MODULE_SOURCE).is_file()
    scale.run([scale.SCONS, "-C", str(fw), "-Q", f"target={TARGET}"])
    built = fw / "build" / TARGET
    # the application holds every module (about 18 symbols each)
    assert scale._symbol_count(built / "app.elf") > 3 * 15

    plain, cmake = write_repo(tmp_path / "plain", 3), write_repo(tmp_path / "cmake", 3)
    for repo in (plain, cmake):
        scale.copy_generated(fw, repo)
    scale.write_plain(plain)
    scale.run([scale.SCONS, "-C", str(plain), "-Q"])
    scale.write_cmake(cmake)
    scale.configure_cmake(cmake)
    scale.run([scale.NINJA, "-C", str(cmake / "build_cmake")])

    def digests(out: Path) -> dict[str, str]:
        return {name: scale._digest((out / name).read_bytes()) for name in scale.COMPARED}

    ours = digests(built)
    assert digests(plain / "build_plain") == ours
    theirs = digests(cmake / "build_cmake")
    assert theirs["app-signed.bin"] == ours["app-signed.bin"]
    assert theirs["combined.bin"] == ours["combined.bin"]

    # CMake's app.elf differs only in its debug sections (absolute source paths)
    def stripped(elf: Path) -> bytes:
        out = elf.with_name("nodebug.elf")
        scale.run(["arm-none-eabi-objcopy", "--strip-debug", str(elf), str(out)])
        return out.read_bytes()

    assert stripped(cmake / "build_cmake" / "app.elf") == stripped(built / "app.elf")
