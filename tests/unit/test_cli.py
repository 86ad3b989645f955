import json

from conftest import REPO

from fwbuild.cli import main

EXAMPLE = str(REPO / "example_project")


def test_targets_lists_public_targets_only(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "K64F" in out and "cortex-m4f" in out and "16 KiB / 64 KiB / 128 KiB" in out
    assert "MCU_K64F" not in out and "Cortex_M" not in out


def test_layout_table_and_json(capsys):
    assert main(["layout", "K64F", "--project", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "application  0x00008400  0x00084000  495 KiB" in out
    assert "candidate    0x00084000  0x00100000  496 KiB" in out
    assert main(["layout", "NUCLEO_F429ZI", "--project", EXAMPLE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "NUCLEO_F429ZI" and data["mode"] == "none"
    assert data["regions"] == [{"name": "application", "start": 0x08000000, "size": 0x200000}]


def test_user_error_is_one_paragraph_and_exit_2(capsys, ws):
    ws.project(target_overrides={"K64F": {"app_offset": "0x8100"}})
    assert main(["layout", "K64F", "--project", str(ws.root)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "fwbuild.json: app_offset:" in err and "0x8000 below and 0x9000 above" in err
    assert "\n\n" not in err.strip()


def test_debug_shows_the_traceback(capsys):
    assert main(["--debug", "layout", "NOPE"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_merge_bin_and_hex(tmp_path, capsys):
    (tmp_path / "boot.bin").write_bytes(b"\x01" * 16)
    (tmp_path / "app.bin").write_bytes(b"\x02" * 8)
    out = tmp_path / "image.bin"
    assert main(["merge", "--out", str(out), f"{tmp_path}/boot.bin@0x0", f"{tmp_path}/app.bin@0x20"]) == 0
    assert out.read_bytes() == b"\x01" * 16 + b"\xff" * 16 + b"\x02" * 8
    hex_out = tmp_path / "image.hex"
    assert main(["merge", "--out", str(hex_out), f"{tmp_path}/image.bin@0x08000000"]) == 0
    from intelhex import IntelHex

    ih = IntelHex(str(hex_out))
    assert ih.minaddr() == 0x08000000 and ih.tobinstr() == out.read_bytes()


def test_merge_errors(tmp_path, capsys):
    def err():
        return " ".join(capsys.readouterr().err.split())  # the paragraph is wrapped

    (tmp_path / "a.bin").write_bytes(bytes(32))
    out = tmp_path / "image.bin"
    assert main(["merge", "--out", str(out), f"{tmp_path}/a.bin@0x0", f"{tmp_path}/a.bin@0x10"]) == 2
    assert "overlaps" in err() and not out.exists()
    assert main(["merge", "--out", str(out), f"{tmp_path}/a.bin"]) == 2
    assert "needs its absolute address" in err()
    assert main(["merge", "--out", str(out), f"{tmp_path}/a.bin@zz"]) == 2
    assert "'zz' is not an address" in err()
    assert main(["merge", "--out", str(out), f"{tmp_path}/none.bin@0"]) == 2
    assert "none.bin: file not found" in err()
