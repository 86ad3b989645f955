"""toolchain=llvm: GCC's spec files and GNU ld options of a target profile, mapped for clang
and ld.lld (fwbuild.toolchains), and the toolchain record of build-info.json."""

from __future__ import annotations

import json

import pytest

from fwbuild.buildinfo import load_build_info
from fwbuild.errors import ConfigError
from fwbuild.targets import TargetSet
from fwbuild.toolchains import llvm_link_flags, newlib_version, profile_flag_origin

CORTEX_M_DEBUG = ["-nostartfiles", "--specs=nosys.specs", "-Wl,--no-warn-rwx-segments", "-Og", "-g3"]


def test_nosys_profile_links_libgcc_libc_and_libnosys():
    link = llvm_link_flags(["-mcpu=cortex-m3", "-mthumb", *CORTEX_M_DEBUG])
    assert link.flags == ("-mcpu=cortex-m3", "-mthumb", "-Og", "-g3")
    assert link.libraries == ("libgcc.a", "libc.a", "libnosys.a")
    assert link.specs == ("nosys.specs",) and not link.nano


def test_nano_specs_picks_newlib_nano():
    link = llvm_link_flags([*CORTEX_M_DEBUG, "-Wl,--gc-sections", "--specs=nano.specs"])
    assert link.libraries == ("libgcc.a", "libc_nano.a", "libnosys.a") and link.nano
    assert "-Wl,--gc-sections" in link.flags
    assert not any("specs" in flag for flag in link.flags)


@pytest.mark.parametrize(
    "specs, libraries",
    [
        ([], ("libgcc.a", "libc.a")),  # GCC without spec files: libgcc and libc
        (["-specs=rdimon.specs"], ("libgcc.a", "libc.a", "librdimon.a")),  # one dash, as GCC allows
        (["--specs=rdimon.specs", "--specs=nano.specs"], ("libgcc.a", "libc_nano.a", "librdimon_nano.a")),
        (["--specs=nosys.specs", "--specs=nosys.specs"], ("libgcc.a", "libc.a", "libnosys.a")),
    ],
)
def test_spec_file_combinations(specs, libraries):
    assert llvm_link_flags(specs).libraries == libraries


def test_flags_without_a_gcc_meaning_pass_through_in_order():
    flags = ["-Wl,--gc-sections", "-Wl,--undefined=Reset_Handler", "-u", "_printf_float", "-lm"]
    assert llvm_link_flags(flags).flags == tuple(flags)


def test_unknown_spec_file_names_the_file_and_key(tmp_path):
    where = tmp_path / "targets" / "MY_BOARD.json"
    with pytest.raises(ConfigError) as caught:
        llvm_link_flags(
            ["--specs=nosys.specs", "--specs=pid.specs"],
            lambda flag: (where, "profiles.release.ldflags") if flag == "--specs=pid.specs" else (None, None),
        )
    text = str(caught.value)
    assert text.startswith(f"{where}: profiles.release.ldflags: --specs=pid.specs: toolchain=llvm"), text
    assert "'pid.specs'" in text and "nano.specs, nosys.specs, rdimon.specs" in text
    assert "toolchain=gnu" in text


def test_origin_of_the_shipped_profile_flags():
    """MPS2_AN385 inherits MPS2 -> Cortex_M: the spec files come from Cortex_M.json."""
    targets = TargetSet()
    chain = targets.chain("MPS2_AN385")
    for profile, flag, key in (
        ("debug", "--specs=nosys.specs", "profiles.common.ldflags"),
        ("release", "--specs=nano.specs", "profiles.release.ldflags"),
        ("release", "-Os", "profiles.release.cflags"),
    ):
        file, found = profile_flag_origin(chain, targets.raw, targets.file_of, profile, flag)
        assert (file.name, found) == ("Cortex_M.json", key)
    unknown = profile_flag_origin(chain, targets.raw, targets.file_of, "debug", "--specs=x.specs")
    assert unknown == (None, None)


def test_origin_is_the_file_whose_list_is_in_force(tmp_path):
    """A child's list replaces its parent's whole: a flag only the parent's list holds is not
    in the build, and one in the child's list is the child's."""
    files = {
        "BOARD": {"profiles": {"common": {"ldflags": ["--specs=rdimon.specs"]}}},
        "FAMILY": {"profiles": {"common": {"ldflags": ["--specs=nosys.specs"]}}},
    }
    chain = ["BOARD", "FAMILY"]

    def origin(flag):
        return profile_flag_origin(
            chain, files.__getitem__, lambda name: tmp_path / f"{name}.json", "debug", flag
        )

    assert origin("--specs=rdimon.specs") == (tmp_path / "BOARD.json", "profiles.common.ldflags")
    assert origin("--specs=nosys.specs") == (None, None)


def test_newlib_version_from_its_header(tmp_path):
    (tmp_path / "_newlib_version.h").write_text('#define _NEWLIB_VERSION "4.1.0"\n#define __NEWLIB__ 4\n')
    assert newlib_version(tmp_path) == "newlib 4.1.0"
    assert newlib_version(tmp_path / "missing") == "newlib (version unknown)"


def record(tmp_path, toolchain):
    path = tmp_path / "build-info.json"
    path.write_text(json.dumps({"outputs": {}, "toolchain": toolchain}))
    return path


def test_build_info_toolchain_record(tmp_path):
    llvm = {
        "name": "llvm",
        "cc": "Debian clang version 14.0.6",
        "ld": "Debian LLD 14.0.6 (compatible with GNU linkers)",
        "objcopy": "GNU objcopy (2.40-2+18+b1) 2.40",
        "libc": "newlib 3.3.0 (libc_nano.a)",
        "builtins": "libgcc.a of arm-none-eabi-gcc (15:12.2.rel1-1) 12.2.1 20221205",
    }
    assert load_build_info(record(tmp_path, llvm))["toolchain"] == llvm
    assert load_build_info(record(tmp_path, {"cc": "x", "objcopy": "y"}))  # before names were recorded
    with pytest.raises(ConfigError, match=r"toolchain\.name: is not a toolchain \(gnu, llvm\)"):
        load_build_info(record(tmp_path, {**llvm, "name": "msvc"}))
    with pytest.raises(ConfigError, match=r"toolchain\.linker: is not a tool fwbuild records"):
        load_build_info(record(tmp_path, {"linker": "x"}))


def test_lld_overflow_lines():
    """lld names the section and the running total on one line; the last total is the
    region's whole overflow. Its closing lines, and clang's, are no news."""
    from fwbuild.linker import Overflow, ld_overflows

    text = "\n".join(
        [
            "ld.lld: error: section '.rodata' will not fit in region 'FLASH': overflowed by 6539 bytes",
            "ld.lld: error: section '.ARM.exidx' will not fit in region 'FLASH': overflowed by 6564 bytes",
            "ld.lld: error: section '.data' will not fit in region 'FLASH': overflowed by 6572 bytes",
            "ld.lld: error: section '.bss' will not fit in region 'SSRAM23': overflowed by 8 bytes",
            "ld.lld: error: undefined symbol: missing",
            "ld.lld: error: too many errors emitted, stopping now (use -error-limit=0 to see all errors)",
            "clang: error: ld.lld command failed with exit code 1 (use -v to see invocation)",
        ]
    )
    found, other = ld_overflows(text)
    assert found == [
        Overflow("FLASH", 6572, (".rodata", ".ARM.exidx", ".data")),
        Overflow("SSRAM23", 8, (".bss",)),
    ]
    assert other == ["ld.lld: error: undefined symbol: missing"]
