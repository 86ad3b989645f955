"""The environment methods that declare the pipeline: ``FirmwareProgram`` (compile, link,
check, .bin, .hex), ``Firmware`` (the whole layout: programs, slot image, merge, reports)
and ``FirmwarePostBuild`` (a repo's own hooks)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from typing import Any, NamedTuple, Optional

import SCons.Action
import SCons.Node.Python
import SCons.Script

from fwbuild.errors import FwbuildError
from fwbuild.scons import aliases, folders, memo, progress, toolchain


class Program(NamedTuple):
    """What ``FirmwareProgram`` declares for one program (a tuple, so SCons flattens it)."""

    elf: Any
    map: Any
    bin: Any
    hex: Any
    layout_json: Any
    layout_header: Any


class SlotImage(NamedTuple):
    """The slot image as its bootloader sees it; ``sig`` for Mbed formats with a key."""

    bin: Any
    hex: Any
    sig: Optional[Any]  # noqa: UP045 (NamedTuple fields are evaluated at run time on 3.9)


def _check_toolchain(env):
    if env.get("FW_TOOLCHAIN_CHECKED"):
        return
    compiler = env.subst("$CC")
    if not env.WhereIs(compiler):
        memo.die(
            f"{compiler} not found on PATH: the Arm cross compiler is missing; run ./setup.sh "
            "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
        )
    facts = memo.facts(env)
    pinned = facts["toolchain_gcc"]
    if pinned:
        from fwbuild.project import version_matches

        if env.get("FW_TOOLCHAIN") == "llvm":  # the pin is GCC's, whose newlib and libgcc clang links
            compiler = env.subst("${FW_PREFIX}gcc")
        found = subprocess.run([compiler, "-dumpversion"], capture_output=True, text=True, env=env["ENV"])
        version = found.stdout.strip() or "unknown"
        if not version_matches(pinned, version):
            message = (
                f"{facts['project_file']}: toolchain.gcc: the project pins {pinned} but {compiler} "
                f"is {version}"
            )
            if env["FW_PROFILE"] == "release":
                memo.die(
                    message + "; a release build needs the pinned compiler: install it, or change the pin"
                )
            print(f"warning: {message}; this debug build may differ from a release build", file=sys.stderr)
    env["FW_TOOLCHAIN_CHECKED"] = True


def _layout_files(env):
    """layout.json and fwbuild_layout.h, declared once per environment and build folder."""
    facts, build = memo.facts(env), env.Dir("$FW_BUILD_DIR")

    def make():
        return env.FwText(build.File("layout.json"), facts["layout_json"]) + env.FwText(
            build.File("fwbuild_layout.h"), facts["layout_header"]
        )

    return memo.once(env, "FW_LAYOUT_NODES", make, build.abspath, facts["layout_json"])


def FirmwareProgram(env, name, sources, region="application", subdir="") -> Program:
    """Compile ``sources`` and link them into the layout's ``region`` (a slot such as
    "application" or "bootloader.1", or another flash region)."""
    prog, objects = _compile(env, name, sources, subdir)
    return _link(env, prog, objects, name, region, subdir)


def _compile(env, name, sources, subdir):
    """The program's objects (and fwbuild's start-up archive) under ``subdir``/obj/``name``,
    with the environment that links them: every slot of a stage links these same objects."""
    _check_toolchain(env)
    facts = memo.facts(env)
    build = env.Dir("$FW_BUILD_DIR")
    out = build.Dir(subdir) if subdir else build
    _, layout_h = _layout_files(env)
    # Paths from the config become nodes by their real path: SCons reads ".." as text, the
    # system after following links (fwbuild.paths).
    from fwbuild.paths import real_path

    prog = env.Clone()
    prog.Append(
        CCFLAGS=facts["cflags"],
        ASFLAGS=facts["core_flags"],
        LINKFLAGS=toolchain.link_flags(env, facts),
        CPPPATH=[build] + [env.Dir(str(real_path(d))) for d in facts["include_dirs"]],
        CPPDEFINES=[
            f"TARGET_{facts['target']}",
            ("FWBUILD_VECTOR_COUNT", facts["vector_count"]),
            ("FW_TARGET", f'\\"{facts["target"]}\\"'),
            ("FW_VERSION", f'\\"{facts["version"]}\\"'),
        ]
        + [tuple(m.split("=", 1)) if "=" in m else m for m in facts["macros"]],
    )
    if callable(sources):  # sources that need the program's environment (flags, paths)
        sources = sources(prog)
    objects = []
    for src in sorted(
        env.Flatten([env.File(s) if isinstance(s, str) else s for s in sources]),
        key=lambda n: n.srcnode().path,
    ):
        if os.path.splitext(src.name)[1] in (".o", ".a"):  # made by the SConstruct, its own way
            objects.append(src)
            continue
        rel = os.path.relpath(src.srcnode().abspath, env["FW_PROJECT"])
        if rel.startswith(".."):
            rel = src.name
        objects += prog.Object(out.File(f"obj/{name}/{os.path.splitext(rel)[0]}.o"), src)
    # Order only: the include scanner adds the header to the sources that really include it,
    # so an offset change recompiles those alone.
    env.Requires(objects, layout_h)
    startup = _default_startup(env, prog, out, name) if env.get("FW_STARTUP", True) else []
    return prog, objects + startup


def _link(env, prog, objects, name, region, subdir) -> Program:
    """Link ``objects`` into ``region``, check the ELF, make the .bin (link hooks) and .hex,
    all in ``subdir``."""
    facts = memo.facts(env)
    build = env.Dir("$FW_BUILD_DIR")
    out = build.Dir(subdir) if subdir else build
    layout_json, layout_h = _layout_files(env)
    program = facts["programs"].get(region)
    if program is None:  # not a region the facts know: ask the core, which names the problem
        from fwbuild.linker import context_signature, linker_context

        try:
            context = linker_context(memo.layout(env), region)
        except FwbuildError as exc:
            memo.die(str(exc))
        program = {"context": context_signature(context), "rom_start": context["rom"]["start"]}
    from fwbuild.paths import real_path

    if facts["linker_template"]:
        template = env.File(str(real_path(facts["linker_template"])))
    else:
        template = env.File(env.get("FW_LINKER_TEMPLATE") or facts["default_template"])
    script = env.FwLinkerScript(out.File(f"{name}.ld"), [template, env.Value(program["context"])])
    elf, link_map = prog.FwLink(
        out.File(f"{name}.elf"), objects, FW_LDSCRIPT=script[0], FW_PROGRAM_REGION=region
    )
    prog.Depends(elf, script)
    rom_start = program["rom_start"]
    # Named link hooks patch every program linked here, wherever it starts, as Mbed OS applies
    # its post-binary hook to every binary it builds for the target; repo link hooks patch
    # the application only.
    link_hooks = facts["hooks"]["link"]
    application = {slot["region"] for slot in facts["stages"][-1]["slots"]}
    repo_hooks = [h for h in env.get("FW_REPO_HOOKS", []) if h.stage == "link" and region in application]
    (binary,) = prog.FwObjcopy(
        out.File(f"{name}.bin"),
        [elf, layout_json],
        FW_LINK_HOOKS=link_hooks,
        FW_REPO_LINK_HOOKS=repo_hooks,
        FW_REPO_HOOK_SIG=" ".join(f"{h.name}:{h.signature}" for h in repo_hooks),
    )
    (ihex,) = prog.FwBinToHex(out.File(f"{name}.hex"), binary, FW_PROGRAM_START=rom_start)
    return Program(elf, link_map, binary, ihex, layout_json, layout_h)


def _default_startup(env, prog, out, name):
    """fwbuild's start-up code (fwbuild.startup) as an archive after the program's objects:
    the linker opens it only for an undefined Reset_Handler, so a program that brings its
    own start-up links exactly as without it. ``FW_STARTUP=False`` leaves it out."""
    facts, build = memo.facts(env), env.Dir("$FW_BUILD_DIR")

    def make():
        template = env.File(facts["startup_template"])
        return env.FwStartup(build.File("fwbuild-startup/startup.c"), [template, env.Value(facts["startup"])])

    source = memo.once(env, "FW_STARTUP_NODES", make, build.abspath, facts["startup"])
    folder = out.Dir(f"fwbuild-startup/{name}")
    library = prog.StaticLibrary(folder.File("libstartup.a"), prog.Object(folder.File("startup.o"), source))
    prog.Append(LINKFLAGS=["-Wl,--undefined=Reset_Handler"])  # taken even if a template has no ENTRY()
    return library


def TrustedKeys(env):
    """fwbuild_keys.c (with fwbuild_keys.h beside it, in the build folder): the keys the
    boot chain trusts and those it refuses, from fwbuild.json's signing section. Add the
    node to the sources of each stage that checks images; a key change recompiles it alone."""
    facts, build = memo.facts(env), env.Dir("$FW_BUILD_DIR")

    def make():
        from fwbuild.paths import real_path

        files = [env.File(str(real_path(path))) for path in facts["trusted_key_files"]]
        keys_c, _ = env.FwKeys(
            [build.File("fwbuild_keys.c"), build.File("fwbuild_keys.h")],
            [env.Value(facts["trusted_keys"]), *files],
        )
        return keys_c

    return memo.declared(env).get(("trusted keys", build.abspath, facts["trusted_keys"]), make)


class StageOutputs(NamedTuple):
    """One stage of the layout as built: a Program per slot (none for a prebuilt image),
    its slot images (signed stages), and the image ``combined.bin`` takes for it."""

    facts: dict
    programs: list
    signed: list
    image: Any  # slot 0 as flashed: the signed image, the program's .bin, or the prebuilt file


def Firmware(env, app, bootloader=None, stages=None):
    """The whole pipeline the layout asks for, as a walk over its programs in boot order:
    each built stage compiled once and linked once per slot, each slot with a header
    signed, the combined image (the first stage and slot 0 of every later one), reports.
    ``stages`` gives the sources of the stages built here ("@<stage>"); in an Mbed layout
    ``bootloader=`` is the bootloader's. Sources may be a function of the program's build
    environment, called only when the stage is built. Returns every output node."""
    targets = env.get("FW_TARGETS") or [env["FW_TARGET"]]
    if len(targets) > 1:  # target=all or A,B: one environment per target, one graph
        each = [env.Clone(FW_TARGET=name, FW_TARGETS=[name]) for name in targets]  # see memo.once
        folders.claim(*each)  # every build folder's lock at once, in sorted order
        nodes = []
        for one in each:
            nodes += one.Firmware(app, bootloader, stages)
        env["FW_FIRMWARE_DONE"] = True
        return nodes
    if _may_hand_over(env):
        from fwbuild.scons import ninja

        handed = ninja.handover(env)  # build.ninja is current: nothing to declare
        if handed is not None:
            env["FW_FIRMWARE_DONE"] = True
            return [handed]
    env["FW_FIRMWARE_PIPELINE"] = True  # the facts then include the signing choice
    facts = memo.facts(env)
    build = env.Dir("$FW_BUILD_DIR")
    env["FW_FIRMWARE_DONE"] = True
    given = _stage_sources(facts, app, bootloader, stages)
    built = [_build_stage(env, stage, given.get(stage["name"])) for stage in facts["stages"]]
    application = built[-1].programs[0]
    nodes = list(application) if len(built) == 1 else []
    for stage in built:
        for program in stage.programs:
            nodes += [program.elf, program.map, program.bin, program.hex]
        for signed in stage.signed:
            nodes += [n for n in signed if n is not None]
    if len(built) > 1:  # the layout files are the application's in a one-program layout
        nodes += [application.layout_json, application.layout_header]
    if facts["mode"] == "unmanaged":
        nodes += env.FwPostBuild(
            build.File("post-build.json"), [application.bin, env.Value(facts["layout_signature"])]
        )
    if len(built) == 1:
        image = built[0].image
        nodes += _image_hooks(env, image, nodes)
        aliases.run_alias(env, image)
        aliases.flash_alias(env, application.hex, facts["application_start"])
        aliases.debug_alias(env, image, application.elf)
        nodes += _memory_map(env, built)
        return _finish(env, nodes + _build_info(env, nodes))
    combined_bin, combined_hex = env.FwCombine(
        [build.File("combined.bin"), build.File("combined.hex")],
        [*(stage.image for stage in built), env.Value(facts["layout_signature"])],
        FW_COMBINE_REGIONS=[stage.facts["slots"][0]["region"] for stage in built],
    )
    nodes += [combined_bin, combined_hex]
    nodes += _image_hooks(env, combined_bin, nodes)
    aliases.run_alias(env, combined_bin)
    aliases.flash_alias(env, combined_hex, facts["flash_start"])
    combined_elf = _combined_elf(env, built)
    nodes.append(combined_elf)
    aliases.debug_alias(env, combined_bin, combined_elf)
    nodes += _memory_map(env, built)
    return _finish(env, nodes + _build_info(env, nodes))


def _may_hand_over(env) -> bool:
    """A ``ninja=1`` build that may give the work to Ninja before declaring anything: not a
    clean or a dry run, and not a line of several targets (it claims their folders first)."""
    return (
        bool(env.get("FW_NINJA"))
        and not SCons.Script.GetOption("clean")
        and folders.changes_folders()
        and not folders.claimed(env)
    )


def _finish(env, nodes):
    """The nodes to build: SCons builds them, or (``ninja=1``) Ninja from build.ninja."""
    if env.get("FW_NINJA"):
        from fwbuild.scons import ninja

        if not SCons.Script.GetOption("clean") and folders.changes_folders():
            return [ninja.generate(env, nodes)]
        ninja.keep(env, nodes)  # scons -c ninja=1 removes the outputs, not Ninja's file
    return progress.with_progress(env, nodes)


def _stage_sources(facts, app, bootloader, stages) -> dict:
    """The sources of every stage built in this run, by stage name: ``stages`` for a boot
    chain (one SConstruct may serve several targets, so sources of stages this layout does
    not have are left unused), ``bootloader=`` (or ``stages["bootloader"]``) for an Mbed
    layout's bootloader. A stage built here without sources stops the reading."""
    given = dict(stages or {})
    if facts["mode"] != "chain" and bootloader is not None:
        given["bootloader"] = bootloader
    for stage in facts["stages"][:-1]:
        name = stage["name"]
        if not stage["built"] or given.get(name):
            continue
        if facts["mode"] == "chain":
            memo.die(
                f'stage {name} is built here ("@{name}") but the SConstruct gives no sources for '
                f'it; call env.Firmware(app_sources, stages={{"{name}": sources}})'
            )
        memo.die(
            'bootloader_img is "@bootloader" but the SConstruct gives no bootloader sources; '
            "call env.Firmware(app_sources, bootloader=bootloader_sources)"
        )
    given[facts["stages"][-1]["name"]] = app
    return given


