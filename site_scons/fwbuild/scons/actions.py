"""The Python steps of the pipeline: three-line adapters that read their nodes, call the
core and write their outputs atomically. Each is wrapped by ``action()``."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import SCons.Action
import SCons.Errors
import SCons.Node.Python

from fwbuild.errors import FwbuildError
from fwbuild.fileio import output_mode, remove_quietly, write_atomic
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

            self._contents = b"fwbuild step " + code_signature(self.func)
        return self._contents


def action(function, comstr: str, **kw) -> SCons.Action.Action:
    return SCons.Action.Action(_Step(function), comstr, **kw)


def write_value(target, source, env):
    """Write the text of a Value node (layout.json, fwbuild_layout.h) atomically."""
    write_atomic(target[0].abspath, source[0].get_text_contents())


def render_startup_code(target, source, env):
    from fwbuild.startup import render_startup

    try:
        write_atomic(target[0].abspath, render_startup(json.loads(source[1].get_text_contents())))
    except FwbuildError as exc:
        raise memo.user_error(exc) from None


def trusted_keys_action(target, source, env):
    """fwbuild_keys.c and fwbuild_keys.h from fwbuild.json's trusted and revoked keys."""
    from fwbuild.trustedkeys import HEADER, keys_c

    try:
        text = keys_c(memo.resolved(env).project, memo.signer(env).key_path)
    except FwbuildError as exc:
        raise memo.user_error(exc) from None
    write_atomic(target[0].abspath, text)
    write_atomic(target[1].abspath, HEADER)


def check_elf(target, source, env):
    """Check where the sections landed, then move the linked program into place: the
    linker writes app.elf.tmp, so a killed link never leaves a truncated app.elf."""
    from fwbuild.elfcheck import check_elf_placement

    linked = target[0].abspath + ".tmp"
    try:
        check_elf_placement(linked, memo.layout(env), env["FW_PROGRAM_REGION"])
    except FwbuildError as exc:
        remove_quietly(linked, *(t.abspath for t in target))
        raise memo.user_error(exc) from None
    os.replace(linked, target[0].abspath)


def _run_hook(name, data, label):
    from fwbuild.hooks import REGISTRY

    try:
        return REGISTRY[name].run(data)
    except FwbuildError as exc:
        raise SCons.Errors.UserError(f"post-build hook {name} on {label}: {exc}") from None


def objcopy(target, source, env):
    """The program's .bin, patched by the link-stage hooks (the .hex is made from it)."""
    out = Path(target[0].abspath)
    tmp = out.with_name(f".{out.name}.tmp")
    cmd = [env.subst("$FW_OBJCOPY"), "-O", "binary", source[0].abspath, str(tmp)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env["ENV"])
    if result.returncode:
        remove_quietly(tmp)
        raise SCons.Errors.UserError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    hooks, repo_hooks = env.get("FW_LINK_HOOKS") or [], env.get("FW_REPO_LINK_HOOKS") or []
    if not hooks and not repo_hooks:
        os.chmod(tmp, output_mode())  # objcopy copies the ELF's execute bits: this is data
        os.replace(tmp, out)
        return
    data = tmp.read_bytes()
    remove_quietly(tmp)
    for name in hooks:
        data = _run_hook(name, data, out.name)
    for hook in repo_hooks:
        data = _run_repo_link_hook(env, hook, data, out, target + source)
    write_atomic(out, data)


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
    from fwbuild.image import Part, hex_chunks

    data = Path(source[0].abspath).read_bytes()
    write_atomic(target[0].abspath, hex_chunks([Part(source[0].name, env["FW_PROGRAM_START"], data)]))


