"""SCons tool: builders that turn the fwbuild core into firmware builds.

    env = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()])
    env.FirmwareProgram("app", Glob("app/*.c"))

Command-line variables: ``target=NAME``, ``profile=debug|release``, ``verbose=1``,
``sign_key=KEY``, ``sign_command=CMD``, ``cache_dir=DIR``, ``cache_signed=1``, ``cc_prefix=WRAPPER``.
All logic lives in the core package; the actions here are adapters.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import SCons.Action
import SCons.Builder
import SCons.Errors
import SCons.Node.Python
import SCons.Script


def _import_core():
    """Import the core package, which shares this tool's name.

    SCons files a tool module in sys.modules under its bare name and puts the tool folder
    first on sys.path while loading it, so a plain ``import fwbuild`` here would find this
    file again. Step out of the way, import the package, then restore sys.path.
    """
    import importlib

    here = os.path.dirname(os.path.abspath(__file__))
    if not hasattr(sys.modules.get("fwbuild"), "__path__"):
        sys.modules.pop("fwbuild", None)
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        # By module name, not attribute: when a second Environment loads this tool again, the
        # package object is new but its submodules are the ones already imported.
        errors = importlib.import_module("fwbuild.errors")
        fileio = importlib.import_module("fwbuild.fileio")
    finally:
        sys.path[:] = saved
    return errors.FwbuildError, fileio


FwbuildError, _fileio = _import_core()
write_atomic, remove_quietly = _fileio.write_atomic, _fileio.remove_quietly

DEFAULT_TARGET = "K64F"
PROFILES = ("debug", "release")


def _user_error(exc: FwbuildError) -> SCons.Errors.UserError:
    return SCons.Errors.UserError(str(exc))


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


def _action(function, comstr: str, **kw) -> SCons.Action.Action:
    return SCons.Action.Action(_Step(function), comstr, **kw)


# -- actions: three-line adapters over the core -----------------------------------------
def _write_value(target, source, env):
    """Write the text of a Value node (layout.json, fwbuild_layout.h) atomically."""
    write_atomic(target[0].abspath, source[0].get_text_contents())


def _render_linker_script(target, source, env):
    from fwbuild.linker import render_linker

    context = json.loads(source[1].get_text_contents())
    try:
        write_atomic(target[0].abspath, render_linker(context, source[0].abspath))
    except FwbuildError as exc:
        raise _user_error(exc) from None


def _check_elf(target, source, env):
    """Check where the sections landed, then move the linked program into place: the
    linker writes app.elf.tmp, so a killed link never leaves a truncated app.elf."""
    from fwbuild.elfcheck import check_elf_placement

    linked = target[0].abspath + ".tmp"
    try:
        check_elf_placement(linked, _layout(env), env["FW_PROGRAM_REGION"])
    except FwbuildError as exc:
        remove_quietly(linked, *(t.abspath for t in target))
        raise _user_error(exc) from None
    os.replace(linked, target[0].abspath)


def _run_hook(name, data, label):
    from fwbuild.hooks import REGISTRY

    try:
        return REGISTRY[name].run(data)
    except FwbuildError as exc:
        raise SCons.Errors.UserError(f"post-build hook {name} on {label}: {exc}") from None


def _objcopy(target, source, env):
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
        raise _user_error(exc) from None
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
        layout=_layout(env),
        build_dir=build,
        image=Path(image),
        output=None,
        outputs=dict(sorted(outputs.items())),
    )


def _bin_to_hex(target, source, env):
    """The .hex at the program's link address, from the .bin after link-stage hooks."""
    from fwbuild.image import Part, hex_chunks

    data = Path(source[0].abspath).read_bytes()
    write_atomic(target[0].abspath, hex_chunks([Part(source[0].name, env["FW_PROGRAM_START"], data)]))


def _image_hook_action(target, source, env):
    data = Path(source[0].abspath).read_bytes()
    write_atomic(target[0].abspath, _run_hook(env["FW_IMAGE_HOOK"], data, source[0].name))


def _repo_image_hook_action(target, source, env):
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
        raise _user_error(exc) from None


def _link_emitter(target, source, env):
    target.append(target[0].target_from_source("", ".map"))
    return target, source


_text_builder = SCons.Builder.Builder(
    action=_action(_write_value, "$FW_GENCOMSTR"),
    source_factory=SCons.Script.Value,
)
_ldscript_builder = SCons.Builder.Builder(
    action=_action(_render_linker_script, "$FW_LDSCRIPTCOMSTR"),
)
_link_builder = SCons.Builder.Builder(
    action=[
        SCons.Action.Action("$FW_LINKCOM", "$FW_LINKCOMSTR"),
        _action(_check_elf, "$FW_CHECKCOMSTR", varlist=["FW_PROGRAM_REGION"]),
    ],
    emitter=_link_emitter,
    src_suffix=".o",
)
_objcopy_builder = SCons.Builder.Builder(
    action=_action(_objcopy, "$FW_OBJCOPYCOMSTR", varlist=["FW_LINK_HOOKS", "FW_REPO_HOOK_SIG"]),
)
_hex_builder = SCons.Builder.Builder(
    action=_action(_bin_to_hex, "$FW_GENCOMSTR", varlist=["FW_PROGRAM_START"]),
)
_image_hook_builder = SCons.Builder.Builder(
    action=_action(_image_hook_action, "$FW_HOOKCOMSTR", varlist=["FW_IMAGE_HOOK"]),
)
_repo_hook_builder = SCons.Builder.Builder(
    action=_action(_repo_image_hook_action, "$FW_REPOHOOKCOMSTR", varlist=["FW_REPO_HOOK_SIG"]),
)


