"""The always-run aliases: ``scons run`` (boot in the target's emulator), ``scons flash``
(the target's programmer) and ``scons debug`` (the emulator halted for GDB)."""

from __future__ import annotations

import shlex
import subprocess

import SCons.Errors

from fwbuild.scons import actions, memo


def _tool_alias(env, name, sources, action, comstr, available, **overrides):
    """An always-run alias (run, flash, debug) for this target. With several targets only
    those that have the tool join it; a single target always does, so that asking for a
    tool it lacks gives the action's clear error."""
    if available or len(env.get("FW_ALL_TARGETS", [])) <= 1:
        alias = env.Alias(name, sources, actions.action(action, comstr), **overrides)
        env.AlwaysBuild(alias)


def flash_alias(env, image, address):
    """``scons flash``: build, then hand ``image`` and its start address to the target's
    programmer (``programmer=`` on the command line overrides the target's)."""
    command = env.get("FW_PROGRAMMER") or memo.facts(env)["programmer"]
    _tool_alias(
        env, "flash", image, _flash_action, "FLASH $SOURCE", command,
        FW_FLASH_COMMAND=command or "", FW_FLASH_ADDRESS=address,
    )  # fmt: skip


def _flash_action(target, source, env):
    from fwbuild.values import hex32

    command = env["FW_FLASH_COMMAND"]
    if not command:
        raise SCons.Errors.UserError(
            f'{env["FW_TARGET"]} declares no programmer; add "programmer" to its target file '
            '(e.g. "pyocd flash --target <chip> {image}") or pass programmer="...{image}..."'
        )
    line = command.replace("{image}", shlex.quote(source[0].abspath)).replace(
        "{address}", hex32(env["FW_FLASH_ADDRESS"])
    )
    status = subprocess.run(line, shell=True, stdin=subprocess.DEVNULL).returncode
    if status:
        raise SCons.Errors.UserError(f"the programmer exited with status {status} ({line})")


def debug_alias(env, image, elf):
    """``scons debug``: QEMU halted with its GDB server on ``gdb_port``; attach with
    ``gdb-multiarch combined.elf -ex 'target remote :PORT'``."""
    emulator = memo.facts(env)["emulator"]
    _tool_alias(env, "debug", [image, elf], _debug_action, "DEBUG ${SOURCES[0]}", emulator)


def _emulator(env, purpose, instead):
    facts = memo.facts(env)
    if not facts["emulator"]:
        raise SCons.Errors.UserError(
            f"{facts['target']} declares no emulator, so `scons {purpose}` cannot start one; "
            f'{instead}, or use a target with an "emulator" command (MPS2_AN385 runs under QEMU)'
        )
    return facts["emulator"]


def _debug_action(target, source, env):
    command = _emulator(env, "debug", "attach your probe's GDB server (pyocd gdbserver, openocd) instead")
    port = int(env.get("FW_GDB_PORT") or 1234)
    line = command.replace("{image}", shlex.quote(source[0].abspath)) + f" -gdb tcp:127.0.0.1:{port} -S"
    print(
        f"QEMU is halted, its GDB server on port {port}; in another terminal:\n"
        f"  gdb-multiarch {source[1].path} -ex 'target remote :{port}'",
        flush=True,
    )
    status = subprocess.run(line, shell=True, stdin=subprocess.DEVNULL).returncode
    if status:
        raise SCons.Errors.UserError(f"the emulator exited with status {status} ({line})")


def run_alias(env, image):
    """``scons run``: build, then boot ``image`` in the target's emulator and show its console.
    With several targets, only those with an emulator join the alias."""
    _tool_alias(env, "run", image, _run_action, "RUN $SOURCE", memo.facts(env)["emulator"])


def _run_action(target, source, env):
    command = _emulator(env, "run", "flash it to a board instead")
    line = command.replace("{image}", shlex.quote(source[0].abspath))
    timeout = int(env.get("FW_RUN_TIMEOUT", 30))
    try:
        status = subprocess.run(line, shell=True, timeout=timeout, stdin=subprocess.DEVNULL).returncode
    except subprocess.TimeoutExpired:
        raise SCons.Errors.UserError(
            f"the firmware was still running after {timeout} s; stopped it"
        ) from None
    if status:
        raise SCons.Errors.UserError(f"the firmware exited with status {status} ({line})")