def _build_stage(env, stage, sources) -> StageOutputs:
    """A stage's programs (one link per slot from one set of objects) and slot images."""
    if not stage["built"]:
        from fwbuild.paths import real_path  # as in FirmwareProgram

        return StageOutputs(stage, [], [], env.File(str(real_path(stage["image"]))))
    name = stage["program"]
    prog, objects = _compile(env, name, sources, stage["folder"])
    programs = [_link(env, prog, objects, name, slot["region"], slot["folder"]) for slot in stage["slots"]]
    if not stage["header"]:
        return StageOutputs(stage, programs, [], programs[0].bin)
    signed = [_slot_image(env, stage, slot, program.bin) for slot, program in zip(stage["slots"], programs)]
    return StageOutputs(stage, programs, signed, signed[0].bin)


def _combined_elf(env, built):
    """combined.elf: the application's slot 0 ELF plus every earlier stage's bytes (and,
    where built here, its symbols), for a debugger."""
    app_elf = built[-1].programs[0].elf
    sources, parts = [app_elf], []
    for stage in built[:-1]:
        slot = stage.facts["slots"][0]
        elf = stage.programs[0].elf if stage.programs else None
        sources += [stage.image] + ([elf] if elf is not None else [])
        parts.append((stage.facts["name"], slot["region"], elf is not None))
    (node,) = env.FwCombinedElf(
        env.Dir("$FW_BUILD_DIR").File("combined.elf"), sources, FW_COMBINED_PARTS=parts
    )
    return node


