"""toolchain=llvm: clang and ld.lld build the example for the same targets, from the same
layout and linker scripts, against the same newlib and libgcc; the ELF placement check,
signing and the merge pass, the images boot in QEMU, two builds in different folders are
byte-identical, and build-info.json says which toolchain built them.

Each project is built once per session (``llvm_build``); a missing clang or lld fails these
tests, as a missing arm-none-eabi-gcc fails the others."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

LLVM_TOOLS = ("clang", "ld.lld", "llvm-ar", "llvm-ranlib")
CHAIN_LINES = [
    "selector: bootloader slot 1 refused (empty)",
    "selector: boot bootloader slot 0 v1.0.0",
    "bootloader: application slot 1 refused (empty)",
    "bootloader: boot application slot 0 v1.0.0",
    "app: v1.0.0 slot 0 confirmed",
]
# The chain's programs: (stage, program, slots)
CHAIN_PROGRAMS = [("selector", "selector", 1), ("bootloader", "bootloader", 2), ("application", "app", 2)]


def require_llvm() -> None:
    missing = [tool for tool in LLVM_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run ./setup.sh (Debian: clang lld llvm)", pytrace=False)


@pytest.fixture(scope="session")
def llvm_build(fw, tmp_path_factory, key_files) -> Iterator[Callable[..., object]]:
    """``llvm_build(target, profile="debug", folder="a")``: the example built with
    toolchain=llvm once per session, in a copy under ``folder`` (a name with a space puts
    a second, identical build elsewhere). Release builds sign with a throw-away key."""
    cache: dict[tuple[str, str, str], object] = {}

    def get(target: str, profile: str = "debug", folder: str = "a"):
        require_llvm()
        key = (target, profile, folder)
        if key not in cache:
            dest = tmp_path_factory.mktemp(f"llvm-{target}-{profile}") / folder / "deeper" / "project"
            args = ["toolchain=llvm", f"profile={profile}"]
            if profile == "release":
                args.append(f"sign_key={key_files['ed25519']}")
            cache[key] = fw.build_copy(fw.EXAMPLE, dest, target, *args)
        return cache[key].require_ok()

    yield get


def comment(elf: Path) -> str:
    """The ELF's .comment: each compiler and linker that made it leaves its version there."""
    from elftools.elf.elffile import ELFFile

    with elf.open("rb") as stream:
        section = ELFFile(stream).get_section_by_name(".comment")
        return section.data().decode(errors="replace") if section else ""


def chain_elfs(build) -> list[Path]:
    return [
        build.dir / stage / f"slot{index}" / f"{program}.elf"
        for stage, program, slots in CHAIN_PROGRAMS
        for index in range(slots)
    ]


@pytest.mark.parametrize("profile", ["debug", "release"])
def test_boot_chain_boots(fw, llvm_build, profile):
    """MPS2_AN385's three stages, each checking the next one's Ed25519 signature with
    libsodium, built by clang and linked by lld (newlib-nano in release): the combined
    image boots in QEMU to the application."""
    build = llvm_build("MPS2_AN385", profile)
    for elf in chain_elfs(build):
        text = comment(elf)
        assert "clang version 14" in text and "Linker: Debian LLD 14" in text, f"{elf}: {text!r}"
        # The placement check ran on every program linked (the build succeeding says it passed).
        assert f"CHECK {elf.relative_to(build.project).as_posix()}" in fw.log_lines(build.result.stdout)
    status, text = fw.run_qemu(build.dir / "combined.bin")
    assert status == 0, f"QEMU exit status {status}\n{text}"
    assert text.splitlines() == CHAIN_LINES, text


def test_signed_images_verify(fw, llvm_build):
    """fwbuild verify accepts every slot image the LLVM build signed, in its own slot."""
    build = llvm_build("MPS2_AN385")
    key = build.project / "keys" / "dev-ed25519-key.pem"
    for stage, program, slots in CHAIN_PROGRAMS[1:]:
        for index in range(slots):
            image = build.dir / stage / f"slot{index}" / f"{program}-signed.bin"
            result = fw.run_fwbuild(
                "verify", image, "--target", "MPS2_AN385", "--project", build.project,
                "--stage", stage, "--slot", str(index), "--key", key,
            )  # fmt: skip
            assert result.returncode == 0 and result.stdout.startswith("valid:"), result.describe()


