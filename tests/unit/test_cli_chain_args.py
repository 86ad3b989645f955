"""``--stage``/``--slot`` of ``fwbuild sign`` and ``fwbuild verify``, in-process: which slot
they name, the version and options they sign with, and every way of naming no slot or a
wrong one (one error paragraph, nothing written). The byte-for-byte comparison with real
builds is tests/integration/test_chain_cli.py."""

from __future__ import annotations

import struct

import pytest
from conftest import REPO

from fwbuild.cli import main
from fwbuild.image import read_parts
from fwbuild.project import Version
from fwbuild.resolve import resolve
from fwbuild.signing import choose_signer, mcuboot_slot_image

CHAIN = REPO / "tests" / "projects" / "chain"
EXAMPLE = REPO / "example_project"
PAYLOAD = struct.pack("<2I", 0x20001000, 0x101) + bytes(range(256)) * 2


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    for name in ("FWBUILD_SIGNING_KEY", "FWBUILD_SIGNING_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.bin"
    path.write_bytes(PAYLOAD)
    return path


def err_text(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error:") == 1 and "Traceback" not in err, err
    return " ".join(err.split())


@pytest.mark.parametrize(
    "target, stage, index, version",
    [
        ("MPS2_AN385", "bootloader", 0, "0.9.0"),
        ("MPS2_AN385", "bootloader", 1, "0.9.0"),
        ("MPS2_AN385", "application", 1, "1.2.3"),
        ("NUCLEO_F429ZI", "application", 0, "1.2.3"),
    ],
)
def test_sign_makes_the_slot_image_the_build_makes(
    tmp_path, key_files, target, stage, index, version, capsys
):
    resolved = resolve(CHAIN, target)
    layout, project = resolved.layout, resolved.project
    slot = layout.slot(f"{stage}.{index}")
    # a program linked for this slot: its reset vector lies there
    payload = struct.pack("<2I", 0x20001000, slot.program_start + 0x101) + PAYLOAD[8:]
    app = tmp_path / "app.bin"
    app.write_bytes(payload)
    signer = choose_signer(project, "debug", str(key_files["ed25519"])).signer
    want = mcuboot_slot_image(layout, project.signing, Version.parse(version), payload, signer, slot)
    argv = ["--target", target, "--project", str(CHAIN), "--stage", stage, "--slot", str(index)]
    key = ["--key", str(key_files["ed25519"])]
    assert main(["sign", str(app), str(tmp_path / "s.bin"), *argv, *key]) == 0
    assert (tmp_path / "s.bin").read_bytes() == want
    assert main(["sign", str(app), str(tmp_path / "s.hex"), *argv, *key]) == 0
    (part,) = read_parts(tmp_path / "s.hex", 0)
    assert (part.start, bytes(part.data)) == (slot.start, want)
    capsys.readouterr()
    for image in ("s.bin", "s.hex"):
        assert main(["verify", str(tmp_path / image), *argv, *key]) == 0
        assert capsys.readouterr().out.startswith("valid:")
    other = 1 - index if len(layout.stage_of(slot.region).slots) > 1 else None
    if other is not None:  # the same bytes in the stage's other slot: linked elsewhere
        argv[-1] = str(other)
        assert main(["verify", str(tmp_path / "s.bin"), *argv, *key]) == 1
        assert "slot: its reset vector" in capsys.readouterr().out


def test_mbed_layout_takes_stage_application_slot_0_as_today(tmp_path, app, capsys):
    target = ["--target", "K64F", "--project", str(EXAMPLE), "--version", "1.0.0"]
    assert main(["sign", str(app), str(tmp_path / "plain.bin"), *target]) == 0
    chosen = ["--stage", "application", "--slot", "0"]
    assert main(["sign", str(app), str(tmp_path / "chosen.bin"), *target, *chosen]) == 0
    assert main(["sign", str(app), str(tmp_path / "stage.bin"), *target, "--stage", "application"]) == 0
    plain = (tmp_path / "plain.bin").read_bytes()
    assert (tmp_path / "chosen.bin").read_bytes() == plain == (tmp_path / "stage.bin").read_bytes()
    check = ["verify", str(tmp_path / "plain.bin"), "--target", "K64F", "--project", str(EXAMPLE)]
    capsys.readouterr()
    assert main([*check, *chosen]) == 0
    assert capsys.readouterr().out.startswith("valid:")


SIGN_ERRORS = [
    (
        ["--stage", "application"],
        "--stage application: a stage's slot is one of a layout's; give --target NAME",
    ),
    (["--slot", "1"], "--slot 1: a stage's slot is one of a layout's; give --target NAME"),
    (
        ["--target", "MPS2_AN385", "--project", str(CHAIN)],
        "MPS2_AN385 is a boot chain (boot_chain in ",
    ),
    (
        ["--target", "MPS2_AN385", "--project", str(CHAIN), "--stage", "bootlaoder", "--slot", "0"],
        "--stage bootlaoder: MPS2_AN385's layout has no such stage; its stages are selector, bootloader, "
        "application",
    ),
    (
        ["--target", "MPS2_AN385", "--project", str(CHAIN), "--stage", "selector"],
        "--stage selector: the first stage of a boot chain has no header and is never updated, so there "
        "is no slot image to sign; stages with a header: bootloader (--slot 0..1), application (--slot 0..1)",
    ),
    (
        ["--target", "MPS2_AN385", "--project", str(CHAIN), "--stage", "application", "--slot", "2"],
        "--slot 2: stage application of MPS2_AN385 has 2 slots, numbered 0..1",
    ),
    (
        ["--target", "NUCLEO_F429ZI", "--project", str(CHAIN), "--stage", "bootloader"],
        "--stage bootloader: it has 2 slots; say which with --slot N (0..1)",
    ),
    (
        ["--target", "MPS2_AN385", "--project", str(CHAIN), "--slot", "1"],
        "--slot 1: say whose slot with --stage STAGE; stages with a header: bootloader",
    ),
    (
        ["--target", "K64F", "--project", str(EXAMPLE), "--stage", "application", "--slot", "1"],
        "--slot 1: K64F's layout (mode managed) is not a boot chain: its application has one slot, --slot 0",
    ),
    (
        ["--target", "K64F", "--project", str(EXAMPLE), "--stage", "bootloader"],
        "--stage bootloader: K64F's layout (mode managed) gives it no header region, so there is no "
        "slot image to sign; stages with a header: application (--slot 0)",
    ),
    (
        ["--target", "NUCLEO_F429ZI", "--project", str(EXAMPLE), "--stage", "application"],
        "--stage application: NUCLEO_F429ZI's layout (mode none) gives it no header region, so there "
        "is no slot image to sign; no stage has one",
    ),
]


@pytest.mark.parametrize("argv, message", SIGN_ERRORS)
def test_sign_says_which_slot_to_give(tmp_path, app, capsys, argv, message):
    assert main(["sign", str(app), str(tmp_path / "s.bin"), *argv]) == 2
    assert message in err_text(capsys)
    assert not (tmp_path / "s.bin").exists()


@pytest.mark.parametrize("argv, message", SIGN_ERRORS)
def test_verify_says_which_slot_to_give(app, capsys, argv, message):
    assert main(["verify", str(app), *argv]) == 2
    assert message.replace("to sign", "to check") in err_text(capsys)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("slot", ["-1", "x", "0x1", ""])
def test_slot_is_a_slot_number(tmp_path, app, capsys, slot):
    argv = ["--target", "MPS2_AN385", "--project", str(CHAIN), "--stage", "application", "--slot", slot]
    with pytest.raises(SystemExit) as exc:
        main(["sign", str(app), str(tmp_path / "s.bin"), *argv])
    assert exc.value.code == 2
    assert "--slot" in err_text(capsys)


def test_layout_table_of_a_chain(capsys):
    assert main(["layout", "MPS2_AN385", "--project", str(CHAIN)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "MPS2_AN385 (chain): flash 0x00000000..0x00400000 (4 MiB)",
        "REGION         STAGE        SLOT  START       END         SIZE      HEADER  PROGRAM",
        "selector       selector     0     0x00000000  0x00008000  32 KiB    -       0x00000000",
        "bootloader.0   bootloader   0     0x00008000  0x00018000  64 KiB    0x400   0x00008400",
        "bootloader.1   bootloader   1     0x00018000  0x00028000  64 KiB    0x400   0x00018400",
        "application.0  application  0     0x00028000  0x00213000  1964 KiB  0x400   0x00028400",
        "application.1  application  1     0x00213000  0x003FE000  1964 KiB  0x400   0x00213400",
        "(unused)       -            -     0x003FE000  0x003FF000  4 KiB     -       -",
        "boot_state     -            -     0x003FF000  0x00400000  4 KiB     -       -",
        "ram SSRAM23    -            -     0x20000000  0x20400000  4 MiB     -       -",
    ]


def test_reference_lists_the_stage_keys():
    from fwbuild.reference import config_reference

    text = config_reference()
    for key in ("stage", "image", "slots", "size", "header_size", "version"):
        assert f"| `boot_chain.stages[].{key}` |" in text, key
    assert "\\<stage>" in text  # not an HTML tag when rendered