def _memory_map(env, built):
    """memory-map.svg and size-report.json; the step prints the region summary. Every slot
    is measured by the image it holds (slot 0's, for the slots a single build fills)."""
    build = env.Dir("$FW_BUILD_DIR")
    application = built[-1].programs[0]
    sources = [env.Value(memo.facts(env)["layout_signature"]), application.elf, application.map]
    roles = ["elf", "map"]
    for stage in built:
        for index, slot in enumerate(stage.facts["slots"]):
            if stage.signed:
                image = stage.signed[index].bin
            elif stage.programs:
                image = stage.programs[index].bin
            else:
                image = stage.image
            sources.append(image)
            roles.append(f"region:{slot['region']}")
        if stage.programs and stage is not built[-1]:
            sources += [stage.programs[0].map, stage.programs[0].elf]
            roles += [f"map:{stage.facts['program']}", f"elf:{stage.facts['program']}"]
    return env.FwMemoryMap(
        [build.File("memory-map.svg"), build.File("size-report.json")], sources, FW_MEMMAP_ROLES=roles
    )


def _build_info(env, outputs):
    """build-info.json over every output; its metadata is path-free text."""
    epoch = memo.epoch(env).seconds if "FW_EPOCH_RESOLVED" in env else None  # Mbed headers only
    meta = {
        **memo.facts(env)["build_info"],
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "header_timestamp": epoch,
    }
    files = [n for n in outputs if not isinstance(n, SCons.Node.Python.Value)]
    return env.FwBuildInfo(
        env.Dir("$FW_BUILD_DIR").File("build-info.json"),
        [env.Value(json.dumps(meta, sort_keys=True)), *files],
    )


