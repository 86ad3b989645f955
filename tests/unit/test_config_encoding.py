"""Config files as bytes: not UTF-8, a key given twice, something else where a file belongs,
and fwbuild's own cache files damaged. Each is one error naming the file (or, for the
caches, nothing at all: they are rebuilt), never a traceback."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from fwbuild import graphfacts
from fwbuild.cli import main
from fwbuild.errors import ConfigError
from fwbuild.jsonfile import read_json, validate
from fwbuild.project import load_project
from fwbuild.readcache import ReadCache
from fwbuild.resolve import resolve
from fwbuild.targets import TargetSet

BOARD = {
    "core": "cortex-m4",
    "fpu": "none",
    "description": "Carte d'évaluation",  # not ASCII: its encoding matters
    "flash": {"start": 0, "size": "0x100000", "sectors": [[0, "0x1000"]]},
    "ram": [{"name": "SRAM", "start": "0x20000000", "size": "0x10000"}],
    "vector_count": 32,
}
TEXT = json.dumps(BOARD, ensure_ascii=False, indent=1)
OFFSET = TEXT.encode("utf-8").index("é".encode())  # the first byte that differs

ENCODINGS = {
    "latin-1": (
        TEXT.encode("latin-1"),
        rf"byte 0xE9 at offset {OFFSET} \(line 4, column \d+\) is not UTF-8; the file looks like Latin-1",
    ),
    "utf-16 with BOM": (TEXT.encode("utf-16"), r"starts with a UTF-16 byte-order mark \(FF FE at byte 0\)"),
    "utf-16 without BOM": (TEXT.encode("utf-16-le"), r"a NUL byte at offset 1 \(line 1, column 2\)"),
    "utf-32": (TEXT.encode("utf-32"), r"starts with a UTF-32 byte-order mark"),
}


def test_a_utf8_byte_order_mark_is_utf8(ws):
    """Some Windows editors write one; the file is UTF-8 all the same."""
    ws.target("BOARD", "").write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert TargetSet([ws.targets_dir]).resolve("BOARD").description == "Carte d'évaluation"


def clean(text: str) -> str:
    return " ".join(text.split())  # error paragraphs are wrapped


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_target_file_that_is_not_utf8(ws, encoding):
    data, fragment = ENCODINGS[encoding]
    path = ws.target("BOARD", "")
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=rf"BOARD\.json: {fragment}.*; save it as UTF-8") as info:
        TargetSet([ws.targets_dir]).resolve("BOARD")
    assert str(path) in str(info.value)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_fwbuild_json_that_is_not_utf8(ws, encoding):
    data, fragment = ENCODINGS[encoding]
    ws.target("BOARD", BOARD)
    project = ws.project()
    text = json.dumps({"name": "café", "targets_dirs": ["targets"]}, ensure_ascii=False)
    project.write_bytes(data if encoding != "latin-1" else text.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"fwbuild\.json: .*save it as UTF-8"):
        load_project(ws.root)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16 with BOM"])
def test_cli_commands_report_it_as_one_error(ws, capsys, encoding, tmp_path):
    """fwbuild targets, layout, check-target, sign --target and import-mbed: exit 2, no traceback."""
    data, _ = ENCODINGS[encoding]
    ws.target("BOARD", "").write_bytes(data)
    ws.project()
    mbed_app = tmp_path / "mbed" / "mbed_app.json"
    mbed_app.parent.mkdir()
    mbed_app.write_bytes(
        '{"config": {"x": {"help": "é"}}}'.encode("latin-1" if "latin" in encoding else "utf-16")
    )
    app = tmp_path / "app.bin"
    app.write_bytes(bytes(1024))
    root = str(ws.root)
    commands = [
        ["layout", "BOARD", "--project", root],
        ["check-target", "BOARD", "--project", root],
        [
            "sign",
            str(app),
            str(tmp_path / "out.bin"),
            "--version",
            "1.0.0",
            "--target",
            "BOARD",
            "--project",
            root,
        ],
        ["import-mbed", str(mbed_app)],
    ]
    for command in commands:
        assert main(command) == 2, command
        err = clean(capsys.readouterr().err)
        assert "Traceback" not in err and "save it as UTF-8" in err, (command, err)
    assert main(["targets", "--project", root]) == 2
    err = clean(capsys.readouterr().err)
    assert "Traceback" not in err and "BOARD.json" in err and "save it as UTF-8" in err


# -- keys given twice -----------------------------------------------------------------------------
def line_of(text: str, fragment: str, nth: int = 0) -> int:
    at = -1
    for _ in range(nth + 1):
        at = text.index(fragment, at + 1)
    return text.count("\n", 0, at) + 1


def test_a_key_twice_in_a_target_file(ws):
    text = TEXT.replace('"vector_count": 32', '"vector_count": 32,\n "vector_count": 48')
    ws.target("BOARD", text)
    with pytest.raises(ConfigError) as info:
        TargetSet([ws.targets_dir]).resolve("BOARD")
    message = str(info.value)
    line = line_of(text, '"vector_count"', 1)
    assert f'BOARD.json: line {line}: key "vector_count" appears twice in the same object' in message
    assert "remove or rename one of them" in message


def test_a_key_twice_in_a_nested_object_names_its_line(ws):
    text = TEXT.replace('"size": "0x10000"', '"size": "0x10000",\n  "start": "0x1"')
    ws.target("BOARD", text)
    line = line_of(text, '"start": "0x1"')
    assert line > line_of(text, '"start"', 1) > line_of(text, '"start"')  # flash's, the bank's, the twin
    with pytest.raises(ConfigError, match=rf'line {line}: key "start" appears twice'):
        TargetSet([ws.targets_dir]).resolve("BOARD")


def test_the_same_key_in_different_objects_is_fine(ws):
    data = dict(BOARD, ram=BOARD["ram"] + [{"name": "SRAM2", "start": "0x20010000", "size": "0x1000"}])
    ws.target("BOARD", data)
    assert len(TargetSet([ws.targets_dir]).resolve("BOARD").ram) == 2


def test_a_key_twice_in_fwbuild_json(ws):
    ws.target("BOARD", BOARD)
    (ws.root / "fwbuild.json").write_text(
        '{"targets_dirs": ["targets"],\n "target_overrides": {"BOARD": {"app_offset": "0x1000",\n'
        '   "app_offset": "0x2000"}}}'
    )
    with pytest.raises(ConfigError, match=r'fwbuild\.json: line 3: key "app_offset" appears twice'):
        resolve(ws.root, "BOARD")
    (ws.root / "fwbuild.json").write_text('{"name": "a", "name": "b"}')
    with pytest.raises(ConfigError, match=r'line 1: key "name" appears twice'):
        load_project(ws.root)


def test_a_key_twice_in_mbed_app_json(tmp_path, capsys):
    mbed_app = tmp_path / "mbed_app.json"
    mbed_app.write_text('{"target_overrides": {"*": {}}, "target_overrides": {}}')
    assert main(["import-mbed", str(mbed_app)]) == 2
    assert 'key "target_overrides" appears twice' in clean(capsys.readouterr().err)


@pytest.mark.parametrize(
    "text, fragment", [("NaN", "NaN is not JSON"), ("-Infinity", "-Infinity is not JSON")]
)
def test_json_that_python_alone_accepts(ws, text, fragment):
    ws.target("BOARD", TEXT.replace('"vector_count": 32', f'"vector_count": {text}'))
    with pytest.raises(ConfigError, match=fragment):
        TargetSet([ws.targets_dir]).resolve("BOARD")


def test_deep_nesting_is_an_error_not_a_recursion_error(ws):
    ws.target("BOARD", '{"macros": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="nest deeper than 32 levels"):
        TargetSet([ws.targets_dir]).resolve("BOARD")


# -- something else where a file belongs ----------------------------------------------------------
def test_a_folder_or_a_link_loop_in_place_of_a_target_file(ws):
    (ws.targets_dir / "FOLDER.json").mkdir()
    os.symlink("LOOP.json", ws.targets_dir / "LOOP.json")
    os.symlink("nowhere.json", ws.targets_dir / "DANGLING.json")
    targets = TargetSet([ws.targets_dir])
    with pytest.raises(ConfigError, match=r"FOLDER\.json: is a folder, not a file"):
        targets.resolve("FOLDER")
    with pytest.raises(ConfigError, match=r"LOOP\.json: is a symbolic link loop"):
        targets.resolve("LOOP")
    with pytest.raises(
        ConfigError, match=r"DANGLING\.json: is a symbolic link to 'nowhere\.json', which does not"
    ):
        targets.resolve("DANGLING")


def test_a_folder_or_a_link_loop_in_place_of_project_files(ws):
    ws.target("BOARD", BOARD)
    os.symlink("fwbuild.json", ws.root / "fwbuild.json")
    with pytest.raises(ConfigError, match=r"fwbuild\.json: is a symbolic link loop"):
        load_project(ws.root)
    (ws.root / "fwbuild.json").unlink()
    (ws.root / "fwbuild.json").mkdir()
    with pytest.raises(ConfigError, match=r"fwbuild\.json: is a folder, not a file"):
        load_project(ws.root)
    (ws.root / "fwbuild.json").rmdir()
    (ws.root / "template.ld.j2").mkdir()
    ws.project(linker_template="template.ld.j2")
    with pytest.raises(ConfigError, match=r"linker_template: 'template\.ld\.j2' is a folder, not a file"):
        load_project(ws.root)
    os.symlink("loop", ws.root / "loop")
    ws.project(targets_dirs=["loop"])
    with pytest.raises(ConfigError, match=r"targets_dirs: 'loop' is a symbolic link loop"):
        load_project(ws.root)
    (ws.root / "plain").write_text("")
    ws.project(targets_dirs=["plain"])
    with pytest.raises(ConfigError, match=r"targets_dirs: 'plain' is a file, not a folder"):
        load_project(ws.root)


def test_a_folder_in_place_of_a_bootloader_image(ws):
    ws.target("BOARD", BOARD)
    (ws.root / "boot.bin").mkdir()
    ws.project(target_overrides={"BOARD": {"bootloader_img": "boot.bin", "header_offset": "0x10000"}})
    with pytest.raises(ConfigError, match=r"bootloader_img: 'boot\.bin' is a folder, not a file"):
        resolve(ws.root, "BOARD")


def test_a_link_loop_as_the_project_folder(tmp_path):
    os.symlink("project", tmp_path / "project")
    with pytest.raises(ConfigError, match=r"project: project is a symbolic link loop .*; check --project"):
        load_project(tmp_path / "project")
    with pytest.raises(ConfigError, match=r"nowhere: project folder not found; check --project"):
        load_project(tmp_path / "nowhere")


def test_a_missing_file_is_still_file_not_found(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.json: file not found; check the path"):
        read_json(tmp_path / "missing.json")


# -- fwbuild's own caches -------------------------------------------------------------------------
GOOD_KEY = {"kind": "ed25519", "key_hash": "ab" * 32}
DIGEST = "0" * 64


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'{"entries": 5}',
        b"5",
        b'"valid"',
        b"\xff\xfe{}",
        b"[" * 100_000,
        json.dumps({f"valid:{DIGEST}": "yes"}).encode(),
        json.dumps({f"valid:{DIGEST}": 1}).encode(),
        json.dumps({"valid:short": True}).encode(),
        json.dumps({f"key:{DIGEST}": {"kind": "ed25519"}}).encode(),
        json.dumps({f"key:{DIGEST}": dict(GOOD_KEY, kind="dsa")}).encode(),
        json.dumps({f"key:{DIGEST}": dict(GOOD_KEY, key_hash="zz")}).encode(),
        json.dumps({f"key:{DIGEST}": dict(GOOD_KEY, extra=1)}).encode(),
        json.dumps({f"key:{DIGEST}": [GOOD_KEY]}).encode(),
    ],
)
def test_a_damaged_read_cache_is_empty_and_rewritten(tmp_path, content):
    path = tmp_path / ".fwbuild-cache.json"
    path.write_bytes(content)
    cache = ReadCache(path)
    assert cache.entries == {} and cache.get(f"valid:{DIGEST}") is None
    cache.put(f"key:{DIGEST}", GOOD_KEY)
    cache.save()
    assert ReadCache(path).entries == {f"key:{DIGEST}": GOOD_KEY}


def test_well_formed_entries_survive_beside_damaged_ones(tmp_path):
    path = tmp_path / ".fwbuild-cache.json"
    good = {f"valid:{DIGEST}": True, f"key:{'1' * 64}": GOOD_KEY}
    path.write_text(json.dumps(dict(good, junk=[1, 2])))
    cache = ReadCache(path)
    assert cache.entries == good and cache.changed
    cache.save()
    assert json.loads(path.read_text()) == good


def test_a_forged_valid_entry_of_the_wrong_shape_does_not_skip_the_schema(tmp_path, ws):
    path = ws.target("BOARD", dict(BOARD, colour="blue"))
    data = read_json(path)
    cache_file = tmp_path / "cache.json"
    from fwbuild.jsonfile import _schema_bytes

    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    key = "valid:" + hashlib.sha256(_schema_bytes("schema.json") + b"\0" + text).hexdigest()
    cache_file.write_text(json.dumps({key: "true"}))
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        validate(data, "schema.json", path, ReadCache(cache_file))


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path):
    path = tmp_path / ".fwbuild-cache.json"
    path.mkdir()
    cache = ReadCache(path)
    cache.put(f"valid:{DIGEST}", True)
    cache.save()  # a folder in its place: nothing written, nothing raised
    assert path.is_dir()


@pytest.fixture
def remembered(ws):
    """A project whose graph facts were remembered, and the settings they were kept for."""
    ws.target("BOARD", BOARD)
    ws.project()
    settings = {"target": "BOARD", "profile": "debug", "signs": False}
    facts = graphfacts.compute(resolve(ws.root, "BOARD"), None, "debug")
    cache_file = ws.root / "build" / ".fwbuild-graph-BOARD.json"
    cache_file.parent.mkdir()
    # inputs are trusted only when older than FRESH_SECONDS: make them old
    for path in [ws.root / "fwbuild.json", ws.targets_dir, *ws.targets_dir.iterdir()]:
        os.utime(path, (1_000_000_000, 1_000_000_000), follow_symlinks=False)
    kept, _ = graphfacts.remember(cache_file, ws.root, settings, facts, started=1e12)
    if not kept:
        pytest.skip("the shipped targets changed too recently to remember facts")
    assert graphfacts.lookup(cache_file, ws.root, settings) == facts
    return cache_file, ws.root, settings


def _damage(entries: dict, how: str) -> object:
    entry = entries["debug"]
    if how == "a list":
        return []
    if how == "entries is a number":
        return {"entries": 5, "debug": 5}
    if how == "no facts":
        del entry["facts"]
    elif how == "no digest":
        del entry["digest"]
    elif how == "a field of the facts missing":
        del entry["facts"]["warnings"]
    elif how == "a field of the facts changed":
        entry["facts"]["layout_json"] = "{}"
    elif how == "read is a number":
        entry["facts"]["read"] = 5
    elif how == "record is a list":
        entry["record"] = []
    return entries


@pytest.mark.parametrize(
    "how",
    [
        "a list",
        "entries is a number",
        "no facts",
        "no digest",
        "a field of the facts missing",
        "a field of the facts changed",
        "read is a number",
        "record is a list",
    ],
)
def test_damaged_graph_facts_are_computed_again(remembered, how):
    cache_file, root, settings = remembered
    cache_file.write_text(json.dumps(_damage(json.loads(cache_file.read_text()), how)))
    assert graphfacts.lookup(cache_file, root, settings) is None


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"[" * 100_000, b"{"])
def test_unreadable_graph_facts_are_computed_again(remembered, content):
    cache_file, root, settings = remembered
    cache_file.write_bytes(content)
    assert graphfacts.lookup(cache_file, root, settings) is None
