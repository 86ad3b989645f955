"""A ``build.ninja`` from edge records: the build statements, with the Python steps
around the links fused into two edges.

``fwbuild.scons.ninja`` turns SCons' declared graph into ``Edge`` records; this module
knows nothing of SCons. After a link, the pipeline is a run of short Python steps (the
``.bin``, the ``.hex``, signing, merging, the memory map, build-info), each a process
that spends most of its 60-120 ms importing and resolving the project. ``fuse_after_links``
makes them one edge, one process: ``python -m fwbuild.steps --when-stale FILE...`` runs
each step whose outputs are older than its inputs (the rule Ninja applies to an edge), so a
new key still signs and merges again without copying the ``.bin``. Likewise
``fuse_before_links`` renders every program's linker script in one process.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The descriptions of the fused edges; the steps that run print their own labels.
AFTER_LINKS = "python steps after linking"
BEFORE_LINKS = "linker scripts"


@dataclass(frozen=True)
class Edge:
    """One build statement. ``commands`` run in order from the top folder; an edge made
    of fwbuild steps alone has them as ``step_files`` instead (``commands`` empty). A step
    edge's ``depfile`` is written by its step (a linker script's included templates)."""

    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    implicit: tuple[str, ...] = ()
    order_only: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    step_files: tuple[str, ...] = ()
    description: str = ""
    depfile: str | None = None
    links: bool = False  # a link: what follows it is fused

    @property
    def steps_only(self) -> bool:
        return bool(self.step_files) and not self.commands


def fuse(edges: Sequence[Edge], depfile: str) -> list[Edge]:
    """``fuse_before_links`` then ``fuse_after_links``; ``depfile``: the fused linker
    scripts' depfile."""
    return fuse_after_links(fuse_before_links(edges, depfile))


def fuse_after_links(edges: Sequence[Edge]) -> list[Edge]:
    """The edges with every steps-only edge that follows a link (directly or through other
    such edges) made into one edge, in the order the steps must run. An edge that would
    then both feed the fused edge and need one of its outputs stays apart, with what
    follows it, so that the fused graph has no cycle."""
    producer = {out: edge for edge in edges for out in edge.outputs}
    chosen = [e for e in _after_links(edges, producer) if e.depfile is None]
    return _merged(edges, _without_cycles(chosen, edges, producer), producer, AFTER_LINKS, None)


def fuse_before_links(edges: Sequence[Edge], depfile: str) -> list[Edge]:
    """The steps whose outputs only links read (the linker scripts) made into one edge:
    one Python process renders every program's script (each one costs about 100 ms to
    start, import Jinja2 and render), and no compile waits for it. Its ``depfile`` is the
    union of theirs."""
    producer = {out: edge for edge in edges for out in edge.outputs}
    readers: dict[str, list[Edge]] = {}
    for edge in edges:
        for name in (*edge.inputs, *edge.implicit, *edge.order_only):
            readers.setdefault(name, []).append(edge)
    after = {id(e) for e in _after_links(edges, producer)}
    chosen = [
        e
        for e in edges
        if e.steps_only
        and id(e) not in after
        and all(r.links for out in e.outputs for r in readers.get(out, ()))
        and any(readers.get(out) for out in e.outputs)
    ]
    return _merged(edges, _without_cycles(chosen, edges, producer), producer, BEFORE_LINKS, depfile)


def _without_cycles(chosen: list[Edge], edges: Sequence[Edge], producer: dict[str, Edge]) -> list[Edge]:
    """``chosen`` less each edge that waits on an edge which waits on a chosen one."""
    kept = {id(e): e for e in chosen}
    while True:
        tainted = _downstream_of(kept, edges, producer)
        dropped = [
            edge
            for edge in kept.values()
            if any(id(d) in tainted and id(d) not in kept for d in _deps(edge, producer))
        ]
        if not dropped:
            return list(kept.values())
        for edge in dropped:
            del kept[id(edge)]


