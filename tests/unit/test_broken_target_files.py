"""One broken file in a targets folder: a build fails only when the file is in its target's
chain, an unknown name is still called unknown, and a listing names each broken file."""

from __future__ import annotations

import pytest

from fwbuild.errors import ConfigError
from fwbuild.resolve import resolve
from fwbuild.targets import TargetSet

FAMILY = {
    "public": False,
    "core": "cortex-m4",
    "fpu": "none",
    "flash": {"start": 0, "size": "0x100000", "sectors": [[0, "0x1000"]]},
    "ram": [{"name": "SRAM", "start": "0x20000000", "size": "0x10000"}],
    "vector_count": 32,
}


@pytest.fixture
def folder(ws):
    ws.target("FAM", FAMILY)
    ws.target("BOARD", {"inherits": "FAM"})
    ws.target("OTHER", {"inherits": "FAM", "description": "another board"})
    ws.target("BAD", '{"inherits": "FAM",}')  # a trailing comma
    ws.target("WRONG", {"inherits": "FAM", "colour": "blue"})  # breaks the schema
    ws.target("CHILD", {"inherits": "BAD"})
    ws.target("LATIN", "").write_bytes('{"description": "é"}'.encode("latin-1"))
    ws.project()
    return ws


def test_a_build_reads_only_its_own_chain(folder):
    assert resolve(folder.root, "BOARD").target.chain == ("BOARD", "FAM")
    with pytest.raises(ConfigError, match=r"BAD\.json: line 1 column 20: invalid JSON"):
        resolve(folder.root, "CHILD")
    with pytest.raises(ConfigError, match=r"WRONG\.json: colour: unknown key 'colour'"):
        resolve(folder.root, "WRONG")


def test_an_unknown_target_is_still_unknown(folder):
    with pytest.raises(ConfigError) as info:
        resolve(folder.root, "NOPE")
    message = str(info.value)
    assert message.startswith("unknown target 'NOPE'; known: BOARD, CHILD, ") and "OTHER" in message
    assert "3 target file(s) cannot be read and are not listed" in message
    assert "BAD.json" in message and "LATIN.json" in message and "WRONG.json" in message
    with pytest.raises(ConfigError, match="unknown target 'BORD'; did you mean BOARD"):
        resolve(folder.root, "BORD")


def test_a_family_names_its_boards_despite_broken_files(folder):
    with pytest.raises(ConfigError, match="'FAM' is a family.*build one of its boards: BOARD, OTHER"):
        TargetSet([folder.targets_dir]).resolve("FAM")


def test_the_listing_keeps_the_good_targets_and_names_each_broken_file(folder):
    targets = TargetSet([folder.targets_dir])
    names = targets.public_names(skip_broken=True)
    assert {"BOARD", "OTHER", "CHILD"} <= set(names) and not {"BAD", "WRONG", "LATIN", "FAM"} & set(names)
    broken = targets.broken()
    assert [str(e.file).rsplit("/", 1)[1] for e in broken] == ["BAD.json", "LATIN.json", "WRONG.json"]
    assert "save it as UTF-8" in str(broken[1])
    with pytest.raises(ConfigError, match=r"BAD\.json"):
        targets.public_names()  # without skip_broken: the first broken file is the error


def test_fwbuild_targets_lists_the_good_and_reports_the_broken(ws, capsys):
    from fwbuild.cli import main

    ws.target("GOOD_BOARD", {"inherits": "K64F", "description": "fine"})
    ws.target("BROKEN_BOARD", "{not json")
    ws.project(name="p")
    status = main(["targets", "--project", str(ws.root)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "GOOD_BOARD" in out and "K64F" in out
    assert err.startswith("error: ") and "BROKEN_BOARD.json" in err and "Traceback" not in err
