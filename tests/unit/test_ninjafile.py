"""``fwbuild.ninjafile``: the Python steps after the links become one edge, and only those."""

from __future__ import annotations

from fwbuild.ninjafile import AFTER_LINKS, BEFORE_LINKS, Edge, command_of, fuse, fuse_after_links, statement


def link(out: str, *inputs: str) -> Edge:
    return Edge(outputs=(out,), inputs=inputs, commands=(f"ld -o {out}",), links=True)


def step(out: str, *inputs: str, implicit: tuple[str, ...] = ()) -> Edge:
    return Edge(outputs=(out,), inputs=inputs, implicit=implicit, step_files=(f".steps/{out}.json",))


def test_the_steps_after_two_links_become_one_edge_in_order():
    edges = [
        step("app.ld"),  # before the link: stays its own edge
        Edge(outputs=("main.o",), inputs=("main.c",), commands=("cc",), depfile=".main.o.d"),
        link("app.elf", "main.o", "app.ld"),
        link("boot.elf", "boot.o"),
        step("combined.bin", "boot.bin", "app-signed.bin"),  # listed before what it needs
        step("app.bin", "app.elf"),
        step("app-signed.bin", "app.bin", implicit=("key.pem",)),
        step("boot.bin", "boot.elf"),
    ]
    fused = fuse_after_links(edges)
    assert [e.outputs for e in fused[:4]] == [("app.ld",), ("main.o",), ("app.elf",), ("boot.elf",)]
    (after,) = fused[4:]
    assert after.description == AFTER_LINKS
    order = [f.split("/")[1] for f in after.step_files]
    assert order.index("app.bin.json") < order.index("app-signed.bin.json") < order.index("combined.bin.json")
    assert order.index("boot.bin.json") < order.index("combined.bin.json")
    assert sorted(after.outputs) == ["app-signed.bin", "app.bin", "boot.bin", "combined.bin"]
    # what the steps make among themselves is no input of the fused edge
    assert sorted(after.inputs) == ["app.elf", "boot.elf"] and after.implicit == ("key.pem",)
    line = command_of(after, "/top", "python -m fwbuild.steps")
    assert line.startswith("cd /top && python -m fwbuild.steps --when-stale .steps/")
    assert statement(after, "/top", "python -m fwbuild.steps").startswith("build ")


def test_one_step_after_a_link_stays_as_it_is():
    edges = [link("app.elf", "main.o"), step("app.bin", "app.elf"), step("app.ld")]
    assert fuse_after_links(edges) == edges
    assert "--when-stale" not in command_of(edges[1], "/top", "steps")


def test_a_step_behind_a_command_that_needs_the_fused_steps_stays_apart():
    """app.bin -> (a shell command) -> packed.bin -> packed.hex: fusing packed.hex with
    app.bin would make a cycle through the command, so it stays its own edge."""
    edges = [
        link("app.elf", "main.o"),
        step("app.bin", "app.elf"),
        step("app.hex", "app.bin"),
        Edge(outputs=("packed.bin",), inputs=("app.bin",), commands=("pack",)),
        step("packed.hex", "packed.bin"),
    ]
    fused = fuse_after_links(edges)
    after = [e for e in fused if e.description == AFTER_LINKS]
    assert len(after) == 1 and sorted(after[0].outputs) == ["app.bin", "app.hex"]
    assert [e.outputs for e in fused if e.description != AFTER_LINKS] == [
        ("app.elf",),
        ("packed.bin",),
        ("packed.hex",),
    ]


def test_the_linker_scripts_become_one_edge_that_only_links_wait_for():
    edges = [
        Edge(outputs=("app.ld",), inputs=("t.j2",), step_files=("s/app.json",), depfile="s/app.d"),
        Edge(outputs=("boot.ld",), inputs=("t.j2",), step_files=("s/boot.json",), depfile="s/boot.d"),
        step("startup.c"),  # a compile reads it: not fused, so that compile need not wait
        Edge(outputs=("startup.o",), inputs=("startup.c",), commands=("cc",), depfile=".startup.o.d"),
        link("app.elf", "startup.o", "app.ld"),
        link("boot.elf", "startup.o", "boot.ld"),
    ]
    fused = fuse(edges, "s/linker-scripts.d")
    scripts = [e for e in fused if e.description == BEFORE_LINKS]
    assert len(scripts) == 1 and scripts[0].outputs == ("app.ld", "boot.ld")
    assert scripts[0].depfile == "s/linker-scripts.d" and scripts[0].inputs == ("t.j2",)
    assert "--when-stale --depfile s/linker-scripts.d s/app.json s/boot.json" in command_of(
        scripts[0], "/top", "steps"
    )
    assert ("startup.c",) in [e.outputs for e in fused]