def test_build_info_records_llvm(fw, llvm_build):
    build = llvm_build("MPS2_AN385", "release")
    info_path = build.dir / "build-info.json"
    toolchain = json.loads(info_path.read_text())["toolchain"]
    assert toolchain["name"] == "llvm", toolchain
    assert toolchain["cc"].startswith("Debian clang version 14"), toolchain
    assert toolchain["ld"].startswith("Debian LLD 14"), toolchain
    assert toolchain["libc"].startswith("newlib 3."), toolchain
    assert toolchain["libc"].endswith("(libc_nano.a)"), toolchain  # nano.specs, mapped
    assert toolchain["builtins"].startswith("libgcc.a of arm-none-eabi-gcc"), toolchain
    checked = fw.run_fwbuild("verify-build", info_path)
    assert checked.returncode == 0 and checked.stdout.startswith("ok:"), checked.describe()


def test_same_layout_and_linker_scripts_as_gnu(example_build, llvm_build):
    """One Layout, one template: the two toolchains' builds place everything alike."""
    gnu, llvm = example_build("MPS2_AN385"), llvm_build("MPS2_AN385")
    assert json.loads((gnu.dir / "build-info.json").read_text())["toolchain"]["name"] == "gnu"
    for name in ("layout.json", "fwbuild_layout.h"):
        assert (gnu.dir / name).read_bytes() == (llvm.dir / name).read_bytes(), name
    for elf in chain_elfs(gnu):
        script = elf.with_suffix(".ld")
        assert script.read_bytes() == (llvm.dir / script.relative_to(gnu.dir)).read_bytes(), script


def test_two_builds_in_two_folders_are_byte_identical(llvm_build):
    """Every file of the two build folders, objects and debug information included, is the
    same, and none holds the checkout's path (one of them has a space in it)."""
    first, second = llvm_build("MPS2_AN385"), llvm_build("MPS2_AN385", folder="with space")
    assert first.project != second.project and " " in str(second.project)

    def outputs(build):
        files = sorted(p for p in build.dir.rglob("*") if p.is_file())
        return {p.relative_to(build.dir).as_posix(): p.read_bytes() for p in files}

    one, two = outputs(first), outputs(second)
    assert sorted(one) == sorted(two)
    assert any(name.endswith(".o") for name in one)
    assert [name for name in one if one[name] != two[name]] == []
    for name, data in one.items():
        for build in (first, second):
            assert str(build.project.parent).encode() not in data, f"{name} holds {build.project}"


@pytest.mark.parametrize("target", ["MPS2_AN505", "MPS3_AN547"])
def test_one_stage_boards_boot(fw, llvm_build, target):
    """Cortex-M33 (single-precision FPU) and Cortex-M55 (double): `scons run` boots the
    LLVM build of the example's bootloader and signed application."""
    build = llvm_build(target)
    assert "clang version 14" in comment(build.elf)
    run = fw.run_scons(build.project, target, "toolchain=llvm", "run")
    assert run.returncode == 0, run.describe()
    expected = ["boot: active 1.0.0 ok", f"fwbuild example app 1.0.0 on {target}"]
    assert [line for line in run.output.splitlines() if line in expected] == expected, run.describe()


