"""The Python steps of the pipeline: three-line adapters that read their nodes, call the
core and write their outputs atomically. Each is wrapped by ``action()``."""

from __future__ import annotations

import functools
from pathlib import Path

import SCons.Action
import SCons.Errors
import SCons.Node.Python

from fwbuild import steps
from fwbuild.errors import FwbuildError
from fwbuild.fileio import remove_quietly, write_atomic
from fwbuild.scons import memo


class _Step(functools.partial):
    """A Python build step whose signature is computed when a build first needs it.

    SCons signs a function action by walking its bytecode and constants when the action is
    made; for this tool's 17 steps that walk cost about 4 ms of every run, null builds
    included. A partial has no Python-level ``__call__`` for SCons to walk, so SCons asks
    ``get_contents`` instead, which answers with the core's code signature of the step.
    """

    def get_contents(self, target, source, env) -> bytes:
        if "_contents" not in self.__dict__:
            from fwbuild.codesig import code_signature

            # The adapter and the fwbuild.steps functions it calls, where the work is done.
            called = [getattr(steps, name, None) for name in self.func.__code__.co_names]
            core = [f for f in called if callable(f) and getattr(f, "__module__", "") == steps.__name__]
            self._contents = b" ".join([b"fwbuild step", *map(code_signature, [self.func, *core])])
        return self._contents


def action(function, comstr: str, **kw) -> SCons.Action.Action:
    return SCons.Action.Action(_Step(function), comstr, **kw)


class EnvContext:
    """What a step may ask of the project, answered by the environment's memo."""

    def __init__(self, env):
        self.env = env

    def resolved(self):
        return memo.resolved(self.env)

    def layout(self):
        return memo.layout(self.env)

    def signer(self):
        return memo.signer(self.env)


def _paths(nodes) -> list[str]:
    return [node.abspath for node in nodes]


def _checked(function, *args):
    """A core step; its error stops the build as one line."""
    try:
        return function(*args)
    except FwbuildError as exc:
        raise memo.user_error(exc) from None


def write_value(target, source, env):
    """Write the text of a Value node (layout.json, fwbuild_layout.h) atomically."""
    steps.write_text(target[0].abspath, source[0].get_text_contents())


def render_startup_code(target, source, env):
    _checked(steps.render_startup, target[0].abspath, source[1].get_text_contents())


def trusted_keys_action(target, source, env):
    """fwbuild_keys.c and fwbuild_keys.h from fwbuild.json's trusted and revoked keys."""
    _checked(steps.trusted_keys, EnvContext(env), target[0].abspath, target[1].abspath)


def check_elf(target, source, env):
    """Check where the sections landed, then move the linked program into place."""
    paths = _paths(target)
    _checked(steps.check_elf, EnvContext(env), paths[0], env["FW_PROGRAM_REGION"], paths[1:])


def objcopy(target, source, env):
    """The program's .bin, patched by the link-stage hooks (the .hex is made from it)."""
    nodes = target + source

    def repo_hook(hook):
        return lambda data, out: _run_repo_link_hook(env, hook, data, out, nodes)

    repo_hooks = [repo_hook(hook) for hook in env.get("FW_REPO_LINK_HOOKS") or []]
    try:
        steps.objcopy(
            env.subst("$FW_OBJCOPY"),
            source[0].abspath,
            target[0].abspath,
            env.get("FW_LINK_HOOKS") or [],
            env["ENV"],
            repo_hooks,
        )
    except FwbuildError as exc:
        raise SCons.Errors.UserError(str(exc)) from None


def _run_repo_link_hook(env, hook, data, out, nodes):
    """Hand the program's .bin to a repo hook as a file; its output is the new .bin."""
    from fwbuild.hooks import run_repo_hook

    given = out.with_name(f".{out.name}.{hook.name}.in")
    patched = out.with_name(f".{out.name}.{hook.name}.out")
    try:
        write_atomic(given, data)
        run_repo_hook(hook, _hook_context(env, hook, given, nodes), patched)
        return patched.read_bytes()
    except FwbuildError as exc:
        raise memo.user_error(exc) from None
    finally:
        remove_quietly(given, patched)


def _hook_context(env, hook, image, nodes):
    from fwbuild.hooks import HookContext

    build = Path(env.Dir("$FW_BUILD_DIR").abspath)
    outputs = {}
    for node in nodes:
        path = Path(node.abspath)
        if path.is_relative_to(build) and not isinstance(node, SCons.Node.Python.Value):
            outputs[path.relative_to(build).as_posix()] = path
    return HookContext(
        hook=hook.name,
        stage=hook.stage,
        target=env["FW_TARGET"],
        layout=memo.layout(env),
        build_dir=build,
        image=Path(image),
        output=None,
        outputs=dict(sorted(outputs.items())),
    )


def bin_to_hex(target, source, env):
    """The .hex at the program's link address, from the .bin after link-stage hooks."""
    steps.bin_to_hex(source[0].abspath, target[0].abspath, env["FW_PROGRAM_START"])


def image_hook_action(target, source, env):
    try:
        steps.image_hook(env["FW_IMAGE_HOOK"], source[0].abspath, target[0].abspath)
    except FwbuildError as exc:
        raise SCons.Errors.UserError(str(exc)) from None


def repo_image_hook_action(target, source, env):
    """A repo's image-stage hook: input the final image, output its own file (or a stamp)."""
    from fwbuild.hooks import run_repo_hook

    hook = env["FW_REPO_HOOK"]
    ctx = _hook_context(env, hook, source[0].abspath, source)
    try:
        if hook.output:
            run_repo_hook(hook, ctx, Path(target[0].abspath))
        else:
            remove_quietly(target[0].abspath)
            run_repo_hook(hook, ctx, None)
            write_atomic(target[0].abspath, f"{hook.name} ran on {source[0].name}\n")
    except FwbuildError as exc:
        raise memo.user_error(exc) from None


def memory_map_action(target, source, env):
    """The region summary (printed), memory-map.svg and size-report.json (steps.memory_map)."""
    steps.memory_map(
        EnvContext(env), env["FW_MEMMAP_ROLES"], _paths(source[1:]), target[0].abspath, target[1].abspath
    )


def combined_elf_action(target, source, env):
    """combined.elf for GDB (steps.combined_elf)."""
    try:
        steps.combined_elf(
            EnvContext(env),
            env.subst("$FW_OBJCOPY"),
            source[0].abspath,
            env["FW_COMBINED_PARTS"],
            _paths(source[1:]),
            target[0].abspath,
        )
    except FwbuildError as exc:
        raise SCons.Errors.UserError(str(exc)) from None


def build_info_action(target, source, env):
    from fwbuild.scons import toolchain

    build = env.Dir("$FW_BUILD_DIR").abspath
    meta = source[0].get_text_contents()
    steps.build_info(build, _paths(source[1:]), meta, toolchain.versions(env), target[0].abspath)


def slot_action(target, source, env):
    # SCons removes the outputs before the step, and fwbuild.scons.folders everything
    # downstream of it when it fails: no earlier image survives a failed signing.
    _checked(
        steps.slot_image,
        EnvContext(env),
        source[0].abspath,
        _paths(target),
        env["FW_SLOT_REGION"],
        env.get("FW_EPOCH"),
    )


def post_build_action(target, source, env):
    steps.post_build(EnvContext(env), source[0].abspath, target[0].abspath)


def combine_action(target, source, env):
    regions = env["FW_COMBINE_REGIONS"]
    inputs = _paths(source[: len(regions)])
    _checked(steps.combine, EnvContext(env), regions, inputs, target[0].abspath, target[1].abspath)