def _merged(
    edges: Sequence[Edge],
    chosen: list[Edge],
    producer: dict[str, Edge],
    description: str,
    depfile: str | None,
) -> list[Edge]:
    """``edges`` with ``chosen`` (two or more) as one edge where the first of them was."""
    if len(chosen) < 2:
        return list(edges)
    ids = {id(e) for e in chosen}
    members = _in_order([e for e in edges if id(e) in ids], producer)
    outputs = [out for e in members for out in e.outputs]
    made = set(outputs)
    inputs = _unique(i for e in members for i in e.inputs if i not in made)
    implicit = _unique(i for e in members for i in e.implicit if i not in made and i not in inputs)
    fused = Edge(
        outputs=tuple(outputs),
        inputs=tuple(inputs),
        implicit=tuple(implicit),
        order_only=tuple(_unique(o for e in members for o in e.order_only if o not in made)),
        step_files=tuple(f for e in members for f in e.step_files),
        description=description,
        depfile=depfile,
    )
    result: list[Edge] = []
    placed = False
    for edge in edges:  # the fused edge where its first step was
        if id(edge) not in ids:
            result.append(edge)
        elif not placed:
            result.append(fused)
            placed = True
    return result


def _deps(edge: Edge, producer: dict[str, Edge]) -> list[Edge]:
    return [producer[i] for i in (*edge.inputs, *edge.implicit, *edge.order_only) if i in producer]


def _after_links(edges: Sequence[Edge], producer: dict[str, Edge]) -> list[Edge]:
    follows: dict[int, bool] = {}

    def after(edge: Edge) -> bool:
        if id(edge) not in follows:
            follows[id(edge)] = False  # a cycle in the input graph fuses nothing
            follows[id(edge)] = any(d.links or (d.steps_only and after(d)) for d in _deps(edge, producer))
        return follows[id(edge)]

    return [e for e in edges if e.steps_only and after(e)]


def _downstream_of(chosen: dict[int, Edge], edges: Sequence[Edge], producer: dict[str, Edge]) -> set[int]:
    """The edges that need (through any path) an output of a chosen edge."""
    memo: dict[int, bool] = {}

    def needs(edge: Edge) -> bool:
        if id(edge) not in memo:
            memo[id(edge)] = False
            memo[id(edge)] = any(id(d) in chosen or needs(d) for d in _deps(edge, producer))
        return memo[id(edge)]

    return {id(e) for e in edges if needs(e)}


def _in_order(members: list[Edge], producer: dict[str, Edge]) -> list[Edge]:
    """A topological order of ``members``, stable otherwise."""
    ids = {id(e) for e in members}
    done: set[int] = set()
    order: list[Edge] = []

    def visit(edge: Edge) -> None:
        if id(edge) in done:
            return
        done.add(id(edge))
        for dep in _deps(edge, producer):
            if id(dep) in ids:
                visit(dep)
        order.append(edge)

    for edge in members:
        visit(edge)
    return order


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def escape(text: str) -> str:
    """A path or word in a build statement."""
    return text.replace("$", "$$").replace(" ", "$ ").replace(":", "$:")


def variable(text: str) -> str:
    """A variable's value on one line."""
    return text.replace("$", "$$").replace("\n", " ")


def command_of(edge: Edge, top: str, steps_command: str) -> str:
    """The shell line of an edge, run from the top folder. A fused edge's steps run only
    when stale; a single step runs whenever Ninja runs its edge."""
    commands = list(edge.commands)
    if len(edge.step_files) > 1:
        fused = "--when-stale " + (f"--depfile {shlex.quote(edge.depfile)} " if edge.depfile else "")
        commands.append(f"{steps_command} {fused}" + " ".join(shlex.quote(f) for f in edge.step_files))
    elif edge.step_files:
        commands.append(f"{steps_command} {shlex.quote(edge.step_files[0])}")
    return "cd " + shlex.quote(top) + " && " + " && ".join(commands)


def statement(edge: Edge, top: str, steps_command: str) -> str:
    rule = "cc" if edge.depfile else "run"
    implicit = sorted(set(edge.implicit) - set(edge.inputs))
    lines = [
        f"build {' '.join(map(escape, edge.outputs))}: {rule} {' '.join(map(escape, edge.inputs))}"
        + (f" | {' '.join(map(escape, implicit))}" if implicit else "")
        + (f" || {' '.join(map(escape, sorted(set(edge.order_only))))}" if edge.order_only else ""),
        f"  cmd = {variable(command_of(edge, top, steps_command))}",
        f"  desc = {variable(edge.description or edge.outputs[0])}",
    ]
    if edge.depfile:
        lines.append(f"  depfile = {escape(edge.depfile)}")
    return "\n".join(lines)