def image_hook_action(target, source, env):
    data = Path(source[0].abspath).read_bytes()
    write_atomic(target[0].abspath, _run_hook(env["FW_IMAGE_HOOK"], data, source[0].name))


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
    """The region summary (printed), memory-map.svg and size-report.json. Sources, by role:
    "elf"/"map" the application's slot 0 program, "region:<name>" the image each slot
    holds, "map:<program>" (and optionally "elf:<program>") an earlier stage built here."""
    from fwbuild.image import read_parts
    from fwbuild.memmap import map_sizes, memory_svg, program_sizes, program_uses, region_usage, summary_lines

    layout = memo.layout(env)
    roles = list(zip(env["FW_MEMMAP_ROLES"], source[1:]))
    files = {role: Path(node.abspath) for role, node in roles}
    app = program_sizes(files["elf"])
    sizes = {layout.stages[-1].program: app}
    for role, path in files.items():
        if role.startswith("map:"):
            program = role.split(":", 1)[1]
            # one link writes the ELF and the map beside it: the map's ELF is as new as the map
            sizes[program] = program_sizes(files.get(f"elf:{program}", path.with_suffix(".elf")))
    used: dict[str, int] = {}
    for role, node in roles:
        if role.startswith("region:"):
            used.update(_slot_use(layout, role.split(":", 1)[1], Path(node.abspath)))
    image_bytes = {}  # a prebuilt stage: the bytes its image puts in its first slot, after a header
    for stage in layout.stages:
        image = files.get(f"region:{stage.slots[0].region}")
        if stage.program not in sizes and image is not None:
            held = sum(len(part.data) for part in read_parts(image, stage.slots[0].start))
            image_bytes[stage.program] = max(held - stage.header_size, 0)
    uses = region_usage(layout, used, {layout.main_ram: app.ram})
    print("\n".join(summary_lines(layout, uses, program_uses(layout, sizes, image_bytes))))
    write_atomic(target[0].abspath, memory_svg(layout, uses))
    report = {"app": map_sizes(files["map"].read_text(errors="replace"))}
    for role, path in files.items():
        if role.startswith("map:"):
            report[role.split(":", 1)[1]] = map_sizes(path.read_text(errors="replace"))
    write_atomic(target[1].abspath, json.dumps(report, indent=2, sort_keys=True) + "\n")


def _slot_use(layout, region: str, image: Path) -> dict[str, int]:
    """Bytes used per region by the image a slot holds: in a boot chain the image's bytes
    (a .hex's records, not its text); in an Mbed layout the header region and the
    application apart, a prebuilt bootloader per segment region."""
    from fwbuild.image import read_parts
    from fwbuild.mbed_header import header_size

    slot = layout.slot(region)
    if layout.mode == "chain":
        return {region: sum(len(part.data) for part in read_parts(image, slot.start))}
    if region == "application":
        header = layout.region("header")
        if header is None:
            return {"application": image.stat().st_size}
        fixed = header.size if layout.header_format == "mcuboot" else header_size(layout.header_format)
        return {"header": fixed, "application": image.stat().st_size - slot.header_size}
    used: dict[str, int] = {}
    for part in read_parts(image, slot.program_start):
        home = next((r for r in layout.bootloaders if r.start <= part.start < r.end), None)
        if home is not None:
            used[home.name] = used.get(home.name, 0) + len(part.data)
    return used


def combined_elf_action(target, source, env):
    """One ELF for GDB: the application's (sections, symbols, debug information) plus each
    earlier stage's loadable bytes as a ``.<stage>`` section at its addresses and, where it
    was built here, its symbols prefixed ``<stage>_``, so a debugger can step from one into
    the next."""
    from fwbuild.elfcheck import program_symbols
    from fwbuild.image import merge, read_parts

    layout = memo.layout(env)
    out = Path(target[0].abspath)
    cmd = [env.subst("$FW_OBJCOPY")]
    raws = []
    nodes = iter(source[1:])
    for stage, region, has_elf in env["FW_COMBINED_PARTS"]:
        image = next(nodes)
        symbols = program_symbols(next(nodes).abspath) if has_elf else []
        parts = read_parts(image.abspath, layout.program_region(region).start)
        start, end = min(p.start for p in parts), max(p.end for p in parts)
        raw = out.with_name(f".{stage}.tmp.bin")
        raws.append(raw)
        write_atomic(raw, merge(parts, start, end, layout.erased_value))
        section = f".{stage}"
        cmd += [
            "--add-section",
            f"{section}={raw}",
            "--set-section-flags",
            f"{section}=alloc,load,readonly,code,contents",
            "--change-section-address",
            f"{section}={start:#x}",
        ]
        for name, value, kind in symbols:
            inside = start <= (value & ~1) < end
            where = f"{section}:{value - start:#x}" if inside else f"{value:#x}"
            cmd += ["--add-symbol", f"{stage}_{name}={where},{kind},global"]
    tmp = out.with_name(f".{out.name}.tmp")
    result = subprocess.run([*cmd, source[0].abspath, str(tmp)], capture_output=True, text=True)
    remove_quietly(*raws)
    if result.returncode:
        remove_quietly(tmp)
        raise SCons.Errors.UserError(f"making {out.name} failed: {result.stderr.strip()}")
    os.replace(tmp, out)