# -- the environment method ---------------------------------------------------------------
class _Computed(tuple):
    """(settings, value) kept in an environment. SCons copies plain tuples, lists and dicts
    into every clone; this one the clones share, value and all."""


def _once(env, key, make, *depends):
    """A value computed once per environment and the settings it ``depends`` on (a clone
    with other settings computes its own); a user error while computing it stops the
    reading of the SConscripts with its message."""
    known = env.get(key)
    if not isinstance(known, _Computed) or known[0] != depends:
        try:
            env[key] = known = _Computed((depends, make()))
        except FwbuildError as exc:
            _die(str(exc))
    return known[1]


def _resolved(env):
    """Resolve project + target once per environment."""

    def make():
        from fwbuild.resolve import resolve

        env["FW_RESOLVED_AT"] = time.time()  # inputs changed after this were not read
        resolved = resolve(env["FW_PROJECT"], env["FW_TARGET"], _read_cache(env))
        _read_cache(env).save()
        return resolved

    return _once(env, "FW_RESOLVED", make, env["FW_PROJECT"], env["FW_TARGET"])


def _layout(env):
    return _resolved(env).layout


def _facts(env):
    """What the graph needs from the resolved project (fwbuild.graphfacts), remembered in
    build/ and computed again, by resolving, only when something it came from has
    changed: a null build then skips importing the core. Steps that build resolve afresh."""
    sign_key = env.get("FW_SIGN_KEY") or None
    settings = {
        "target": env["FW_TARGET"],
        "profile": env["FW_PROFILE"],
        "signs": bool(env.get("FW_FIRMWARE_PIPELINE")),  # env.FirmwareProgram() alone signs nothing
        "sign_key": sign_key,
        "sign_command": env.get("FW_SIGN_COMMAND") or None,
        # what a relative sign_key= is relative to
        "launch_dir": SCons.Script.GetLaunchDir() if sign_key and not os.path.isabs(sign_key) else None,
    }
    return _once(env, "FW_FACTS", lambda: _remembered_facts(env, settings), *settings.values())


