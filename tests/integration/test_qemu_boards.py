"""The QEMU boards beyond MPS2_AN385: MPS2_AN386 (Cortex-M4F), MPS2_AN500 (Cortex-M7, double
FPU), MPS2_AN505 (Cortex-M33, Secure state), MPS3_AN547 (Cortex-M55) and NETDUINO_PLUS_2
(STM32F405, flash at 0x08000000). Each builds the example (bootloader + signed application,
its one-stage layout in example_project/fwbuild.json) once, and `scons target=NAME run` boots
that build in QEMU through the target's own emulator command."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from dataclasses import dataclass

import pytest

from fwbuild.targets import TargetSet


@dataclass(frozen=True)
class Board:
    machine: str
    core: str
    cpu_arch: str  # readelf's Tag_CPU_arch
    fpu: str  # "single" | "double"
    flash_start: int
    main_ram: tuple[int, int]  # start, size
    vectors: int
    secure: bool = False  # Armv8-M: resets Secure, so code and data sit at the Secure aliases


MPS2 = {"flash_start": 0, "main_ram": (0x20000000, 0x400000), "vectors": 16 + 32}
TZ = {"flash_start": 0x10000000, "secure": True}
BOARDS = {
    "MPS2_AN386": Board("mps2-an386", "cortex-m4", "v7E-M", "single", **MPS2),
    "MPS2_AN500": Board("mps2-an500", "cortex-m7", "v7E-M", "double", **MPS2),
    "MPS2_AN505": Board(
        "mps2-an505",
        "cortex-m33",
        "v8-M.mainline",
        "single",
        main_ram=(0x38000000, 0x400000),
        vectors=16 + 124,
        **TZ,
    ),
    "MPS3_AN547": Board(
        "mps3-an547",
        "cortex-m55",
        "v8.1-M.mainline",
        "double",
        main_ram=(0x30000000, 0x80000),
        vectors=16 + 128,
        **TZ,
    ),
    "NETDUINO_PLUS_2": Board(
        "netduinoplus2", "cortex-m4", "v7E-M", "single", 0x08000000, (0x20000000, 0x20000), vectors=16 + 82
    ),
}
each_board = pytest.mark.parametrize("target", list(BOARDS))


def qemu_memory(machine: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of what QEMU maps in the CPU's view (the Secure one on Armv8-M), from
    the monitor's `info mtree -f`; kind is "ram", "rom", "mpc" (a TrustZone memory protection
    controller in front of RAM) or "i/o"."""
    proc = subprocess.run(
        ["qemu-system-arm", "-M", machine, "-S", "-nographic", "-monitor", "stdio", "-serial", "none"],
        input="info mtree -f\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    views = proc.stdout.replace("\r", "").split("FlatView #")
    cpu = [v for v in views if 'AS "cpu-secure-memory-0"' in v] or [
        v for v in views if 'AS "cpu-memory-0"' in v
    ]
    assert cpu, f"no CPU address space in QEMU's memory tree:\n{proc.stdout}{proc.stderr}"
    found = []
    for start, end, kind, name in re.findall(
        r"^\s*([0-9a-f]{16})-([0-9a-f]{16}) \(prio -?\d+, ([a-z/]+)\): (.*)$", cpu[0], re.M
    ):
        kind = "mpc" if name.strip() == "tz-mpc-upstream" else kind
        found.append((int(start, 16), int(end, 16) + 1, kind))
    return found


def covered(ranges: list[tuple[int, int, str]], start: int, end: int, kinds: set[str]) -> bool:
    """[start, end) lies wholly in ranges of the given kinds."""
    for lo, hi, kind in sorted(ranges):
        if kind in kinds and lo <= start < hi:
            start = hi
            if start >= end:
                return True
    return False


# Banks the target keeps from the chip's reference manual that QEMU does not model.
NOT_IN_QEMU = {("NETDUINO_PLUS_2", "CCMRAM")}


@each_board
def test_memory_map_is_what_qemu_models(target):
    """Every byte of the target's flash is code memory in QEMU's machine, and every RAM bank
    is RAM there (or behind a TrustZone MPC, which lets Secure accesses through from reset)."""
    board = BOARDS[target]
    resolved = TargetSet().resolve(target)
    qemu = qemu_memory(board.machine)
    start, end = resolved.flash_start, resolved.flash_end
    assert covered(qemu, start, end, {"ram", "rom", "mpc"}), (hex(start), hex(end), qemu)
    for bank in resolved.ram:
        if (target, bank.name) not in NOT_IN_QEMU:
            assert covered(qemu, bank.start, bank.end, {"ram", "mpc"}), (bank, qemu)


def qemu_mvfr0(machine: str) -> int:
    """The emulated core's MVFR0 (Media and VFP Feature Register 0, 0xE000EF40), read through
    the monitor with the CPU halted at reset."""
    proc = subprocess.run(
        ["qemu-system-arm", "-M", machine, "-S", "-nographic", "-monitor", "stdio", "-serial", "none"],
        input="x /1wx 0xE000EF40\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    found = re.search(r"e000ef40: (0x[0-9a-f]{8})", proc.stdout)
    assert found, f"MVFR0 not shown by QEMU's monitor:\n{proc.stdout}{proc.stderr}"
    return int(found.group(1), 16)


@each_board
def test_fpu_is_the_emulated_cores(target):
    """The target's fpu is what QEMU's core has: MVFR0's single- and double-precision fields
    (bits 7:4 and 11:8, 2 = supported). Code built for a double-precision FPU would fault on
    a single-precision one."""
    board = BOARDS[target]
    mvfr0 = qemu_mvfr0(board.machine)
    assert (mvfr0 >> 4) & 0xF == 2, f"{board.machine}: MVFR0 {mvfr0:#010x} has no single precision"
    has_double = (mvfr0 >> 8) & 0xF == 2
    assert has_double == (board.fpu == "double"), (
        f"{board.machine}: MVFR0 {mvfr0:#010x}, target fpu {board.fpu}"
    )
    assert TargetSet().resolve(target).fpu == board.fpu


def readelf_attributes(path) -> dict[str, str]:
    """`arm-none-eabi-readelf -A`: the build attributes the compiler and linker recorded."""
    out = subprocess.run(
        ["arm-none-eabi-readelf", "-A", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"^\s*(Tag_\w+): (.*)$", out, re.M))


@each_board
def test_layout_and_placement(fw, example_build, target):
    """The build succeeding is the ELF placement check; here the layout it checked against
    starts where the board's code memory does, and both programs' vectors point into it."""
    board = BOARDS[target]
    build = example_build(target)
    layout = build.layout()
    assert layout["target"] == target and layout["mode"] == "managed"
    assert layout["flash"]["start"] == board.flash_start
    names = [r["name"] for r in layout["regions"]]
    assert names == ["bootloader", "header", "application", "candidate"], names
    assert build.region("bootloader")["start"] == board.flash_start
    assert build.region("application")["start"] == board.flash_start + 0x8400
    ram_start, ram_size = board.main_ram
    banks = [(b["start"], b["size"]) for b in layout["ram"]]
    assert board.main_ram in banks, banks

    bootloader = build.dir / "bootloader" / "bootloader.elf"
    for elf, region in ((bootloader, "bootloader"), (build.elf, "application")):
        start = build.region(region)["start"]
        end = start + build.region(region)["size"]
        loads = [s for s in fw.load_segments(elf) if s.filesz]
        first = min(loads, key=lambda s: s.paddr)
        assert first.paddr == start, f"{elf.name}: first PT_LOAD at {first.paddr:#x}, {region} at {start:#x}"
        sp, reset = struct.unpack("<II", first.data[:8])
        assert ram_start < sp <= ram_start + ram_size, f"{elf.name}: initial SP {sp:#x} not in the main RAM"
        assert reset & 1 and start <= reset & ~1 < end, f"{elf.name}: reset vector {reset:#x}"
        if board.secure:
            # Bit 28 set: the Secure alias. The core resets Secure; code it runs must be there.
            for seg in fw.load_segments(elf):
                assert seg.paddr & 0x10000000 and seg.vaddr & 0x10000000, (
                    f"{elf.name}: segment at {seg.vaddr:#x} (load {seg.paddr:#x}) is not at a Secure alias"
                )


@each_board
def test_fpu_in_the_build(example_build, target):
    """Both programs are built for the board's FPU, with floating-point arguments in FPU
    registers: a single-precision FPU only gets single-precision code."""
    board = BOARDS[target]
    build = example_build(target)
    for elf in (build.elf, build.dir / "bootloader" / "bootloader.elf"):
        tags = readelf_attributes(elf)
        assert tags.get("Tag_CPU_arch") == board.cpu_arch, f"{elf.name}: {tags}"
        assert "Tag_FP_arch" in tags, f"{elf.name} is built without an FPU: {tags}"
        assert tags.get("Tag_ABI_VFP_args") == "VFP registers", f"{elf.name}: {tags}"
        single_only = tags.get("Tag_ABI_HardFP_use") == "SP only"
        assert single_only == (board.fpu == "single"), f"{elf.name}: FPU {board.fpu} but {tags}"


@each_board
def test_run_boots_in_qemu(fw, example_build, target):
    """`scons target=NAME run` on the same build: the bootloader checks the signed application
    and hands over; QEMU's exit status is the application's (0)."""
    build = example_build(target)
    run = fw.run_scons(build.project, target, "run")
    assert run.returncode == 0, run.describe()
    lines = run.output.splitlines()
    expected = ["boot: active 1.0.0 ok", f"fwbuild example app 1.0.0 on {target}"]
    found = [line for line in lines if line in expected]
    assert found == expected, run.describe()
    assert f"RUN build/{target}/combined.bin" in fw.log_lines(run.stdout), run.describe()


@each_board
def test_emulator_boots_at_the_code_memory(target):
    """QEMU's -kernel puts a raw image at 0: right where the code memory is at 0 (MPS2's
    SSRAM1); elsewhere the target's command loads it where the layout starts."""
    board = BOARDS[target]
    emulator = TargetSet().resolve(target).emulator
    assert f"-M {board.machine} " in emulator, emulator
    if board.flash_start == 0:
        assert emulator.endswith("-kernel {image}"), emulator
    else:
        loader = f"-device loader,file={{image}},addr={board.flash_start:#010x},force-raw=on"
        assert loader in emulator, emulator


@each_board
def test_cli_knows_the_board(fw, target):
    board = BOARDS[target]
    listed = fw.run_fwbuild("targets")
    assert listed.returncode == 0, listed.describe()
    row = next((line for line in listed.stdout.splitlines() if line.split()[:1] == [target]), None)
    assert row, listed.describe()
    assert row.split()[1].startswith(board.core), row

    checked = fw.run_fwbuild("check-target", target)
    assert checked.returncode == 0, checked.describe()
    assert f"{board.vectors} vectors" in checked.stdout, checked.describe()
    assert f"{board.fpu}-precision FPU" in checked.stdout, checked.describe()
    assert f"flash {board.flash_start:#010x}" in checked.stdout, checked.describe()

    shown = fw.run_fwbuild("layout", target, "--project", fw.EXAMPLE, "--json")
    assert shown.returncode == 0, shown.describe()
    layout = json.loads(shown.stdout)
    assert fw.region_of(layout, "bootloader")["start"] == board.flash_start, layout
    assert fw.region_of(layout, "application")["start"] == board.flash_start + 0x8400, layout
