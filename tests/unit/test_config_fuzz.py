"""Fuzzed target files and fwbuild.json: whatever a config file holds, resolving it (and
computing its layout) either works or raises FwbuildError, the user error that is reported
as one paragraph. Any other exception would be a traceback.

Deterministic (derandomize) and bounded (max_examples), so that CI runs the same cases in a
few seconds."""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fwbuild import shipped
from fwbuild.errors import FwbuildError
from fwbuild.jsonfile import read_json
from fwbuild.layout import compute_layout
from fwbuild.resolve import resolve
from fwbuild.targets import LAYOUT_KEYS, SCHEMA_FILES, TargetSet

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SHIPPED_DIR = shipped.targets_dir()
SHIPPED = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(SHIPPED_DIR.glob("*.json"))
    if path.name not in SCHEMA_FILES
}
SCHEMA = json.loads((SHIPPED_DIR / "schema.json").read_text(encoding="utf-8"))
TARGET_KEYS = sorted(SCHEMA["properties"])
NESTED_KEYS = ["start", "size", "sectors", "write_size", "erased_value", "name", "common", "debug", "cflags"]
BOARDS = sorted(n for n, data in SHIPPED.items() if data.get("public", True))
CHAINS = {board: TargetSet().chain(board) for board in BOARDS}


# -- what goes into a config file ---------------------------------------------------------------
def numbers() -> st.SearchStrategy[Any]:
    """Numbers as configs write them, and as they should not."""
    ints = st.integers(min_value=-(2**70), max_value=2**70)
    boundary = st.sampled_from([0, 1, 3, 16, 511, 512, 513, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**64])
    as_text = st.one_of(ints, boundary).map(lambda n: hex(n) if n >= 0 else str(n))
    term = st.one_of(as_text, st.sampled_from(["(1024*1024)", "0x8000+0x200", "1<<20", "(3/2)", "4//0"]))
    expressions = st.lists(term, min_size=1, max_size=6).flatmap(
        lambda terms: st.lists(st.sampled_from(list("+-*/%") + ["<<", ">>", "//"]), min_size=len(terms) - 1,
                               max_size=len(terms) - 1).map(
            lambda ops: "".join(t + o for t, o in zip(terms, ops + [""]))
        )
    )  # fmt: skip
    silly = st.sampled_from(
        ["", " ", "0x", "1e3", "1.5", "9" * 300, "(" * 60 + "1" + ")" * 60, "0b102", "__x__"]
    )
    return st.one_of(ints, boundary, as_text, expressions, silly, st.text(max_size=12))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        numbers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    )
    keys = st.one_of(st.sampled_from(TARGET_KEYS + NESTED_KEYS), st.text(max_size=6))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
        max_leaves=max_leaves,
    )


def plausible_numbers() -> st.SearchStrategy[Any]:
    """Mostly what the schema lets through (so that the value checks after it run), now and
    then anything."""
    small = st.one_of(
        st.integers(min_value=0, max_value=2**33),
        st.sampled_from([0, 16, 512, 513, 0x1000, 0x4000, 0x08000000, 0x20000000, 2**32 - 0x1000, 2**32]),
    )
    expression = small.map(lambda n: f"({n:#x}+0x200)")
    return st.one_of(small, small.map(hex), small, small.map(hex), expression, numbers())


def target_documents() -> st.SearchStrategy[dict[str, Any]]:
    """Boards on a shipped family, with a few of the target file's keys set: most pass the
    schema, so that inheritance, the value checks and the layout run on them."""
    families = sorted(n for n, data in SHIPPED.items() if not data.get("public", True))
    parents = st.one_of(
        st.sampled_from(families),
        st.lists(st.sampled_from(sorted(SHIPPED)), min_size=1, max_size=3, unique=True),
    )
    flash = st.fixed_dictionaries(
        {},
        optional={
            "start": plausible_numbers(),
            "size": plausible_numbers(),
            "sectors": st.lists(
                st.lists(plausible_numbers(), min_size=2, max_size=2), min_size=1, max_size=4
            ),
            "write_size": plausible_numbers(),
            "erased_value": st.integers(min_value=0, max_value=255),
        },
    )
    bank = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["A", "B", "SRAM"]),
            "start": plausible_numbers(),
            "size": plausible_numbers(),
        }
    )
    keys = {
        "core": st.sampled_from(["cortex-m0", "cortex-m4", "cortex-m7f", "cortex-m33f", "cortex-m55"]),
        "fpu": st.sampled_from(["none", "single", "double"]),
        "float_abi": st.sampled_from(["hard", "softfp"]),
        "vtor": st.booleans(),
        "flash": flash,
        "ram": st.lists(bank, min_size=1, max_size=3),
        "nvm_banks": st.lists(bank, max_size=2),
        "main_ram": st.sampled_from(["A", "B", "SRAM", "NONE"]),
        "vector_count": plausible_numbers(),
        "stack_size": plausible_numbers(),
        "heap_size": plausible_numbers(),
        "irq_handlers": st.lists(
            st.one_of(st.none(), st.sampled_from(["A_IRQ", "B_IRQ", "SysTick_Handler"]))
        ),
        "reserved": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.just("FCF"),
                    "offset": plausible_numbers(),
                    "bytes": st.sampled_from(["00", "ffff"]),
                }
            ),
            max_size=2,
        ),
        "profiles": st.dictionaries(
            st.sampled_from(["common", "debug", "release"]),
            st.dictionaries(
                st.sampled_from(["cflags", "ldflags"]), st.lists(st.text(min_size=1, max_size=4))
            ),
        ),
        **{
            key: plausible_numbers()
            for key in LAYOUT_KEYS
            if key not in ("header_format", "post_build_hooks")
        },
        "bootloader_img": st.sampled_from(["@bootloader", "boot.bin"]),
        "header_format": st.sampled_from(["mcuboot", "mbed-v2", "pelion-v3"]),
        "post_build_hooks": st.lists(
            st.sampled_from(["lpc-vector-checksum", "nope"]), max_size=2, unique=True
        ),
    }
    return st.fixed_dictionaries({"inherits": parents}, optional=keys)