def _remembered_facts(env, settings):
    from fwbuild import graphfacts

    build = env.Dir("$FW_BUILD_DIR")
    # Beside the read cache, not among the outputs: it holds this checkout's paths.
    remembered = Path(build.dir.abspath) / f".fwbuild-graph-{build.name}.json"
    facts = graphfacts.lookup(remembered, env["FW_PROJECT"], settings)
    if facts is None:
        resolved = _resolved(env)
        choice = _signer(env) if settings["signs"] and resolved.layout.region("header") is not None else None
        facts = graphfacts.compute(resolved, choice, settings["profile"])
        _, future = graphfacts.remember(remembered, env["FW_PROJECT"], settings, facts, env["FW_RESOLVED_AT"])
        if future:
            print(
                f"warning: {future[0]} was modified in the future (is the clock skewed?); until that "
                "time passes, every build resolves the project again",
                file=sys.stderr,
            )
    for warning in facts["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return facts


def _read_cache(env):
    """One ReadCache per run, beside the targets' build folders (build/.fwbuild-cache.json):
    config files that passed their schema, signing keys' public facts."""
    if "FW_READ_CACHE" not in env:
        from fwbuild.readcache import ReadCache

        env["FW_READ_CACHE"] = ReadCache(Path(env.Dir("$FW_BUILD_DIR").dir.abspath) / ".fwbuild-cache.json")
    return env["FW_READ_CACHE"]


def _check_toolchain(env):
    if env.get("FW_TOOLCHAIN_CHECKED"):
        return
    compiler = env.subst("$CC")
    if not env.WhereIs(compiler):
        _die(
            f"{compiler} not found on PATH: the Arm cross compiler is missing; run ./setup.sh "
            "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
        )
    facts = _facts(env)
    pinned = facts["toolchain_gcc"]
    if pinned:
        from fwbuild.project import version_matches

        found = subprocess.run([compiler, "-dumpversion"], capture_output=True, text=True, env=env["ENV"])
        version = found.stdout.strip() or "unknown"
        if not version_matches(pinned, version):
            message = (
                f"{facts['project_file']}: toolchain.gcc: the project pins {pinned} but {compiler} "
                f"is {version}"
            )
            if env["FW_PROFILE"] == "release":
                _die(message + "; a release build needs the pinned compiler: install it, or change the pin")
            print(f"warning: {message}; this debug build may differ from a release build", file=sys.stderr)
    env["FW_TOOLCHAIN_CHECKED"] = True


def _layout_files(env):
    """layout.json and fwbuild_layout.h, declared once per environment and build folder."""
    facts, build = _facts(env), env.Dir("$FW_BUILD_DIR")

    def make():
        return env.FwText(build.File("layout.json"), facts["layout_json"]) + env.FwText(
            build.File("fwbuild_layout.h"), facts["layout_header"]
        )

    return _once(env, "FW_LAYOUT_NODES", make, build.abspath, facts["layout_json"])


def FirmwareProgram(env, name, sources, region="application", subdir=""):
    """Compile ``sources`` and link them into the layout's ``region``; returns the nodes
    (elf, map, bin, hex, layout.json, fwbuild_layout.h)."""
    _check_toolchain(env)
    facts = _facts(env)
    build = env.Dir("$FW_BUILD_DIR")
    out = build.Dir(subdir) if subdir else build
    layout_json, layout_h = _layout_files(env)
    program = facts["programs"].get(region)
    if program is None:  # not a region the facts know: ask the core, which names the problem
        from fwbuild.linker import context_signature, linker_context

        try:
            context = linker_context(_layout(env), region)
        except FwbuildError as exc:
            _die(str(exc))
        program = {"context": context_signature(context), "rom_start": context["rom"]["start"]}
    # Paths from the config become nodes by their real path: SCons reads ".." as text, the
    # system after following links (fwbuild.paths).
    from fwbuild.paths import real_path

    if facts["linker_template"]:
        template = env.File(str(real_path(facts["linker_template"])))
    else:
        template = env.File(env.get("FW_LINKER_TEMPLATE") or facts["default_template"])
    script = env.FwLinkerScript(out.File(f"{name}.ld"), [template, env.Value(program["context"])])

    prog = env.Clone()
    prog.Append(
        CCFLAGS=facts["cflags"],
        ASFLAGS=facts["core_flags"],
        LINKFLAGS=facts["cflags"] + facts["ldflags"],
        CPPPATH=[build] + [env.Dir(str(real_path(d))) for d in facts["include_dirs"]],
        CPPDEFINES=[
            f"TARGET_{facts['target']}",
            ("FWBUILD_VECTOR_COUNT", facts["vector_count"]),
            ("FW_TARGET", f'\\"{facts["target"]}\\"'),
            ("FW_VERSION", f'\\"{facts["version"]}\\"'),
        ]
        + [tuple(m.split("=", 1)) if "=" in m else m for m in facts["macros"]],
        FW_PROGRAM_REGION=region,
    )
    objects = []
    for src in sorted(
        env.Flatten([env.File(s) if isinstance(s, str) else s for s in sources]),
        key=lambda n: n.srcnode().path,
    ):
        rel = os.path.relpath(src.srcnode().abspath, env["FW_PROJECT"])
        if rel.startswith(".."):
            rel = src.name
        objects += prog.Object(out.File(f"obj/{name}/{os.path.splitext(rel)[0]}.o"), src)
    elf = prog.FwLink(out.File(f"{name}.elf"), objects, FW_LDSCRIPT=script[0])
    prog.Depends(elf, script)
    rom_start = program["rom_start"]
    link_hooks = facts["hooks"]["link"] if rom_start == facts["flash_start"] else []
    # Repo link hooks patch the application only; named ones the program at the flash start.
    repo_hooks = [h for h in env.get("FW_REPO_HOOKS", []) if h.stage == "link" and region == "application"]
    binary = prog.FwObjcopy(
        out.File(f"{name}.bin"),
        [elf[0], layout_json],
        FW_LINK_HOOKS=link_hooks,
        FW_REPO_LINK_HOOKS=repo_hooks,
        FW_REPO_HOOK_SIG=" ".join(f"{h.name}:{h.signature}" for h in repo_hooks),
    )
    ihex = prog.FwBinToHex(out.File(f"{name}.hex"), binary[0], FW_PROGRAM_START=rom_start)
    # Order only: the include scanner adds the header to the sources that really include it,
    # so an offset change recompiles those alone.
    env.Requires(objects, layout_h)
    return elf + binary + ihex + [layout_json, layout_h]


def Firmware(env, app, bootloader=None):
    """The whole pipeline the layout asks for: the application, then in managed mode the
    bootloader ("@bootloader" builds ``bootloader`` sources), the slot image with its Mbed
    header, and the combined image. Returns every output node."""
    targets = env.get("FW_TARGETS") or [env["FW_TARGET"]]
    if len(targets) > 1:  # target=all or A,B: one environment per target, one graph
        nodes = []
        for name in targets:
            one = env.Clone(FW_TARGET=name, FW_TARGETS=[name])  # per-target values: see _once
            nodes += one.Firmware(app, bootloader)
        env["FW_FIRMWARE_DONE"] = True
        return nodes
    env["FW_FIRMWARE_PIPELINE"] = True  # the facts then include the signing choice
    facts = _facts(env)
    build = env.Dir("$FW_BUILD_DIR")
    app_nodes = env.FirmwareProgram("app", app)
    env["FW_FIRMWARE_DONE"] = True
    nodes = list(app_nodes)
    if facts["mode"] == "unmanaged":
        nodes += env.FwPostBuild(
            build.File("post-build.json"), [app_nodes[2], env.Value(facts["layout_signature"])]
        )
    if facts["mode"] != "managed":
        nodes += _image_hooks(env, app_nodes[2], nodes)
        _run_alias(env, app_nodes[2])
        _flash_alias(env, app_nodes[3], facts["application_start"])
        _debug_alias(env, app_nodes[2], app_nodes[0])
        nodes += _memory_map(env, app_nodes, None, None, None)
        return _with_progress(env, nodes + _build_info(env, nodes))
    boot_map = None
    if facts["built_bootloader"]:
        if not bootloader:
            _die(
                'bootloader_img is "@bootloader" but the SConstruct gives no bootloader sources; '
                "call env.Firmware(app_sources, bootloader=bootloader_sources)"
            )
        boot_nodes = env.FirmwareProgram("bootloader", bootloader, region="bootloader", subdir="bootloader")
        nodes += boot_nodes[:4]
        boot_image = boot_nodes[2]  # bootloader.bin, placed at the flash start
        boot_map = boot_nodes[1]
    else:
        from fwbuild.paths import real_path  # as in FirmwareProgram

        boot_image = env.File(str(real_path(facts["bootloader_img"])))
    slot_source = app_nodes[2]  # app.bin
    slot_image = None
    if facts["header"]:
        slot = _slot_image(env, slot_source)
        nodes += slot
        slot_source = slot_image = slot[0]
    combined = env.FwCombine(
        [build.File("combined.bin"), build.File("combined.hex")],
        [boot_image, slot_source, env.Value(facts["layout_signature"])],
    )
    nodes += combined
    nodes += _image_hooks(env, combined[0], nodes)
    _run_alias(env, combined[0])
    _flash_alias(env, combined[1], facts["flash_start"])
    boot_elf = [boot_nodes[0]] if facts["built_bootloader"] else []
    combined_elf = env.FwCombinedElf(build.File("combined.elf"), [app_nodes[0], boot_image, *boot_elf])
    nodes += combined_elf
    _debug_alias(env, combined[0], combined_elf[0])
    nodes += _memory_map(env, app_nodes, slot_image, boot_image, boot_map)
    return _with_progress(env, nodes + _build_info(env, nodes))


def _with_progress(env, nodes):
    progress = env.get("PRINT_CMD_LINE_FUNC")
    if isinstance(progress, _Progress):
        progress.roots += nodes
    return nodes


def _memory_map(env, app_nodes, slot_image, boot_image, boot_map):
    """memory-map.svg and size-report.json; the step prints the region summary."""
    build = env.Dir("$FW_BUILD_DIR")
    elf, app_map, app_bin = app_nodes[0], app_nodes[1], app_nodes[2]
    sources = [env.Value(_facts(env)["layout_signature"]), elf, app_map, app_bin]
    roles = ["elf", "map", "bin"]
    for role, node in (("slot", slot_image), ("boot", boot_image), ("boot_map", boot_map)):
        if node is not None:
            sources.append(node)
            roles.append(role)
    return env.FwMemoryMap(
        [build.File("memory-map.svg"), build.File("size-report.json")], sources, FW_MEMMAP_ROLES=roles
    )


def _memory_map_action(target, source, env):
    from fwbuild.image import read_parts
    from fwbuild.mbed_header import header_size
    from fwbuild.memmap import map_sizes, memory_svg, program_sizes, region_usage, summary_lines

    layout = _layout(env)
    files = {role: Path(node.abspath) for role, node in zip(env["FW_MEMMAP_ROLES"], source[1:])}
    app = program_sizes(files["elf"])
    used: dict[str, int] = {}
    header, region = layout.region("header"), layout.application
    app_bytes = files["bin"].stat().st_size
    if "slot" in files and header is not None:
        fixed = header.size if layout.header_format == "mcuboot" else header_size(layout.header_format)
        used["header"] = fixed
        app_bytes = files["slot"].stat().st_size - (region.start - header.start)
    used[region.name] = app_bytes
    if "boot" in files:
        for part in read_parts(files["boot"], layout.flash_start):
            home = next((r for r in layout.bootloaders if r.start <= part.start < r.end), None)
            if home is not None:
                used[home.name] = used.get(home.name, 0) + len(part.data)
    uses = region_usage(layout, used, {layout.main_ram: app.ram})
    print("\n".join(summary_lines(layout, uses, app)))
    write_atomic(target[0].abspath, memory_svg(layout, uses))
    report = {"app": map_sizes(files["map"].read_text(errors="replace"))}
    if "boot_map" in files:
        report["bootloader"] = map_sizes(files["boot_map"].read_text(errors="replace"))
    write_atomic(target[1].abspath, json.dumps(report, indent=2, sort_keys=True) + "\n")


def _tool_alias(env, name, sources, action, comstr, available, **overrides):
    """An always-run alias (run, flash, debug) for this target. With several targets only
    those that have the tool join it; a single target always does, so that asking for a
    tool it lacks gives the action's clear error."""
    if available or len(env.get("FW_ALL_TARGETS", [])) <= 1:
        alias = env.Alias(name, sources, _action(action, comstr), **overrides)
        env.AlwaysBuild(alias)


def _flash_alias(env, image, address):
    """``scons flash``: build, then hand ``image`` and its start address to the target's
    programmer (``programmer=`` on the command line overrides the target's)."""
    command = env.get("FW_PROGRAMMER") or _facts(env)["programmer"]
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


def _combined_elf_action(target, source, env):
    """One ELF for GDB: the application's (sections, symbols, debug information) plus the
    bootloader's loadable bytes as a ``.bootloader`` section at its addresses and its
    symbols prefixed ``bootloader_``, so a debugger can step from one into the other."""
    from fwbuild.elfcheck import program_symbols
    from fwbuild.image import merge, read_parts

    layout = _layout(env)
    out = Path(target[0].abspath)
    parts = read_parts(source[1].abspath, layout.flash_start)  # the bootloader image
    symbols = program_symbols(source[2].abspath) if len(source) > 2 else []  # its ELF, if built
    start, end = min(p.start for p in parts), max(p.end for p in parts)
    raw = out.with_name(".bootloader.tmp.bin")
    write_atomic(raw, merge(parts, start, end, layout.erased_value))
    cmd = [
        env.subst("$FW_OBJCOPY"),
        "--add-section",
        f".bootloader={raw}",
        "--set-section-flags",
        ".bootloader=alloc,load,readonly,code,contents",
        "--change-section-address",
        f".bootloader={start:#x}",
    ]
    for name, value, kind in symbols:
        inside = start <= (value & ~1) < end
        where = f".bootloader:{value - start:#x}" if inside else f"{value:#x}"
        cmd += ["--add-symbol", f"bootloader_{name}={where},{kind},global"]
    tmp = out.with_name(f".{out.name}.tmp")
    result = subprocess.run([*cmd, source[0].abspath, str(tmp)], capture_output=True, text=True)
    remove_quietly(raw)
    if result.returncode:
        remove_quietly(tmp)
        raise SCons.Errors.UserError(f"making {out.name} failed: {result.stderr.strip()}")
    os.replace(tmp, out)


def _debug_alias(env, image, elf):
    """``scons debug``: QEMU halted with its GDB server on ``gdb_port``; attach with
    ``gdb-multiarch combined.elf -ex 'target remote :PORT'``."""
    emulator = _facts(env)["emulator"]
    _tool_alias(env, "debug", [image, elf], _debug_action, "DEBUG ${SOURCES[0]}", emulator)


def _emulator(env, purpose, instead):
    facts = _facts(env)
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


def _run_alias(env, image):
    """``scons run``: build, then boot ``image`` in the target's emulator and show its console.
    With several targets, only those with an emulator join the alias."""
    _tool_alias(env, "run", image, _run_action, "RUN $SOURCE", _facts(env)["emulator"])


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


def _build_info(env, outputs):
    """build-info.json over every output; its metadata is path-free text."""
    epoch = _epoch(env).seconds if "FW_EPOCH_RESOLVED" in env else None  # Mbed headers only
    meta = {
        **_facts(env)["build_info"],
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "header_timestamp": epoch,
    }
    files = [n for n in outputs if not isinstance(n, SCons.Node.Python.Value)]
    return env.FwBuildInfo(
        env.Dir("$FW_BUILD_DIR").File("build-info.json"),
        [env.Value(json.dumps(meta, sort_keys=True)), *files],
    )


def _build_info_action(target, source, env):
    from fwbuild.buildinfo import build_info, tool_version

    meta = json.loads(source[0].get_text_contents())
    build = Path(env.Dir("$FW_BUILD_DIR").abspath)
    tools = {
        "cc": tool_version(env.subst("$CC"), env["ENV"]),
        "objcopy": tool_version(env.subst("$FW_OBJCOPY"), env["ENV"]),
    }
    outputs = [Path(n.abspath) for n in source[1:] if Path(n.abspath).is_relative_to(build)]
    write_atomic(target[0].abspath, build_info(build, outputs, meta, tools))


def _image_hooks(env, image, outputs):
    """Image-stage hooks, named ones first, each writing a new file: combined-crc.bin,
    app-crc.bin, or what a repo hook declares (a stamp when it declares nothing)."""
    nodes = []
    for name, suffix in _facts(env)["hooks"]["image"]:
        out = image.dir.File(image.name.replace(".bin", suffix + ".bin"))
        nodes += env.FwImageHook(out, image, FW_IMAGE_HOOK=name)
    build = env.Dir("$FW_BUILD_DIR")
    for hook in env.get("FW_REPO_HOOKS", []):
        if hook.stage != "image":
            continue
        out = build.File(hook.output) if hook.output else build.File(f"hooks/{hook.name}.done")
        others = [n for n in outputs + nodes if n is not image]
        nodes += env.FwRepoHook(
            out, [image, *others], FW_REPO_HOOK=hook, FW_REPO_HOOK_SIG=f"{hook.name}:{hook.signature}"
        )
    return nodes


def FirmwarePostBuild(env, hook, stage="image", name=None, output=None):
    """Register a repo's own post-build hook; call it before ``env.Firmware()``.

    ``hook`` is a callable ``hook(ctx)`` (ctx: fwbuild.hooks.HookContext) or a command line
    in which ``$SOURCE`` is the input image and ``$TARGET`` the output, with the context in
    FWBUILD_* environment variables. ``stage="link"`` patches the application's .bin before
    any header or signature (read ctx.image, write ctx.output); ``stage="image"`` runs after
    signing and merging and writes ``output`` (a file in the build folder), if it names one.
    """
    from fwbuild.hooks import STAGES, RepoHook

    where = "env.FirmwarePostBuild()"
    if env.get("FW_FIRMWARE_DONE"):
        _die(f"{where} after env.Firmware(): register hooks first, then call env.Firmware()")
    if stage not in STAGES:
        _die(f'{where}: stage={stage!r} is not a stage; use stage="link" or stage="image"')
    if not (callable(hook) or isinstance(hook, str)):
        _die(f"{where}: {hook!r} is neither a callable nor a command line")
    name = name or getattr(hook, "__name__", None) or hook.split()[0].rsplit("/", 1)[-1]
    registered = env.get("FW_REPO_HOOKS", [])
    if any(h.name == name for h in registered):
        _die(f"{where}: a hook named {name!r} is already registered; give this one name=")
    if output is not None and stage == "link":
        _die(f"{where}: {name}: a link-stage hook writes the patched .bin (ctx.output), not output=")
    if isinstance(hook, str):
        command = hook
        signature = command

        def hook(ctx, _command=command):
            from fwbuild.hooks import run_hook_command

            line = env.subst(
                _command,
                overrides={"SOURCE": _quote(ctx.image), "TARGET": _quote(ctx.output or "")},
            )
            run_hook_command(line, ctx, env["ENV"])
    else:
        signature = hashlib.sha256(bytes(SCons.Action.Action(hook).get_contents([], [], env))).hexdigest()
    env["FW_REPO_HOOKS"] = [*registered, RepoHook(name, stage, hook, output, signature)]


def _quote(path):
    return shlex.quote(str(path))


def _epoch(env):
    def make():
        from fwbuild.epoch import build_epoch

        epoch = build_epoch(env["FW_PROJECT"], os.environ, env["FW_PROFILE"])
        if epoch.source == "current time":
            print(
                "warning: no SOURCE_DATE_EPOCH and not a git checkout: the firmware header "
                "carries the current time, so this debug build is not reproducible",
                file=sys.stderr,
            )
        return epoch

    return _once(env, "FW_EPOCH_RESOLVED", make, env["FW_PROJECT"], env["FW_PROFILE"])


def _slot_image(env, app_bin):
    """app-signed.bin/.hex (+ .sig for Mbed formats with a key): the slot image as the
    bootloader sees it. Its sources carry the signing choice as path-free text."""
    facts = _facts(env)
    slot = facts["slot"]
    build = env.Dir("$FW_BUILD_DIR")
    described = dict(slot["described"])
    targets = [build.File("app-signed.bin"), build.File("app-signed.hex")]
    extra = {}
    if not facts["mcuboot_header"]:  # Mbed headers carry a time
        epoch = _epoch(env).seconds
        described["epoch"] = epoch
        extra = {"FW_EPOCH": epoch}
        if slot["signed"]:
            targets.append(build.File("app-signed.sig"))
    nodes = env.FwSlot(
        targets,
        [app_bin, env.Value(facts["layout_signature"]), env.Value(json.dumps(described, sort_keys=True))],
        **extra,
    )
    # A randomised signature must never come back from a cache; a deterministic one only
    # when the user asks for it.
    if slot["signed"] and not (slot["deterministic"] and env.get("FW_CACHE_SIGNED")):
        env.NoCache(nodes)
    return nodes


def _signer(env):
    """The signer for this run, chosen once: sign_key=/sign_command=, FWBUILD_SIGNING_KEY,
    fwbuild.json's signing section."""

    def make():
        from fwbuild.signing import choose_signer

        choice = choose_signer(
            _resolved(env).project,
            env["FW_PROFILE"],
            env.get("FW_SIGN_KEY") or None,
            env.get("FW_SIGN_COMMAND") or None,
            cwd=Path(SCons.Script.GetLaunchDir()),
            cache=_read_cache(env),
        )
        _read_cache(env).save()
        return choice

    settings = ("FW_PROJECT", "FW_TARGET", "FW_PROFILE", "FW_SIGN_KEY", "FW_SIGN_COMMAND")
    return _once(env, "FW_SIGNER_CHOICE", make, *(env.get(name) for name in settings))


def _slot_action(target, source, env):
    from fwbuild.image import Part, hex_chunks
    from fwbuild.signing import detached_signature, mcuboot_slot_image
    from fwbuild.slot import mbed_slot_image

    resolved = _resolved(env)
    layout, project = resolved.layout, resolved.project
    signer = _signer(env).signer
    app = Path(source[0].abspath).read_bytes()
    outputs = [t.abspath for t in target]
    remove_quietly(*outputs)  # a failed signing must not leave the previous image behind
    try:
        if layout.header_format == "mcuboot":
            data = mcuboot_slot_image(layout, project.signing, project.version, app, signer)
            signature = None
        else:
            data = mbed_slot_image(layout, app, env["FW_EPOCH"])
            signature = detached_signature(signer, data) if signer else None
    except FwbuildError as exc:
        raise _user_error(exc) from None
    write_atomic(outputs[0], data)
    write_atomic(outputs[1], hex_chunks([Part("slot", layout.region("header").start, data)]))
    if signature is not None:
        write_atomic(outputs[2], signature)


def _post_build_action(target, source, env):
    from fwbuild.slot import post_build_description

    layout = _layout(env)
    app = Path(source[0].abspath).read_bytes()
    parts = [("application", layout.application.start, source[0].name, app)]
    write_atomic(target[0].abspath, post_build_description(layout, parts))


def _combine_action(target, source, env):
    from fwbuild.image import Part, hex_chunks, read_parts
    from fwbuild.slot import (
        check_link_hooks,
        check_reserved_bytes,
        combined_image,
        combined_parts,
        split_nvm,
    )

    layout = _layout(env)
    slot_region = layout.region("header") or layout.application
    try:
        boot = read_parts(source[0].abspath, layout.flash_start, name=f"bootloader {source[0].name}")
        boot, nvm = split_nvm(layout, boot)
        check_reserved_bytes(layout, boot)
        check_link_hooks(layout, boot)
        slot = Part(source[1].name, slot_region.start, Path(source[1].abspath).read_bytes())
        parts = combined_parts(layout, boot, slot)
        data = combined_image(layout, parts)
    except FwbuildError as exc:
        raise _user_error(exc) from None
    write_atomic(target[0].abspath, data)
    write_atomic(target[1].abspath, hex_chunks(parts + nvm))


_slot_builder = SCons.Builder.Builder(action=_action(_slot_action, "$FW_SLOTCOMSTR"))
_combine_builder = SCons.Builder.Builder(action=_action(_combine_action, "$FW_MERGECOMSTR"))
_memory_map_builder = SCons.Builder.Builder(
    action=_action(_memory_map_action, "$FW_MEMMAPCOMSTR", varlist=["FW_MEMMAP_ROLES"])
)
_combined_elf_builder = SCons.Builder.Builder(action=_action(_combined_elf_action, "$FW_GENCOMSTR"))
_build_info_builder = SCons.Builder.Builder(action=_action(_build_info_action, "$FW_GENCOMSTR"))
_post_build_builder = SCons.Builder.Builder(action=_action(_post_build_action, "$FW_GENCOMSTR"))


# -- generate / exists --------------------------------------------------------------------
def _variables(env):
    variables = SCons.Script.Variables(None, SCons.Script.ARGUMENTS)
    variables.Add(
        "target",
        "target to build (see: fwbuild targets); all, or A,B, builds several in one run",
        env.get("FW_DEFAULT_TARGET", DEFAULT_TARGET),
    )
    variables.Add("profile", "build profile: " + " or ".join(PROFILES), "debug")
    variables.Add(SCons.Script.BoolVariable("verbose", "show full command lines", False))
    variables.Add("sign_key", "signing key file (overrides signing.key and FWBUILD_SIGNING_KEY)", "")
    variables.Add("sign_command", "external signer: reads {digest}, writes {signature}", "")
    variables.Add(
        "programmer", "flash command for `scons flash` ({image}, {address}); default: the target's", ""
    )
    variables.Add("gdb_port", "GDB server port for `scons debug`", "1234")
    variables.Add("cc_prefix", "compiler wrapper in front of the cross compiler (ccache, distcc)", "")
    variables.Add(
        "cache_dir",
        "shared build cache folder (default: $FWBUILD_CACHE_DIR)",
        os.environ.get("FWBUILD_CACHE_DIR", ""),
    )
    variables.Add(
        SCons.Script.BoolVariable(
            "cache_signed", "let deterministically signed images come from the build cache", False
        )
    )
    return variables


def _set_comstrs(env, verbose):
    """One short line per step; ``verbose=1`` shows the full command lines instead."""
    commands = {
        "CCCOMSTR": "CC $SOURCE",
        "ASCOMSTR": "AS $SOURCE",
        "ASPPCOMSTR": "AS $SOURCE",
        "ARCOMSTR": "AR $TARGET",
        "RANLIBCOMSTR": "RANLIB $TARGET",
        "FW_LINKCOMSTR": "LINK ${TARGETS[0]}",
        "FW_OBJCOPYCOMSTR": "OBJCOPY $TARGET",
    }
    steps = {  # Python steps: their description is the clearest form, verbose or not
        "FW_CHECKCOMSTR": "CHECK ${TARGETS[0]}",
        "FW_GENCOMSTR": "GEN $TARGET",
        "FW_LDSCRIPTCOMSTR": "LDSCRIPT $TARGET",
        "FW_SLOTCOMSTR": "SIGN ${TARGETS[0]}",
        "FW_MERGECOMSTR": "MERGE ${TARGETS[0]}",
        "FW_MEMMAPCOMSTR": "MEMMAP ${TARGETS[0]}",
        "FW_HOOKCOMSTR": "HOOK $FW_IMAGE_HOOK $TARGET",
        "FW_REPOHOOKCOMSTR": "HOOK ${FW_REPO_HOOK.name} $TARGET",
    }
    if verbose:
        commands = {"FW_OBJCOPYCOMSTR": "$FW_OBJCOPY -O binary $SOURCE $TARGET"}
    for key, text in {**commands, **steps}.items():
        env.SetDefault(**{key: text})


class _Progress:
    """Prints each step as ``[done/total] VERB file``. SCons learns what is out of date only
    while it builds, so the total counts every step the targets' graph holds (what a clean
    build runs); a rebuild ends below it."""

    def __init__(self):
        self.done = 0
        self.total = None
        self.roots = []

    def __call__(self, text, target, source, env):
        self.done += 1
        if self.total is None:
            self.total = _count_steps(self.roots)
        sys.stdout.write(f"[{self.done}/{max(self.done, self.total)}] {text}\n")
        sys.stdout.flush()


def _count_steps(roots):
    seen, executors, count = set(), set(), 0
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.has_builder():
            executor = node.get_executor()
            if executor is None:  # SCons drops the executor of a node it has finished with
                count += 1
            elif id(executor) not in executors:
                executors.add(id(executor))
                # a ListAction (link, then check) prints a line per action
                count += sum(len(getattr(a, "list", [a])) for a in executor.get_action_list())
        stack.extend(node.children(scan=0))
    return count


def _die(message):
    """Report a user error while reading the SConscripts: one paragraph, exit status 2."""
    from fwbuild.cli import format_error

    print(format_error(message), file=sys.stderr)
    SCons.Script.Exit(2)


def generate(env):
    variables = _variables(env)
    variables.Update(env)
    if SCons.Script.GetOption("help"):
        SCons.Script.Help(variables.GenerateHelpText(env), append=True)
    env["FW_TARGET"], env["FW_PROFILE"], verbose = env["target"], env["profile"], env["verbose"]
    if env["FW_TARGET"] == "all" or "," in env["FW_TARGET"]:
        env["FW_TARGETS"] = env["FW_ALL_TARGETS"] = _target_list(env, env["FW_TARGET"])
        env["FW_TARGET"] = env["FW_TARGETS"][0]
    env["FW_SIGN_KEY"], env["FW_SIGN_COMMAND"] = env["sign_key"], env["sign_command"]
    env["FW_CACHE_SIGNED"] = env["cache_signed"]
    env["FW_CC_PREFIX"] = env["cc_prefix"]
    env["FW_PROGRAMMER"] = env["programmer"]
    env["FW_GDB_PORT"] = env["gdb_port"]
    cache_dir = env["cache_dir"]
    for key in (
        "target",
        "profile",
        "verbose",
        "sign_key",
        "sign_command",
        "cache_signed",
        "cc_prefix",
        "cache_dir",
        "programmer",
        "gdb_port",
    ):
        del env[key]
    if cache_dir:
        env.CacheDir(os.path.abspath(os.path.join(SCons.Script.GetLaunchDir(), cache_dir)))
    if env["FW_PROFILE"] not in PROFILES:
        _die(f"profile={env['FW_PROFILE']}: unknown profile; use profile=debug or profile=release")

    env.SetDefault(
        FW_PREFIX="arm-none-eabi-",
        FW_BUILD_DIR="#build/$FW_TARGET",
        FW_PROJECT=env.Dir(".").srcnode().abspath,
        FW_OBJCOPY="${FW_PREFIX}objcopy",
        FW_LINKCOM="$LINK -o ${TARGETS[0]}.tmp -Wl,-Map=${TARGETS[1]} -T $FW_LDSCRIPT "
        "$LINKFLAGS $SOURCES $_LIBDIRFLAGS $_LIBFLAGS",
    )
    # The cross toolchain replaces the host one that "default" set up.
    env["CC"] = "${FW_PREFIX}gcc"
    env["AS"] = "${FW_PREFIX}gcc"
    env["LINK"] = "${FW_PREFIX}gcc"
    env["AR"] = "${FW_PREFIX}ar"
    env["RANLIB"] = "${FW_PREFIX}ranlib"
    env["ASFLAGS"] = ["-x", "assembler-with-cpp", "$FW_PATH_MAP"]
    env["ARFLAGS"] = "rcD"  # deterministic archives: no timestamps, owners or modes
    env["RANLIBFLAGS"] = "-D"
    # Reproducible objects: the checkout's absolute path becomes "." in debug info and
    # __FILE__, and __DATE__/__TIME__ are flagged. $( $) keeps the path (and a compiler
    # wrapper such as ccache or distcc) out of the build signatures, so a second checkout
    # in another folder hits the same cache entries.
    env["FW_PATH_MAP"] = "$( -ffile-prefix-map=${FW_PROJECT}=. $)"
    env.Append(CCFLAGS=["-Wdate-time", "$FW_PATH_MAP"])
    env["CCCOM"] = "$( $FW_CC_PREFIX $) " + env["CCCOM"]
    env["ASPPCOM"] = "$( $FW_CC_PREFIX $) " + env["ASPPCOM"]
    env["ASCOM"] = "$( $FW_CC_PREFIX $) " + env["ASCOM"]
    env["OBJSUFFIX"] = ".o"
    env["PROGSUFFIX"] = ".elf"
    # "content", not "content-timestamp": generated files (app.ld, fwbuild_layout.h) rewritten
    # within the same second keep their mtime, and content-timestamp would then miss them.
    env.Decider("content")
    # Tools run with PATH only (where the user's toolchain is), not the whole host environment.
    env["ENV"] = {"PATH": os.environ.get("PATH", os.defpath)}
    # ...plus what a compiler wrapper reads (ccache's cache folder, distcc's hosts).
    env["ENV"].update(
        {
            k: v
            for k, v in os.environ.items()
            if k in ("HOME", "TMPDIR") or k.startswith(("CCACHE_", "DISTCC_"))
        }
    )
    _set_comstrs(env, verbose)
    env["PRINT_CMD_LINE_FUNC"] = _Progress()

    env["BUILDERS"]["FwText"] = _text_builder
    env["BUILDERS"]["FwLinkerScript"] = _ldscript_builder
    env["BUILDERS"]["FwLink"] = _link_builder
    env["BUILDERS"]["FwObjcopy"] = _objcopy_builder
    env["BUILDERS"]["FwSlot"] = _slot_builder
    env["BUILDERS"]["FwCombine"] = _combine_builder
    env["BUILDERS"]["FwPostBuild"] = _post_build_builder
    env["BUILDERS"]["FwBinToHex"] = _hex_builder
    env["BUILDERS"]["FwImageHook"] = _image_hook_builder
    env["BUILDERS"]["FwRepoHook"] = _repo_hook_builder
    env["BUILDERS"]["FwBuildInfo"] = _build_info_builder
    env["BUILDERS"]["FwMemoryMap"] = _memory_map_builder
    env["BUILDERS"]["FwCombinedElf"] = _combined_elf_builder
    env.AddMethod(FirmwareProgram)
    env.AddMethod(Firmware)
    env.AddMethod(FirmwarePostBuild)

    if "compiledb" in SCons.Script.COMMAND_LINE_TARGETS:
        # SCons' own tool, loaded only when asked for: it adds a node per object.
        env.Tool("compilation_db")
        env.Alias("compiledb", env.CompilationDatabase("#compile_commands.json"))
    if SCons.Script.GetOption("help"):
        _help_targets(env)


def _target_list(env, text):
    """``all`` (every public target) or a comma-separated list of names."""
    if text != "all":
        return [name.strip() for name in text.split(",") if name.strip()]
    from fwbuild.project import load_project

    try:
        return (
            load_project(env.get("FW_PROJECT") or env.Dir(".").srcnode().abspath).target_set().public_names()
        )
    except FwbuildError as exc:
        _die(str(exc))


def _help_targets(env):
    from fwbuild.project import load_project

    try:
        targets = load_project(env["FW_PROJECT"]).target_set().public_names()
    except FwbuildError as exc:
        _die(str(exc))
    SCons.Script.Help("\ntargets: " + " ".join(targets) + "\n", append=True)
    SCons.Script.Help(
        "aliases: run (boot the image in the target's emulator), flash (run the target's programmer),\n"
        "         debug (the emulator halted for GDB), compiledb (compile_commands.json for editors)\n",
        append=True,
    )


def exists(env):
    prefix = env.subst("${FW_PREFIX}") or "arm-none-eabi-"
    return env.Detect(prefix + "gcc")
