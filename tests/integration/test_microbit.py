"""MICROBIT (nRF51822: Cortex-M0 without VTOR) under QEMU's microbit machine.

The example's bootloader and signed application build once and boot with `scons
target=MICROBIT run`. The core always takes its exceptions from the bootloader's table at
0x0, which forwards them through the word the layout reserves (VECTOR_FORWARD_ADDR); an
application of tests/projects/no_vtor raises an SVC, a PendSV and an interrupt and shows
they reach its own handlers that way.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

TARGET = "MICROBIT"
FORWARD_WORD = 0x20000000
APPLICATION = 0x8400
VECTORS = 16 + 32
RESERVED_ENTRIES = {8, 9, 10, 13}  # left 0 by common/startup.c: no exception uses them
NO_VTOR_APP = Path(__file__).resolve().parents[1] / "projects" / "no_vtor" / "app" / "main.c"


def symbols(elf: Path) -> dict[str, int]:
    with elf.open("rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name}


def allocated_sections(elf: Path) -> list[tuple[str, int, int]]:
    """(name, start, end) of every section that occupies memory."""
    with elf.open("rb") as stream:
        return [
            (s.name, s["sh_addr"], s["sh_addr"] + s["sh_size"])
            for s in ELFFile(stream).iter_sections()
            if s["sh_flags"] & 0x2 and s["sh_size"]  # SHF_ALLOC
        ]


def vector_table(binary: bytes) -> list[int]:
    return list(struct.unpack_from(f"<{VECTORS}I", binary))


@pytest.fixture(scope="session")
def forwarding_build(tmp_path_factory: pytest.TempPathFactory, fw: Any) -> Iterator[Callable[[str], Any]]:
    """``forwarding_build(kind)``: tests/projects/no_vtor's application, built and run once
    (in the test that first asks: a missing tool fails a test, never a fixture) in a copy of
    the example ("example": its own start-up code) or in a repo from `fwbuild new` ("new":
    fwbuild's default start-up code, and the example's bootloader)."""
    cache: dict[str, Any] = {}

    def get(kind: str) -> Any:
        if kind not in cache:
            project = tmp_path_factory.mktemp(f"no-vtor-{kind}") / "project"
            if kind == "example":
                fw.copy_project(fw.EXAMPLE, project)
            else:
                made = fw.run_fwbuild("new", project, "--target", TARGET)
                assert made.returncode == 0, made.describe()
            shutil.copy(NO_VTOR_APP, project / "app" / "main.c")
            cache[kind] = fw.Build(project, TARGET, fw.run_scons(project, TARGET, "run"))
        return cache[kind]

    yield get


def test_qemu_maps_the_target_memory():
    """The target's flash and RAM are what QEMU's microbit machine maps (its memory tree)."""
    proc = subprocess.run(
        ["qemu-system-arm", "-M", "microbit", "-S", "-nographic", "-monitor", "stdio", "-serial", "none"],
        input="info mtree -f\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    tree = proc.stdout.replace("\r", "")
    found = {
        name: (int(start, 16), int(end, 16) + 1, kind)
        for start, end, kind, name in re.findall(
            r"^\s*([0-9a-f]{16})-([0-9a-f]{16}) \(prio -?\d+, ([a-z/]+)\): (\S+)", tree, re.M
        )
    }
    assert found.get("nrf51_soc.flash") == (0, 0x40000, "romd"), tree
    assert found.get("nrf51.sram") == (0x20000000, 0x20004000, "ram"), tree
    assert found.get("nrf51_soc.uicr", (0,))[0] == 0x10001000, tree


def test_scons_run_boots_the_bootloader_and_the_application(fw, example_build):
    build = example_build(TARGET)
    result = fw.run_scons(build.project, TARGET, "profile=debug", "run")
    assert result.returncode == 0, result.describe()
    lines = fw.log_lines(result.output)
    assert "boot: active 1.0.0 ok" in lines, result.describe()
    assert f"fwbuild example app 1.0.0 on {TARGET}" in lines, result.describe()
    assert lines.index("boot: active 1.0.0 ok") < lines.index(f"fwbuild example app 1.0.0 on {TARGET}")


def test_the_layout_reserves_the_forwarding_word(example_build):
    build = example_build(TARGET)
    assert build.region("bootloader") == {"name": "bootloader", "start": 0, "size": 0x8000}
    assert build.region("application")["start"] == APPLICATION
    assert build.layout()["vector_forward"] == {"ram": "RAM", "start": FORWARD_WORD, "size": 8}
    header = (build.dir / "fwbuild_layout.h").read_text()
    assert f"#define VECTOR_FORWARD_ADDR 0x{FORWARD_WORD:08X}u" in header
    for script in (build.dir / "app.ld", build.dir / "bootloader" / "bootloader.ld"):
        assert "RAM (rwx) : ORIGIN = 0x20000008, LENGTH = 0x00003FF8" in script.read_text(), script
    for elf in (build.elf, build.dir / "bootloader" / "bootloader.elf"):
        over = [s for s in allocated_sections(elf) if s[1] < FORWARD_WORD + 8 and s[2] > FORWARD_WORD]
        assert over == [], f"{elf.name}: {over} cover the forwarding word"


def test_the_bootloader_table_forwards_and_the_application_table_does_not(example_build):
    build = example_build(TARGET)
    boot_elf = build.dir / "bootloader" / "bootloader.elf"
    forwarder = symbols(boot_elf)["forward_exception"]
    boot = (build.dir / "bootloader" / "bootloader.bin").read_bytes()
    table = vector_table(boot)
    assert table[1] == symbols(boot_elf)["Reset_Handler"] | 1
    for entry in range(2, VECTORS):
        expected = 0 if entry in RESERVED_ENTRIES else forwarder | 1
        assert table[entry] == expected, f"bootloader vector {entry}: {table[entry]:#x}"
    # The bootloader never writes VTOR, which an Armv6-M core does not have.
    assert struct.pack("<I", 0xE000ED08) not in boot
    # The application's table holds its own handlers: the forwarder is the bootloader's alone.
    app_symbols = symbols(build.elf)
    assert "forward_exception" not in app_symbols
    app_table = vector_table((build.dir / "app.bin").read_bytes())
    assert app_table[15] == app_symbols["SysTick_Handler"] | 1
    assert app_table[1] == app_symbols["Reset_Handler"] | 1


@pytest.mark.parametrize("kind", ["example", "new"])
def test_exceptions_reach_the_application_through_the_bootloader(forwarding_build, kind):
    build = forwarding_build(kind)
    result = build.result
    assert result.returncode == 0, result.describe()
    text = result.output
    # The word holds the application's table; VTOR (which QEMU models even on its Cortex-M0)
    # is still 0, so the core took every exception from the bootloader's table.
    assert f"app: forwarding word holds {APPLICATION}, application at {APPLICATION}, VTOR 0\n" in text, (
        result.describe()
    )
    assert "app: SVC handled as exception 11\n" in text, result.describe()
    assert "app: SVC handler entered with EXC_RETURN in lr\n" in text, result.describe()
    assert "app: PendSV handled as exception 14\n" in text, result.describe()
    assert "app: SWI0 interrupt handled as exception 36\n" in text, result.describe()