def overrides() -> st.SearchStrategy[dict[str, Any]]:
    value = st.one_of(numbers(), st.sampled_from(["@bootloader", "mcuboot", "mbed-v2", "boot.bin", "x.hex"]))
    return st.dictionaries(
        st.sampled_from([*LAYOUT_KEYS, "pad_to_region_end"]), st.one_of(value, json_values(4)), max_size=5
    )


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A shipped board, and one file of its chain changed in one to three places."""
    board = draw(st.sampled_from(BOARDS))
    name = draw(st.sampled_from(CHAINS[board]))
    data = copy.deepcopy(SHIPPED[name])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(_paths(data))))
        action = draw(st.sampled_from(["delete", "number", "number", "value", "duplicate-list-item"]))
        data = _apply(data, path, action, draw)
    return board, name, data


def _paths(node: Any, prefix: tuple = ()) -> Any:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _apply(data: Any, path: tuple, action: str, draw: st.DrawFn) -> Any:
    if not path:
        return draw(json_values()) if action == "value" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "number":
        parent[last] = draw(plausible_numbers())
    elif action == "value":
        parent[last] = draw(json_values(6))
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    return data


# -- the property -------------------------------------------------------------------------------
def resolves_or_fails_cleanly(targets_dir: Path, name: str) -> None:
    (targets_dir / "boot.bin").write_bytes(bytes(16))  # bootloader_img: "boot.bin" finds a file
    try:
        target = TargetSet([targets_dir]).resolve(name)
        compute_layout(target, image_segments=lambda path, start: [(start, start + 0x1000)])
    except FwbuildError:
        pass


@FUZZ
@given(document=json_values(20))
def test_any_json_document_as_a_target_file(document):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "FUZZ.json").write_text(json.dumps(document))
        resolves_or_fails_cleanly(Path(tmp), "FUZZ")


@FUZZ
@given(document=target_documents())
def test_target_shaped_documents(document):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "FUZZ.json").write_text(json.dumps(document))
        resolves_or_fails_cleanly(Path(tmp), "FUZZ")


@FUZZ
@given(mutation=mutations())
def test_mutated_shipped_target_files(mutation):
    """The changed file replaces the shipped one of its name (a project's targets_dirs wins)
    and a board whose chain holds it is resolved."""
    board, name, data = mutation
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, f"{name}.json").write_text(json.dumps(data))
        resolves_or_fails_cleanly(Path(tmp), board)


@FUZZ
@given(
    project=st.fixed_dictionaries(
        {},
        optional={
            "name": json_values(2),
            "version": st.one_of(st.sampled_from(["1.2.3", "1.2.3+4", "256.0.0", "1.2"]), json_values(2)),
            "signing": st.fixed_dictionaries(
                {},
                optional={
                    "security_counter": st.one_of(numbers(), st.sampled_from(["auto", None])),
                    "custom_tlvs": st.dictionaries(
                        st.one_of(numbers(), st.text(max_size=4)).map(str), st.text(max_size=6)
                    ),
                    "pad": json_values(1),
                },
            ),
            "target_overrides": st.dictionaries(
                st.sampled_from(["*", "K64F", "MCU_K64F", "NOPE"]), overrides(), max_size=3
            ),
            "extra": json_values(3),
        },
    )
)
def test_fuzzed_fwbuild_json(project):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "fwbuild.json").write_text(json.dumps(project))
        Path(tmp, "boot.bin").write_bytes(bytes(0x2000))
        with contextlib.suppress(FwbuildError):
            resolve(tmp, "K64F")


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(lambda t: t.encode("utf-16"))))
def test_any_bytes_as_a_config_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "FUZZ.json")
        path.write_bytes(b'{"description": "' + data + b'"}')
        with contextlib.suppress(FwbuildError):
            read_json(path)
        path.write_bytes(data)
        resolves_or_fails_cleanly(Path(tmp), "FUZZ")
