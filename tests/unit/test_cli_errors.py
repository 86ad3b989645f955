"""The command line's error handling beyond hostile arguments: check-target reports every
problem, import-mbed checks what it writes and notes where Mbed OS would differ, the Mbed
application-start note, build-info.json shapes, outputs written all or nothing, and the
guards in main()."""

from __future__ import annotations

import json
import struct

import pytest

from fwbuild import buildinfo, cli
from fwbuild.checktarget import check_target
from fwbuild.cli import main
from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.mbed_header import HeaderFormatError, fields_of, mbed_app_start, placement_note
from fwbuild.resolve import resolve

BOOTLOADER = struct.pack("<2I", 0x20001000, 0x101) + bytes(0x1F8)


def paragraphs(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    for name in ("FWBUILD_SIGNING_KEY", "FWBUILD_SIGNING_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


# -- check-target ------------------------------------------------------------------------------


def test_check_target_reports_every_value_problem(ws, capsys):
    ws.target(
        "B2",
        {
            "inherits": "STM32F429xI",
            "public": True,
            "vector_count": 8,
            "flash": {"erased_value": 300, "size": "0x1000x"},
            "main_ram": "NOPE",
            "irq_handlers": ["SysTick_Handler"],
        },
    )
    assert main(["check-target", "B2", "--targets-dir", str(ws.targets_dir)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for fragment in (
        "flash.erased_value: 300",  # schema
        "flash.size: '0x1000x' is not a number",  # values, each one
        "main_ram: no RAM bank 'NOPE'",
        "vector_count: 8 < 16",
        "irq_handlers[0]: SysTick_Handler is a core exception handler",
        "5 problem(s) in B2",
    ):
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err


def test_check_target_does_not_repeat_the_schema(ws):
    ws.target("BAD_BOARD", {"inherits": "STM32F4", "flassh": {}, "vector_count": "sixteen", "stack_size": -4})
    report = check_target("BAD_BOARD", (ws.targets_dir,))
    assert len(report.problems) == 3, report.problems  # the missing flash.size is the typo's
    assert sum("vector_count" in p for p in report.problems) == 1


def test_check_target_layout_problems_come_after_the_values(ws):
    ws.target("B4", {"inherits": "K64F", "stack_size": "0x2x", "app_offset": "0x8100"})
    report = check_target("B4", (ws.targets_dir,))
    assert [p.split(": ")[1] for p in report.problems] == ["stack_size", "app_offset"], report.problems


def test_check_target_passes_a_good_board_and_notes_the_mbed_start(ws, capsys):
    (ws.root / "boot.bin").write_bytes(BOOTLOADER)
    ws.project(
        target_overrides={
            "K64F": {"bootloader_img": "boot.bin", "header_offset": "0x8000", "header_format": "mbed-v2"}
        }
    )
    assert main(["check-target", "K64F", "--project", str(ws.root)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "note: K64F: Mbed OS would place the application at 0x00008080" in out


# -- the Mbed application start -------------------------------------------------------------------


def test_mbed_rounds_the_header_end_to_128_bytes():
    assert mbed_app_start(0x8000, "mbed-v2") == 0x8080  # 112 bytes
    assert mbed_app_start(0x8000, "pelion-v3") == 0x8080  # 80 bytes
    fmt = [[f"f{i}", "const", "64le", "0"] for i in range(37)]  # 296 bytes
    assert mbed_app_start(0x08008000, fmt) == 0x08008180


def mbed_layout(ws, target, **keys):
    (ws.root / "boot.bin").write_bytes(BOOTLOADER)
    ws.project(target_overrides={target: {"bootloader_img": "boot.bin", **keys}})
    resolved = resolve(ws.root, target)
    return resolved.layout, "app_offset" in resolved.target.layout


def test_placement_note_when_the_addresses_differ(ws):
    fmt = [[f"f{i}", "const", "64le", "0"] for i in range(37)]
    layout, pinned = mbed_layout(ws, "NUCLEO_F429ZI", header_offset="0x8000", header_format=fmt)
    note = placement_note(layout, pinned)
    assert layout.application.start == 0x08008200
    assert "Mbed OS would place the application at 0x08008180" in note
    assert "fwbuild places it at 0x08008200" in note and "set app_offset" in note and '"0x8200"' in note


@pytest.mark.parametrize(
    "keys",
    [
        {"header_offset": "0x8000", "header_format": "mbed-v2", "app_offset": "0x8200"},  # pinned
        {"header_offset": "0x8000"},  # MCUboot: no Mbed computation to compare with
    ],
)
def test_no_placement_note(ws, keys):
    assert placement_note(*mbed_layout(ws, "K64F", **keys)) is None


def test_layout_prints_the_note_on_stderr(ws, capsys):
    mbed_layout(ws, "K64F", header_offset="0x8000", header_format="mbed-v2")
    assert main(["layout", "K64F", "--project", str(ws.root), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["target"] == "K64F"
    err = " ".join(err.split())
    assert err.startswith("note: K64F: Mbed OS would place the application at 0x00008080")
    assert "fwbuild places it at 0x00008200" in err


def test_a_const_that_does_not_fit_is_a_layout_error(ws):
    fmt = [["magic", "const", "8le", "0x1ff"]]
    with pytest.raises(HeaderFormatError, match=r"field 'magic': 511 does not fit 8le"):
        fields_of(fmt)
    with pytest.raises(ConfigError, match="header_format"):
        mbed_layout(ws, "K64F", header_offset="0x8000", header_format=fmt)
    assert issubclass(HeaderFormatError, FwbuildError) and issubclass(HeaderFormatError, ValueError)


# -- import-mbed -----------------------------------------------------------------------------------


def mbed_app(tmp_path, overrides, name="mbed_app.json"):
    (tmp_path / "boot.bin").write_bytes(BOOTLOADER)
    path = tmp_path / name
    path.write_text(json.dumps({"macros": ["X"], "target_overrides": overrides}))
    return path


def test_import_notes_where_mbed_would_differ(tmp_path, capsys):
    source = mbed_app(
        tmp_path,
        {
            "K64F": {"target.bootloader_img": "boot.bin", "target.header_offset": "0x8000"},
            "MCU_K64F": {"target.restrict_size": "0x40000"},
            "NOT_A_BOARD": {"target.app_offset": "0x1000"},
        },
    )
    out = tmp_path / "new" / "fwbuild.json"
    assert main(["import-mbed", str(source), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    notes = [" ".join(line.split()) for line in text.splitlines() if line.startswith("  note: ")]
    assert any("Mbed OS's own tools make no header when header_format is not set" in n for n in notes)
    assert any("Mbed OS would place the application at 0x00008080" in n for n in notes)
    assert any(n.startswith("note: MCU_K64F: a family") for n in notes)
    assert any(n.startswith("note: NOT_A_BOARD: not a fwbuild target") for n in notes)
    layout = resolve(out.parent, "K64F").layout  # what was written, the build reads
    assert layout.region("header").start == 0x8000 and layout.header_format == "mbed-v2"


def test_import_writes_nothing_the_build_would_reject(tmp_path, capsys):
    source = mbed_app(
        tmp_path,
        {
            "K64F": {
                "target.bootloader_img": "boot.bin",
                "target.header_offset": "0x8000",
                "target.app_offset": "0x8100",
            }
        },
    )
    out = tmp_path / "new" / "fwbuild.json"
    assert main(["import-mbed", str(source), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith(f"error: {source}: target_overrides.K64F.target.app_offset:")
    assert "0x8200 above" in err and "nothing was written" in err
    assert not (tmp_path / "new").exists() and not (tmp_path / "fwbuild.json").exists()


def test_import_names_the_section_that_sets_the_key(tmp_path, capsys):
    source = mbed_app(
        tmp_path,
        {"MCU_K64F": {"target.restrict_size": "0x200000"}, "K64F": {"target.app_offset": "0x8000"}},
    )
    assert main(["import-mbed", str(source)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "target_overrides.MCU_K64F.target.restrict_size" in err, err
    assert not (tmp_path / "fwbuild.json").exists()


# -- verify-build ----------------------------------------------------------------------------------


def test_verify_build_never_runs_a_command_the_file_names(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(buildinfo, "tool_version", lambda command, environ=None: ran.append(command) or "x")
    info = tmp_path / "build-info.json"
    info.write_text(json.dumps({"outputs": {}, "toolchain": {"/tmp/evil": "1"}}))
    assert main(["verify-build", str(info)]) == 2
    assert ran == [] and "toolchain./tmp/evil" in capsys.readouterr().err
    info.write_text(json.dumps({"outputs": {}, "toolchain": {"cc": "x", "objcopy": "x"}}))
    assert main(["verify-build", str(info), "--prefix", "my-"]) == 0
    assert ran == ["my-gcc", "my-objcopy"]


def test_verify_build_mismatches_still_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(buildinfo, "tool_version", lambda command, environ=None: "v")
    (tmp_path / "app.bin").write_bytes(b"abc")
    info = tmp_path / "build-info.json"
    info.write_text(json.dumps({"outputs": {"app.bin": {"sha256": "0" * 64, "size": 3}}}))
    assert main(["verify-build", str(info)]) == 1
    assert capsys.readouterr().out.startswith("mismatch: app.bin: SHA-256")


# -- outputs ---------------------------------------------------------------------------------------


def test_outputs_are_written_all_or_nothing(tmp_path, monkeypatch):
    from fwbuild import fileio

    real = fileio.write_atomic

    def failing(path, data):
        if str(path).endswith(".sig"):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(fileio, "write_atomic", failing)
    first, second = tmp_path / "a" / "b" / "image.bin", tmp_path / "a" / "b" / "image.sig"
    with pytest.raises(FwbuildError, match="No space left on device.*nothing was written"):
        cli._write_outputs([(first, b"1"), (second, b"2")])
    assert list(tmp_path.iterdir()) == []  # the image and the folders made for it are gone


def mbed_project(ws):
    (ws.root / "boot.bin").write_bytes(BOOTLOADER)
    ws.project(
        version="1.2.3",
        target_overrides={
            "K64F": {
                "bootloader_img": "boot.bin",
                "header_offset": "0x8000",
                "header_format": "mbed-v2",
                "app_offset": "0x8200",
            }
        },
    )
    app = ws.root / "app.bin"
    app.write_bytes(BOOTLOADER * 2)
    return app


def test_sign_mbed_format_keeps_image_and_signature_together(ws, capsys, key_files):
    app = mbed_project(ws)
    out = ws.root / "out" / "slot.bin"
    common = ["sign", str(app), str(out), "--target", "K64F", "--project", str(ws.root)]
    assert main([*common, "--key", str(key_files["ecdsa-p256"])]) == 0
    assert out.with_suffix(".sig").is_file()
    assert main(common) == 0  # no key now: the old signature would not match the new image
    assert out.is_file() and not out.with_suffix(".sig").exists()
    capsys.readouterr()
    assert (
        main(["sign", str(app), str(ws.root / "slot.sig"), "--target", "K64F", "--project", str(ws.root)])
        == 2
    )
    assert "detached signature" in capsys.readouterr().err and not (ws.root / "slot.sig").exists()


# -- main()'s guards -------------------------------------------------------------------------------


def test_any_fwbuild_error_is_one_paragraph(monkeypatch, capsys):
    def broken_template(args):  # e.g. a linker template that raised a Jinja2 error
        raise ConfigError("templates/app.ld.j2", None, "line 3: unexpected '}'\n\n  in {{ x }", "fix it")

    monkeypatch.setattr(cli, "cmd_config_reference", broken_template)
    assert main(["config-reference"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: templates/app.ld.j2: line 3: unexpected '}' in {{ x }; fix it")
    assert err.count("\n") == 1


def test_an_unchecked_os_error_names_the_file(monkeypatch, capsys):
    def unreadable(args):
        raise PermissionError(13, "Permission denied", "/secret/file.map")

    monkeypatch.setattr(cli, "cmd_config_reference", unreadable)
    assert main(["config-reference"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /secret/file.map: Permission denied") and "Traceback" not in err


def test_a_closed_pipe_is_quiet(monkeypatch, capsys):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["targets"]) == 141
    assert capsys.readouterr().err == ""
