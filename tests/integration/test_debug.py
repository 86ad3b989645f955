"""Debugging: combined.elf carries the bootloader and the application, and `scons debug`
starts QEMU halted for GDB. Debian's gdb-multiarch steps from the bootloader into the app."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_combined_elf_has_both_programs(fw, example_build):
    build = example_build("K64F")
    symbols = subprocess.run(
        ["arm-none-eabi-nm", str(build.dir / "combined.elf")], capture_output=True, text=True, check=True
    ).stdout
    names = {
        line.split()[-1]: int(line.split()[0], 16) for line in symbols.splitlines() if len(line.split()) == 3
    }
    assert names["main"] >= 0x8400  # the application's, with its debug information
    assert names["bootloader_main"] < 0x8000 and "bootloader_Reset_Handler" in names
    sections = subprocess.run(
        ["arm-none-eabi-objdump", "-h", str(build.dir / "combined.elf")], capture_output=True, text=True
    ).stdout
    assert ".bootloader" in sections and ".debug_info" in sections


def test_gdb_steps_from_the_bootloader_into_the_app(fw, tmp_path):
    if shutil.which("gdb-multiarch") is None:
        pytest.fail("missing gdb-multiarch: run ./setup.sh", pytrace=False)
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    assert fw.run_scons(project, "MPS2_AN385").returncode == 0
    port = free_port()
    scons = subprocess.Popen(
        [str(fw.SCONS), "-C", str(project), "target=MPS2_AN385", "debug", f"gdb_port={port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert scons.stdout is not None
        for line in scons.stdout:
            if "QEMU is halted" in line:
                break
        else:
            pytest.fail("scons debug never started QEMU")
        gdb = [
            "gdb-multiarch", "-q", "--batch", "-nx",
            "-ex", f"file {project}/build/MPS2_AN385/combined.elf",
            "-ex", "set tcp connect-timeout 10",
            "-ex", f"target remote 127.0.0.1:{port}",
            "-ex", "break bootloader_main", "-ex", "break main",
            "-ex", "continue", "-ex", "continue", "-ex", "kill",
        ]  # fmt: skip
        result = subprocess.run(gdb, capture_output=True, text=True, timeout=60)
        out = result.stdout + result.stderr
        first, second = out.find("in bootloader_main"), out.find("main () at app/main.c")
        assert 0 <= first < second, out  # the bootloader ran first, then handed over to the app
    finally:
        os.killpg(scons.pid, signal.SIGKILL)
        scons.wait(timeout=10)
        if scons.stdout:
            scons.stdout.close()
