"""Inheritance resolves each file once, without recursion: time grows with the number of
files, not with the number of paths through them, and a chain deeper than the limit is
one clear error naming where it starts."""

from __future__ import annotations

import time

import pytest

from fwbuild import targets as targets_module
from fwbuild.errors import ConfigError
from fwbuild.targets import MAX_INHERITANCE_DEPTH, TargetSet

BASE = {
    "public": False,
    "core": "cortex-m4",
    "fpu": "none",
    "flash": {"start": 0, "size": "0x100000", "sectors": [[0, "0x1000"]]},
    "ram": [{"name": "SRAM", "start": "0x20000000", "size": "0x10000"}],
    "vector_count": 32,
}


def diamond_ladder(ws, levels: int) -> None:
    """TOP inherits [A0, B0]; Ai and Bi both inherit [Ai+1, Bi+1]: 2**levels paths."""
    ws.target("BASE", BASE)
    for i in range(levels):
        parents = [f"A{i + 1}", f"B{i + 1}"] if i + 1 < levels else ["BASE"]
        ws.target(f"A{i}", {"public": False, "inherits": parents, "macros": [f"A{i}"]})
        ws.target(f"B{i}", {"public": False, "inherits": parents, "stack_size": 0x100 + i})
    ws.target("TOP", {"inherits": ["A0", "B0"]})


def recursive_chain(targets: TargetSet, name: str) -> list[str]:
    """The order as the old recursive walk gave it (every path walked): the reference."""
    order: list[str] = []

    def visit(current: str) -> None:
        if current not in order:
            order.append(current)
        parents = targets.raw(current).get("inherits", [])
        for parent in [parents] if isinstance(parents, str) else parents:
            visit(parent)

    visit(name)
    return order


def test_a_30_level_diamond_ladder_resolves_in_well_under_a_second(ws):
    diamond_ladder(ws, 30)
    started = time.perf_counter()
    target = TargetSet([ws.targets_dir]).resolve("TOP")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{elapsed:.2f} s"
    assert len(target.chain) == 2 * 30 + 2
    # depth first, each file where the walk first meets it: A0's side wins over B0's
    assert target.chain[:4] == ("TOP", "A0", "A1", "A2")
    assert target.macros == ("A0",) and target.stack_size == 0x100 + 29


def test_the_order_is_the_depth_first_order_of_before(ws):
    diamond_ladder(ws, 8)
    ws.target("X", {"inherits": ["B3", "A5", "BASE"]})
    targets = TargetSet([ws.targets_dir])
    for name in ("TOP", "A0", "B4", "X"):
        assert targets.chain(name) == recursive_chain(targets, name)


def test_each_file_is_read_once(ws, monkeypatch):
    diamond_ladder(ws, 20)
    reads = []
    real = targets_module.read_json
    monkeypatch.setattr(targets_module, "read_json", lambda path: reads.append(path.stem) or real(path))
    TargetSet([ws.targets_dir]).resolve("TOP")
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 2 * 20 + 2


def chain_of_files(ws, count: int) -> None:
    ws.target("BASE", BASE)
    for i in range(count):
        ws.target(f"C{i}", {"inherits": f"C{i + 1}" if i + 1 < count else "BASE"})


def test_a_chain_of_1500_files_is_one_clear_error(ws, monkeypatch):
    chain_of_files(ws, 1500)
    reads = []
    real = targets_module.read_json
    monkeypatch.setattr(targets_module, "read_json", lambda path: reads.append(path) or real(path))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        TargetSet([ws.targets_dir]).resolve("C0")
    assert time.perf_counter() - started < 2
    message = str(info.value)
    assert "C0.json: inherits: the inheritance chain from 'C0' is more than 64 levels deep" in message
    assert "C0 -> C1 -> C2 -> C3 -> ... (57 more) -> C61 -> C62 -> C63 -> C64" in message
    assert len(message) < 400
    assert len(reads) <= MAX_INHERITANCE_DEPTH + 1  # stops at the limit, not at the end


def test_the_limit_itself_resolves(ws):
    chain_of_files(ws, MAX_INHERITANCE_DEPTH - 1)  # C0 .. C62, then BASE: 64 levels
    target = TargetSet([ws.targets_dir]).resolve("C0")
    assert len(target.chain) == MAX_INHERITANCE_DEPTH
    chain_of_files(ws, MAX_INHERITANCE_DEPTH)  # one more level
    with pytest.raises(ConfigError, match="more than 64 levels deep"):
        TargetSet([ws.targets_dir]).resolve("C0")


def test_a_long_cycle_is_named_shortly(ws):
    for i in range(200):
        ws.target(f"C{i}", {"inherits": f"C{(i + 1) % 50}"})
    with pytest.raises(ConfigError, match=r"inheritance cycle C0 -> C1 .* -> C49 -> C0; remove one") as info:
        TargetSet([ws.targets_dir]).resolve("C0")
    assert len(str(info.value)) < 400


def test_listing_a_folder_of_1500_chained_files_does_not_recurse(ws):
    chain_of_files(ws, 1500)
    targets = TargetSet([ws.targets_dir])
    assert "C0" in targets.public_names()
    with pytest.raises(ConfigError, match="more than 64 levels"):
        targets.resolve("C1400")  # its own chain is 100 files long
    assert targets.resolve("C1450").chain[-1] == "BASE"