def test_missing_clang_names_the_package(fw, tmp_path):
    """A PATH with the Arm GCC tools and lld but no clang: one error naming the package."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "ld.lld", "llvm-ar", "llvm-ranlib"):
        found = shutil.which(tool)
        assert found, f"{tool} is missing: run ./setup.sh"
        (tools / tool).symlink_to(found)
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    result = fw.run(
        ["env", f"PATH={tools}", fw.SCONS, "-C", project, "target=MPS2_AN385", "toolchain=llvm"],
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.describe()
    assert "error: toolchain=llvm: clang (Debian package clang) not found on PATH" in result.stderr
    assert "apt-get install clang lld llvm" in " ".join(result.stderr.split()), result.describe()
    assert "Traceback" not in result.output and not (project / "build").exists(), result.describe()


def test_unknown_spec_file_is_refused(fw, tmp_path):
    """A target profile with a GCC spec file toolchain=llvm cannot map: the error names the
    target file and the key, before anything is compiled."""
    project = fw.copy_project(fw.PROJECTS / "boot_at_zero", tmp_path / "project")
    (project / "targets").mkdir()
    board = project / "targets" / "MY_BOARD.json"
    flags = ["-Wl,--gc-sections", "--specs=rdpmon.specs"]
    board.write_text(json.dumps({"inherits": "MPS2_AN385", "profiles": {"release": {"ldflags": flags}}}))
    fw.edit_project(project, targets_dirs=["targets"])
    result = fw.run_scons(project, "MY_BOARD", "toolchain=llvm", "profile=release")
    assert result.returncode == 2, result.describe()
    text = " ".join(result.stderr.split())
    assert f"error: {board}: profiles.release.ldflags: --specs=rdpmon.specs" in text, result.describe()
    assert "'rdpmon.specs'" in text and "toolchain=gnu" in text, result.describe()
    assert result.count("CC") == 0 and "Traceback" not in result.output, result.describe()
    # The same board builds with GCC, which knows the spec file.
    gnu = fw.run_scons(project, "MY_BOARD", "profile=release")
    assert gnu.returncode == 0, gnu.describe()


def test_pinned_gcc_is_the_one_whose_libraries_clang_links(fw, tmp_path):
    """toolchain.gcc pins arm-none-eabi-gcc, whose newlib and libgcc an LLVM build links: a
    release build checks that compiler's version, not clang's."""
    project = fw.copy_project(fw.PROJECTS / "boot_at_zero", tmp_path / "project")
    found = fw.run(["arm-none-eabi-gcc", "-dumpversion"]).stdout.strip()
    fw.edit_project(project, toolchain={"gcc": "9.3.1"})
    refused = fw.run_scons(project, "MPS2_AN385", "toolchain=llvm", "profile=release")
    assert refused.returncode == 2, refused.describe()
    text = " ".join(refused.stderr.split())
    assert f"toolchain.gcc: the project pins 9.3.1 but arm-none-eabi-gcc is {found}" in text, text
    fw.edit_project(project, toolchain={"gcc": found})
    built = fw.run_scons(project, "MPS2_AN385", "toolchain=llvm", "profile=release")
    assert built.returncode == 0 and "toolchain.gcc" not in built.stderr, built.describe()


def test_toolchains_guide_sconstruct(fw, tmp_path):
    """docs/toolchains.md's SConstruct makes LLVM the repo's default; toolchain=gnu overrides it."""
    require_llvm()
    text = (fw.REPO / "docs" / "toolchains.md").read_text()
    (sconstruct,) = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
    project = fw.copy_project(fw.PROJECTS / "boot_at_zero", tmp_path / "project")
    (project / "SConstruct").write_text(sconstruct)
    llvm = fw.run_scons(project, "MPS2_AN385")
    assert llvm.returncode == 0, llvm.describe()
    elf = project / "build" / "MPS2_AN385" / "app.elf"
    assert "clang version" in comment(elf), comment(elf)
    status, console = fw.run_qemu(elf.with_suffix(".bin"))
    assert status == 0 and "boot_at_zero 2.3.4" in console.splitlines(), console
    gnu = fw.run_scons(project, "MPS2_AN385", "toolchain=gnu")
    assert gnu.returncode == 0, gnu.describe()
    assert "clang" not in comment(elf) and "GCC: " in comment(elf), comment(elf)


def test_overflow_is_said_in_the_layouts_terms(fw, tmp_path):
    """lld's "will not fit in region 'FLASH'" becomes the key to change, with a value that
    builds, as ld's message does under GCC."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    main = project / "app" / "main.c"
    main.write_text(
        main.read_text() + "\n__attribute__((used)) const unsigned char fw_test_table[8192] = {1};\n"
    )
    layout = {"bootloader_img": "@bootloader", "bootloader_size": "0x8000", "header_offset": "0x8000"}
    fw.set_overrides(
        project, "K64F", **layout, app_offset="0x8400", header_format="mbed-v2", restrict_size="0x1000"
    )
    result = fw.run_scons(project, "K64F", "toolchain=llvm")
    assert result.returncode == 2 and "Traceback" not in result.output, result.describe()
    assert "will not fit in region" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    assert "application 0x00008400..0x00009000 holds 3072" in err, err
    found = re.search(r"restrict_size \(now '0x1000', set in [^)]*\): set it to at least (0x[0-9a-f]+)", err)
    assert found, err
    fw.set_overrides(
        project, "K64F", **layout, app_offset="0x8400", header_format="mbed-v2", restrict_size=found.group(1)
    )
    fixed = fw.run_scons(project, "K64F", "toolchain=llvm")
    assert fixed.returncode == 0, fixed.describe()