def build_info_action(target, source, env):
    from fwbuild.buildinfo import build_info
    from fwbuild.scons import toolchain

    meta = json.loads(source[0].get_text_contents())
    build = Path(env.Dir("$FW_BUILD_DIR").abspath)
    tools = toolchain.versions(env)
    outputs = [Path(n.abspath) for n in source[1:] if Path(n.abspath).is_relative_to(build)]
    write_atomic(target[0].abspath, build_info(build, outputs, meta, tools))


def slot_action(target, source, env):
    from fwbuild.image import Part, hex_chunks
    from fwbuild.signing import detached_signature, mcuboot_slot_image, stage_version
    from fwbuild.slot import mbed_slot_image

    resolved = memo.resolved(env)
    layout, project = resolved.layout, resolved.project
    slot = layout.slot(env["FW_SLOT_REGION"])
    version = stage_version(layout.stage_of(slot.region), project.version)
    signer = memo.signer(env).signer
    app = Path(source[0].abspath).read_bytes()
    outputs = [t.abspath for t in target]
    # SCons removes the outputs before the step, and fwbuild.scons.folders everything
    # downstream of it when it fails: no earlier image survives a failed signing.
    try:
        if layout.header_format == "mcuboot":
            data = mcuboot_slot_image(layout, project.signing, version, app, signer, slot)
            signature = None
        else:
            data = mbed_slot_image(layout, app, env["FW_EPOCH"])
            signature = detached_signature(signer, data) if signer else None
    except FwbuildError as exc:
        raise memo.user_error(exc) from None
    write_atomic(outputs[0], data)
    write_atomic(outputs[1], hex_chunks([Part("slot", slot.start, data)]))
    if signature is not None:
        write_atomic(outputs[2], signature)


def post_build_action(target, source, env):
    from fwbuild.slot import post_build_description

    layout = memo.layout(env)
    app = Path(source[0].abspath).read_bytes()
    parts = [("application", layout.application.start, source[0].name, app)]
    write_atomic(target[0].abspath, post_build_description(layout, parts))


def combine_action(target, source, env):
    from fwbuild.image import Part, hex_chunks, read_parts
    from fwbuild.slot import check_link_hooks, combined_image, combined_parts, split_nvm

    layout = memo.layout(env)
    first_region, *later_regions = env["FW_COMBINE_REGIONS"]
    first, *later = source[: 1 + len(later_regions)]
    try:
        start = layout.program_region(first_region).start
        head = read_parts(first.abspath, start, name=f"{first_region} {first.name}")
        head, nvm = split_nvm(layout, head)
        check_link_hooks(layout, head)
        slots = [
            Part(node.name, layout.slot(region).start, Path(node.abspath).read_bytes())
            for region, node in zip(later_regions, later)
        ]
        parts = combined_parts(layout, head, slots)
        data = combined_image(layout, parts)
    except FwbuildError as exc:
        raise memo.user_error(exc) from None
    write_atomic(target[0].abspath, data)
    write_atomic(target[1].abspath, hex_chunks(parts + nvm))