def _image_hooks(env, image, outputs):
    """Image-stage hooks, named ones first, each writing a new file: combined-crc.bin,
    app-crc.bin, or what a repo hook declares (a stamp when it declares nothing)."""
    nodes = []
    for name, suffix in memo.facts(env)["hooks"]["image"]:
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
        memo.die(f"{where} after env.Firmware(): register hooks first, then call env.Firmware()")
    if stage not in STAGES:
        memo.die(f'{where}: stage={stage!r} is not a stage; use stage="link" or stage="image"')
    if not (callable(hook) or isinstance(hook, str)):
        memo.die(f"{where}: {hook!r} is neither a callable nor a command line")
    name = name or getattr(hook, "__name__", None) or hook.split()[0].rsplit("/", 1)[-1]
    registered = env.get("FW_REPO_HOOKS", [])
    if any(h.name == name for h in registered):
        memo.die(f"{where}: a hook named {name!r} is already registered; give this one name=")
    if output is not None and stage == "link":
        memo.die(f"{where}: {name}: a link-stage hook writes the patched .bin (ctx.output), not output=")
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


def _slot_image(env, stage, slot, program_bin) -> SlotImage:
    """<prog>-signed.bin/.hex (+ .sig for Mbed formats with a key) in the slot's folder: the
    slot image as the stage before it sees it. Its sources carry the signing choice as
    path-free text."""
    facts = memo.facts(env)
    signing = slot["signing"]
    build = env.Dir("$FW_BUILD_DIR")
    folder = build.Dir(slot["folder"]) if slot["folder"] else build
    name = f"{stage['program']}-signed"
    described = dict(signing["described"])
    targets = [folder.File(f"{name}.bin"), folder.File(f"{name}.hex")]
    extra = {}
    if not facts["mcuboot_header"]:  # Mbed headers carry a time
        epoch = memo.epoch(env).seconds
        described["epoch"] = epoch
        extra = {"FW_EPOCH": epoch}
        if signing["signed"]:
            targets.append(folder.File(f"{name}.sig"))
    nodes = env.FwSlot(
        targets,
        [program_bin, env.Value(facts["layout_signature"]), env.Value(json.dumps(described, sort_keys=True))],
        FW_SLOT_REGION=slot["region"],
        **extra,
    )
    # A randomised signature must never come back from a cache; a deterministic one only
    # when the user asks for it.
    if signing["signed"] and not (signing["deterministic"] and env.get("FW_CACHE_SIGNED")):
        env.NoCache(nodes)
    return SlotImage(nodes[0], nodes[1], nodes[2] if len(nodes) > 2 else None)
