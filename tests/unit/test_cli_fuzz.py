"""Hostile arguments for every command of the command line.

Every subcommand of ``build_parser()`` gets argument sets that must fail: missing files,
folders where files belong, empty files, garbage bytes, numbers out of range, outputs in
folders that cannot exist. Each must end with exit status 2 (1 for ``verify`` of an
invalid image, with one ``invalid:`` line), one ``error:`` paragraph on stderr (argparse
usage errors are ``error:`` paragraphs too), no traceback, and nothing written anywhere.
The list of commands comes from the parser, so a new command fails here until it has its
hostile cases. Most cases run in-process through ``main()``; a few run the installed
console script to show that the real entry point behaves the same.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fwbuild.cli import build_parser, main

SETTINGS = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
DEV_KEY = REPO / "example_project" / "keys" / "dev-signing-key.pem"
FWBUILD = Path(sys.executable).parent / "fwbuild"


def commands() -> list[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


class World:
    """Inputs of every kind, in one folder whose contents must never change."""

    def __init__(self, root: Path):
        self.root = root
        self.out = root / "out"  # where the outputs of these commands would go
        self.out.mkdir()
        self.missing = root / "missing.bin"
        self.folder = root / "folder.bin"
        self.folder.mkdir()
        self.empty = self.file("empty.bin", b"")
        self.app = self.file("app.bin", struct.pack("<2I", 0x20001000, 0x101) + bytes(range(256)) * 4)
        self.garbage = self.file("garbage.bin", bytes(range(255, -1, -1)) * 3)
        self.garbage_hex = self.file("garbage.hex", b":zz not hex\n\x00\xff")
        self.eof_hex = self.file("eof.hex", b":00000001FF\n")
        self.garbage_json = self.file("garbage.json", b"{not json")
        self.garbage_pem = self.file(
            "garbage.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        self.under_file = self.app / "sub" / "out.bin"  # a folder that cannot exist
        self.in_missing = self.out / "no" / "such" / "folder"  # a folder that could be made
        self.bad_project = root / "bad-project"
        self.bad_project.mkdir()
        (self.bad_project / "fwbuild.json").write_text('{"version": "1.2", "bogus": 1}')
        self.misaligned = root / "misaligned"
        self.misaligned.mkdir()
        (self.misaligned / "fwbuild.json").write_text(
            json.dumps({"target_overrides": {"K64F": {"app_offset": "0x8100"}}})
        )
        self.nonempty = root / "nonempty"
        self.nonempty.mkdir()
        (self.nonempty / "keep.txt").write_text("mine")
        self.targets = root / "targets"
        self.targets.mkdir()
        (self.targets / "BROKEN.json").write_text("{not json")
        (self.targets / "BYTES.json").write_bytes(b"\xff\xfe{\x00")
        (self.targets / "BAD.json").write_text(
            json.dumps({"inherits": "STM32F4", "flassh": {}, "vector_count": 8, "stack_size": -4})
        )
        (self.targets / "LOOP.json").write_text(json.dumps({"inherits": "LOOP"}))
        self.infos = {}
        for name, value in {
            "list": [],
            "null": None,
            "number": 3,
            "outputs-list": {"outputs": []},
            "escape": {"outputs": {"../escape.bin": {"sha256": "0" * 64, "size": 1}}},
            "absolute": {"outputs": {"/etc/hostname": {"sha256": "0" * 64, "size": 1}}},
            "bad-digest": {"outputs": {"app.bin": {"sha256": "zz", "size": 1}}},
            "bad-size": {"outputs": {"app.bin": {"sha256": "0" * 64, "size": -1}}},
            "command": {"outputs": {}, "toolchain": {"sh": "x"}},
            "toolchain-list": {"outputs": {}, "toolchain": ["cc"]},
        }.items():
            self.infos[name] = self.file(f"info-{name}.json", json.dumps(value).encode())
        self.mbed = {}
        boot = self.file("boot.bin", struct.pack("<2I", 0x20001000, 0x101) + bytes(0x1F8))
        for name, value in {
            "list": [],
            "overrides-list": {"target_overrides": []},
            "section-list": {"target_overrides": {"K64F": []}},
            "bad-number": {"target_overrides": {"K64F": {"target.app_offset": "0xA4OO"}}},
            "misaligned": {
                "target_overrides": {
                    "K64F": {
                        "target.bootloader_img": boot.name,
                        "target.header_offset": "0x8000",
                        "target.app_offset": "0x8100",
                    }
                }
            },
            "no-bootloader": {"target_overrides": {"K64F": {"target.bootloader_img": "none.bin"}}},
            "bad-format": {
                "target_overrides": {
                    "K64F": {"target.bootloader_img": boot.name, "target.header_format": "nope"}
                }
            },
            "mixed": {
                "target_overrides": {
                    "K64F": {"target.mbed_app_start": "0x8000", "target.app_offset": "0x8000"}
                }
            },
            "outside": {"target_overrides": {"K64F": {"target.mbed_app_start": "0x100000000"}}},
            "good": {"target_overrides": {"K64F": {"target.restrict_size": "0x80000"}}},
        }.items():
            self.mbed[name] = self.file(f"mbed-{name}.json", json.dumps(value).encode())
        self.existing = self.file("existing.json", b"{}")
        self.chain = root / "chain"  # a boot chain: selector, bootloader (2 slots), application (2)
        self.chain.mkdir()
        shutil.copy(REPO / "tests" / "projects" / "chain" / "fwbuild.json", self.chain)

    def file(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def snapshot(self) -> dict[str, tuple]:
        state = {}
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(folder) / name
                st_ = path.lstat()
                state[str(path.relative_to(self.root))] = (st_.st_mode, st_.st_size, st_.st_mtime_ns)
        return state


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("world"))


@pytest.fixture(autouse=True)
def _environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world.root)  # --project . and default outputs land in the world
    for name in ("FWBUILD_SIGNING_KEY", "FWBUILD_SIGNING_KEY_PASSWORD", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)


def run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(err: str) -> None:
    """Exactly one paragraph, starting with ``error:``; its other lines are indented."""
    text = err.rstrip("\n")
    assert text.startswith("error: "), err
    lines = text.split("\n")
    assert all(line.startswith("  ") and line.strip() for line in lines[1:]), err
    assert sum(line.startswith("error:") for line in lines) == 1, err


def assert_rejected(world: World, argv: list[object], capsys, allow_invalid: bool = False) -> str:
    """Run a hostile command: status 2 with one error paragraph (or, where allowed, status
    1 with one ``invalid:`` line), no traceback, nothing written. Returns stderr."""
    before = world.snapshot()
    code, out, err = run(argv, capsys)
    assert "Traceback" not in out + err, (argv, out, err)
    shown = f"{argv}\nstatus {code}\nstdout: {out}\nstderr: {err}"
    if allow_invalid and code == 1:
        assert err == "" and len(out.splitlines()) == 1 and out.startswith("invalid: "), shown
    else:
        assert code == 2, shown
        assert out == "", shown
        if argv[:1] == ["check-target"] and re.search(r"\d+ problem\(s\) in ", err):
            assert_check_target_report(err)
        else:
            assert_one_error(err)
    assert world.snapshot() == before, f"{argv} wrote or changed files"
    return err


def assert_check_target_report(err: str) -> None:
    """check-target reports every problem: error paragraphs, then "N problem(s) in NAME"."""
    *body, last = err.rstrip("\n").split("\n")
    count = int(re.fullmatch(r"(\d+) problem\(s\) in \S+", last).group(1))
    assert sum(line.startswith("error: ") for line in body) == count >= 1, err
    assert all(line.startswith(("error: ", "  ")) for line in body), err


# -- the cases, one function per command ------------------------------------------------------


def cases_targets(w: World) -> list[list[object]]:
    return [
        ["targets", "--project", w.missing],
        ["targets", "--project", w.app],
        ["targets", "--project", w.bad_project],
        ["targets", "--bogus"],
        ["targets", "extra"],
    ]


def cases_new(w: World) -> list[list[object]]:
    repo = w.out / "repo"
    return [
        ["new", repo, "--target", "NOPE"],
        ["new", repo, "--target", "STM32F4"],  # a family
        ["new", repo],
        ["new", repo, "--target", "K64F", "--layout", "bogus"],
        ["new", w.app, "--target", "K64F"],  # a file
        ["new", w.nonempty, "--target", "K64F"],
        ["new", w.under_file, "--target", "K64F"],
        ["new", w.missing / "sub" / "repo", "--target", "NOPE"],
    ]


def cases_layout(w: World) -> list[list[object]]:
    return [
        ["layout"],
        ["layout", "NOPE"],
        ["layout", "STM32F4"],
        ["layout", "../../etc/passwd"],
        ["layout", "K64F", "--project", w.missing],
        ["layout", "K64F", "--project", w.app],
        ["layout", "K64F", "--project", w.bad_project],
        ["layout", "K64F", "--project", w.misaligned],
    ]


def cases_merge(w: World) -> list[list[object]]:
    out = w.out / "m.bin"
    return [
        ["merge", "--out", out],
        ["merge", f"{w.app}@0"],
        ["merge", "--out", out, f"{w.app}@-16"],
        ["merge", "--out", out, f"{w.app}@0x100000000"],
        ["merge", "--out", out, f"{w.app}@0xFFFFFFF0"],  # runs past 4 GiB
        ["merge", "--out", out, f"{w.app}@zz"],
        ["merge", "--out", out, f"{w.app}@"],
        ["merge", "--out", out, w.app],  # a .bin needs an address
        ["merge", "--out", out, f"{w.eof_hex}@0x100"],  # a .hex has its own
        ["merge", "--out", out, f"{w.garbage_json}@0"],
        ["merge", "--out", out, f"{w.missing}@0"],
        ["merge", "--out", out, f"{w.folder}@0"],
        ["merge", "--out", out, f"{w.empty}@0"],
        ["merge", "--out", out, w.eof_hex],
        ["merge", "--out", out, w.garbage_hex],
        ["merge", "--out", out, f"{w.app}@0", f"{w.app}@0x10"],  # overlap
        ["merge", "--out", w.out / "m.hex", f"{w.app}@0", f"{w.app}@0x10"],
        ["merge", "--out", out, f"{w.app}@0", f"{w.app}@0x80000000"],  # a 2 GiB .bin
        ["merge", "--out", out, "--fill", "256", f"{w.app}@0"],
        ["merge", "--out", out, "--fill", "-1", f"{w.app}@0"],
        ["merge", "--out", out, "--fill", "x", f"{w.app}@0"],
        ["merge", "--out", w.out, f"{w.app}@0"],
        ["merge", "--out", f"{w.out}/", f"{w.app}@0"],
        ["merge", "--out", w.under_file, f"{w.app}@0"],
        ["merge", "--out", "/dev/null", f"{w.app}@0"],
    ]


def cases_sign(w: World) -> list[list[object]]:
    out = w.out / "s.bin"
    plain = ["--header-size", "0x200"]
    chain = ["--target", "MPS2_AN385", "--project", w.chain]
    return [
        ["sign", w.app],
        ["sign", w.missing, out, *plain],
        ["sign", w.folder, out, *plain],
        ["sign", w.empty, out, *plain],
        ["sign", w.eof_hex, out, *plain],
        ["sign", w.garbage_hex, out, *plain],
        ["sign", w.app, w.out, *plain],
        ["sign", w.app, w.under_file, *plain],
        ["sign", w.app, out],  # neither --target nor --header-size
        ["sign", w.app, out, "--header-size", "16"],
        ["sign", w.app, out, "--header-size", "0x10000"],
        ["sign", w.app, out, *plain, "--slot-size", "0"],
        ["sign", w.app, out, *plain, "--slot-size", "0x300"],  # does not fit
        ["sign", w.app, out, *plain, "--pad"],  # no slot size
        ["sign", w.app, out, *plain, "--confirm", "--slot-size", "0xFFFFFFFF"],  # 4 GiB of padding
        ["sign", w.app, out, *plain, "--slot-size", "0x10000", "--pad", "--align", "3"],
        ["sign", w.app, out, *plain, "--align", "0"],
        ["sign", w.app, out, *plain, "--erased-value", "0x100"],
        ["sign", w.app, out, *plain, "--security-counter", "-1"],
        ["sign", w.app, out, *plain, "--security-counter", "0x100000000"],
        ["sign", w.app, out, *plain, "--security-counter", "often"],
        ["sign", w.app, out, *plain, "--custom-tlv", "0xa0", "zz"],
        ["sign", w.app, out, *plain, "--custom-tlv", "xx", "00"],
        ["sign", w.app, out, *plain, "--custom-tlv", "0x10", "00"],  # outside the vendor range
        ["sign", w.app, out, *plain, "--custom-tlv", "0xa0"],
        ["sign", w.app, out, *plain, "--version", "1.2"],
        ["sign", w.app, out, *plain, "--version", "256.0.0"],
        ["sign", w.app, out, *plain, "--key", w.missing],
        ["sign", w.app, out, *plain, "--key", w.folder],
        ["sign", w.app, out, *plain, "--key", w.garbage_pem],
        ["sign", w.app, out, *plain, "--key", w.empty],
        ["sign", w.app, out, *plain, "--project", w.missing],
        ["sign", w.app, out, "--target", "NOPE"],
        ["sign", w.app, out, "--target", "K64F", "--project", w.bad_project],
        ["sign", w.app, out, "--target", "NUCLEO_F429ZI"],  # no header region
        ["sign", w.app, out, "--target", "K64F", "--project", w.misaligned],
        *(["sign", w.app, out, *argv] for argv in slot_cases(w)),
        ["sign", w.app, out, *plain, "--stage", "application", "--slot", "0"],  # --stage without a target
        ["sign", w.app, w.out, *chain, "--stage", "application", "--slot", "0"],
        ["sign", w.empty, out, *chain, "--stage", "bootloader", "--slot", "1"],
    ]


def slot_cases(w: World) -> list[list[object]]:
    """--stage/--slot naming no slot, or one that is not there (sign and verify)."""
    chain = ["--target", "MPS2_AN385", "--project", w.chain]
    mbed = ["--target", "K64F", "--project", REPO / "example_project"]  # managed: bootloader -> application
    return [
        ["--stage", "application"],  # no --target
        ["--slot", "1"],
        ["--stage", "application", "--slot", "1", "--project", w.chain],
        [*chain],  # a chain: which slot?
        [*chain, "--slot", "0"],  # whose?
        [*chain, "--stage", "nope", "--slot", "0"],
        [*chain, "--stage", "", "--slot", "0"],
        [*chain, "--stage", "APPLICATION", "--slot", "0"],
        [*chain, "--stage", "selector"],  # no header: nothing to sign
        [*chain, "--stage", "selector", "--slot", "0"],
        [*chain, "--stage", "application"],  # two slots: which?
        [*chain, "--stage", "application", "--slot", "2"],
        [*chain, "--stage", "bootloader", "--slot", "8"],
        [*chain, "--stage", "application", "--slot", "99999999999999999999"],
        [*chain, "--stage", "application", "--slot", "-1"],
        [*chain, "--stage", "application", "--slot", "x"],
        [*chain, "--stage", "application", "--slot", "0x1"],
        [*chain, "--stage", "application", "--slot", ""],
        [*chain, "--stage", "application", "--slot"],
        [*chain, "--stage"],
        ["--target", "NUCLEO_F429ZI", "--project", w.bad_project, "--stage", "application", "--slot", "0"],
        [*mbed, "--stage", "application", "--slot", "1"],  # one slot outside a chain
        [*mbed, "--stage", "bootloader", "--slot", "0"],  # no header
        [*mbed, "--stage", "selector", "--slot", "0"],
        ["--target", "NUCLEO_F429ZI", "--stage", "application", "--slot", "0"],  # no header at all
    ]


def cases_verify(w: World) -> list[list[object]]:
    slot1 = ["--target", "MPS2_AN385", "--project", w.chain, "--stage", "application", "--slot", "1"]
    return [
        ["verify"],
        ["verify", w.missing],
        ["verify", w.folder],
        ["verify", w.garbage_hex],
        ["verify", w.app, "--key", w.garbage_pem],
        ["verify", w.app, "--key", w.missing],
        ["verify", w.app, "--target", "NOPE"],
        ["verify", w.app, "--project", w.bad_project],
        *(["verify", w.app, *argv] for argv in slot_cases(w)),
        ["verify", w.missing, *slot1],
        # readable files that are not valid images: exit 1
        ["verify", w.empty],
        ["verify", w.eof_hex],
        ["verify", w.garbage],
        ["verify", w.app],
        ["verify", w.app, *slot1],
        ["verify", w.garbage, *slot1],
    ]


def cases_inspect(w: World) -> list[list[object]]:
    return [
        ["inspect"],
        ["inspect", w.missing],
        ["inspect", w.folder],
        ["inspect", w.empty],
        ["inspect", w.eof_hex],
        ["inspect", w.garbage_hex],
        ["inspect", w.garbage],
        ["inspect", "/dev/null"],
    ]


def cases_verify_build(w: World) -> list[list[object]]:
    return [
        ["verify-build"],
        ["verify-build", w.missing],
        ["verify-build", w.folder],
        ["verify-build", w.empty],
        ["verify-build", w.garbage_json],
        ["verify-build", w.garbage],
        *(["verify-build", path] for path in w.infos.values()),
    ]


def cases_size(w: World) -> list[list[object]]:
    return [
        ["size"],
        ["size", w.missing],
        ["size", w.folder],
        ["size", w.empty],
        ["size", w.garbage],
        ["size", w.app, "--top", "0"],
        ["size", w.app, "--top", "-3"],
        ["size", w.app, "--top", "many"],
    ]


def cases_import_mbed(w: World) -> list[list[object]]:
    out = w.out / "fwbuild.json"
    return [
        ["import-mbed"],
        ["import-mbed", w.missing, "--out", out],
        ["import-mbed", w.folder, "--out", out],
        ["import-mbed", w.empty, "--out", out],
        ["import-mbed", w.garbage_json, "--out", out],
        ["import-mbed", w.garbage, "--out", out],
        *(["import-mbed", path, "--out", out] for name, path in w.mbed.items() if name != "good"),
        *(["import-mbed", path] for name, path in w.mbed.items() if name != "good"),  # beside it
        ["import-mbed", w.mbed["good"], "--out", w.out],
        ["import-mbed", w.mbed["good"], "--out", w.under_file],
        ["import-mbed", w.mbed["good"], "--out", w.existing],  # exists, no --force
        ["import-mbed", w.mbed["good"], "--out", w.mbed["good"], "--force"],  # itself
    ]


def cases_check_target(w: World) -> list[list[object]]:
    return [
        ["check-target"],
        ["check-target", "NOPE"],
        ["check-target", "K64F", "--targets-dir", w.missing],
        ["check-target", "K64F", "--targets-dir", w.app],
        ["check-target", "K64F", "--project", w.missing],
        ["check-target", "K64F", "--project", w.bad_project],
        ["check-target", "K64F", "--project", w.misaligned],
        ["check-target", "BROKEN", "--targets-dir", w.targets],
        ["check-target", "BYTES", "--targets-dir", w.targets],
        ["check-target", "BAD", "--targets-dir", w.targets],
        ["check-target", "LOOP", "--targets-dir", w.targets],
    ]


def cases_config_reference(w: World) -> list[list[object]]:
    return [["config-reference", "extra"], ["config-reference", "--bogus"]]


def cases_getpub(w: World) -> list[list[object]]:
    out = w.out / "key.pem"
    return [
        ["getpub"],
        ["getpub", w.missing],
        ["getpub", w.folder],
        ["getpub", w.empty],
        ["getpub", w.garbage],
        ["getpub", w.garbage_pem],
        ["getpub", DEV_KEY, "--format", "jwk"],
        ["getpub", DEV_KEY, "--format", "c", "--name", "1st key"],
        ["getpub", DEV_KEY, "--format", "c", "--name", ""],
        ["getpub", DEV_KEY, "--out", w.out],
        ["getpub", DEV_KEY, "--out", w.under_file],
        ["getpub", w.garbage_pem, "--out", out],
    ]


CASES = {
    name.removeprefix("cases_").replace("_", "-"): f
    for name, f in dict(globals()).items()
    if name.startswith("cases_")
}
INVALID_ALLOWED = {"verify"}


def test_every_command_has_hostile_cases():
    assert sorted(CASES) == commands(), "give the new command a cases_<name>() function here"


@pytest.mark.parametrize("command", commands())
def test_hostile_arguments(world, capsys, command):
    cases = CASES[command](world)
    assert len(cases) >= 2
    for argv in cases:
        assert argv[0] == command
        assert_rejected(world, argv, capsys, allow_invalid=command in INVALID_ALLOWED)


def test_usage_errors_are_error_paragraphs(world, capsys):
    for argv in ([], ["bogus"], ["merge", "--fill"], ["--debug"]):
        err = assert_rejected(world, argv, capsys)
        assert "see 'fwbuild" in err and "--help'" in err


# -- generated values ------------------------------------------------------------------------

OUT_OF_U32 = st.one_of(st.integers(max_value=-1), st.integers(min_value=1 << 32, max_value=1 << 80))
NOT_A_NUMBER = st.text(alphabet="xyz!#$%&gq .,;:\\'\"", min_size=1, max_size=12).filter(
    lambda t: not t.startswith("-")
)


def written(value: int) -> str:
    return hex(value) if value % 2 else str(value)


@SETTINGS
@given(address=OUT_OF_U32)
def test_merge_addresses_outside_32_bits(world, capsys, address):
    err = assert_rejected(
        world, ["merge", "--out", world.out / "m.bin", f"{world.app}@{written(address)}"], capsys
    )
    assert "32-bit address space" in " ".join(err.split())


@SETTINGS
@given(address=st.integers(min_value=(1 << 32) - 1024, max_value=(1 << 32) - 1))
def test_merge_parts_that_run_past_4_gib(world, capsys, address):
    assert_rejected(world, ["merge", "--out", world.out / "m.hex", f"{world.app}@{address:#x}"], capsys)


@SETTINGS
@given(
    fill=st.one_of(st.integers(max_value=-1), st.integers(min_value=256, max_value=1 << 40)),
    option=st.sampled_from(["merge", "sign"]),
)
def test_byte_options_outside_a_byte(world, capsys, fill, option):
    if option == "merge":
        argv = ["merge", "--out", world.out / "m.bin", "--fill", written(fill), f"{world.app}@0"]
    else:
        argv = [
            "sign",
            world.app,
            world.out / "s.bin",
            "--header-size",
            "0x200",
            "--erased-value",
            written(fill),
        ]
    err = " ".join(assert_rejected(world, argv, capsys).split())
    # "-0x1" reads as an option to argparse: "expected one argument", a usage error too
    assert "is not a byte" in err or "expected one argument" in err, err


@SETTINGS
@given(counter=st.one_of(OUT_OF_U32.map(written), NOT_A_NUMBER))
def test_security_counters_that_are_not_u32(world, capsys, counter):
    argv = ["sign", world.app, world.out / "s.bin", "--header-size", "0x200", f"--security-counter={counter}"]
    assert_rejected(world, argv, capsys)


@SETTINGS
@given(
    kind=st.one_of(st.integers(min_value=0, max_value=0x9F), st.integers(min_value=0xFFFF)).map(hex),
    value=st.one_of(
        NOT_A_NUMBER,
        st.text(alphabet="0123456789abcdef", min_size=1, max_size=9).filter(lambda t: len(t) % 2),
    ),
    bad=st.sampled_from(["kind", "value"]),
)
def test_custom_tlvs(world, capsys, kind, value, bad):
    tlv = [kind, "00"] if bad == "kind" else ["0xa0", value]
    argv = ["sign", world.app, world.out / "s.bin", "--header-size", "0x200", "--custom-tlv", *tlv]
    assert_rejected(world, argv, capsys)


@SETTINGS
@given(data=st.binary(max_size=200), magic=st.booleans())
def test_garbage_images(world, capsys, data, magic, tmp_path_factory):
    if magic:
        data = struct.pack("<I", 0x96F3B83D) + data
    image = world.root / "fuzz-image.bin"
    image.write_bytes(data)
    try:
        assert_rejected(world, ["inspect", image], capsys)
        assert_rejected(world, ["verify", image], capsys, allow_invalid=True)
        assert_rejected(world, ["size", image], capsys)
    finally:
        image.unlink()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(
    info=st.one_of(
        JSON.filter(lambda v: not isinstance(v, dict)),
        st.fixed_dictionaries({"outputs": JSON.filter(lambda v: not isinstance(v, dict) or v)}),
    )
)
def test_build_info_of_the_wrong_shape(world, capsys, info):
    path = world.root / "fuzz-info.json"
    path.write_text(json.dumps(info))
    try:
        code, out, err = run(["verify-build", path], capsys)
        assert "Traceback" not in out + err
        if code == 1:  # a well-formed record of outputs that are not there
            assert all(line.startswith("mismatch: ") for line in out.splitlines()) and err == ""
        else:
            assert code == 2 and out == "", (info, out, err)
            assert_one_error(err)
    finally:
        path.unlink()


NOT_AN_OFFSET = st.one_of(
    OUT_OF_U32,
    NOT_A_NUMBER,
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


@SETTINGS
@given(
    key=st.sampled_from(["app_offset", "header_offset", "restrict_size", "mbed_app_start", "mbed_app_size"]),
    value=NOT_AN_OFFSET,
)
def test_import_mbed_values(world, capsys, key, value):
    source = world.root / "fuzz-mbed.json"
    source.write_text(json.dumps({"target_overrides": {"K64F": {f"target.{key}": value}}}))
    try:
        assert_rejected(world, ["import-mbed", source, "--out", world.out / "fwbuild.json"], capsys)
    finally:
        source.unlink()


@SETTINGS
@given(
    key=st.sampled_from(["vector_count", "stack_size", "heap_size", "flash", "ram", "core", "inherits"]),
    value=NOT_AN_OFFSET,
)
def test_check_target_values(world, capsys, key, value):
    path = world.targets / "FUZZ.json"
    path.write_text(json.dumps({"inherits": "K64F", key: value}))
    try:
        assert_rejected(world, ["check-target", "FUZZ", "--targets-dir", world.targets], capsys)
    finally:
        path.unlink()


# -- the real entry point -------------------------------------------------------------------


def console(argv: list[object], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FWBUILD_", "NO_COLOR"))}
    return subprocess.run(
        [str(FWBUILD), *map(str, argv)], cwd=cwd, capture_output=True, text=True, env=env, timeout=60
    )


needs_console = pytest.mark.skipif(
    not FWBUILD.is_file(), reason="the fwbuild console script is not installed"
)


def shape(err: str) -> list[str]:
    return [line[:60] for line in err.splitlines() if not line.startswith("  ")]


@needs_console
def test_the_console_script_behaves_like_main(world, capsys):
    for argv in (
        ["merge", "--out", world.out / "m.bin", f"{world.app}@-16"],
        ["merge", "--out", world.out / "m.bin", "--fill", "256", f"{world.app}@0"],
        ["sign", world.app, world.out, "--header-size", "0x200"],
        ["sign", world.app, world.out / "s.bin", "--header-size", "0x200", "--security-counter", "x"],
        ["inspect", world.eof_hex],
        ["verify", world.garbage],
        ["verify-build", world.infos["null"]],
        ["import-mbed", world.mbed["overrides-list"], "--out", world.out / "fwbuild.json"],
        ["getpub", DEV_KEY, "--out", world.out],
        ["check-target", "BAD", "--targets-dir", world.targets],
    ):
        before = world.snapshot()
        code, out, err = run(argv, capsys)
        result = console(argv, world.root)
        assert (result.returncode, result.stdout) == (code, out), argv
        # the same paragraphs (their wording may move on while the schema files are edited)
        assert shape(result.stderr) == shape(err), (argv, result.stderr, err)
        assert "Traceback" not in result.stdout + result.stderr
        assert world.snapshot() == before


@needs_console
def test_a_closed_pipe_ends_quietly(tmp_path):
    lines = ["Linker script and memory map"]
    lines += [f" .text          0x{0x1000 + 16 * i:08x}       0x{16 + i:x} obj{i:05d}.o" for i in range(4000)]
    (tmp_path / "app.map").write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [str(FWBUILD), "size", "app.map", "--top", "4000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline().startswith(b"BYTES")
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141 and err == "", err


@needs_console
def test_new_writes_nothing_when_it_fails(tmp_path):
    shutil.copy(DEV_KEY, tmp_path / "file")
    for argv in (
        ["new", tmp_path / "file" / "repo", "--target", "K64F"],
        ["new", tmp_path / "r", "--target", "X"],
    ):
        result = console(argv, tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("error: "), result
        assert "Traceback" not in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
