"""The Python steps of the pipeline as plain functions of paths and values, and the command
that runs one of them outside SCons: ``python -m fwbuild.steps STEP_FILE``.

SCons' actions (``fwbuild.scons.actions``) call these functions in-process; a Ninja build
(``ninja=1``, ``fwbuild.scons.ninja``) runs the same functions as ordinary commands, each
reading a step file written when ``build.ninja`` was generated: the step's name, its
input and output paths and the settings it needs. One implementation, so both ways give
the same bytes. A step that fails raises ``FwbuildError``; the command prints it as one
``error:`` paragraph and exits with status 2.

Each step is given a *context*: what it may ask of the project (``resolved()``,
``layout()``, ``signer()``), resolved only when the step needs it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fwbuild.errors import FwbuildError
from fwbuild.fileio import output_mode, remove_quietly, write_atomic


class StepContext:
    """The project as a step sees it outside SCons: resolved from the settings the step
    file carries, once per process, on first use."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._resolved = None
        self._signer = None

    def _cache(self):
        from fwbuild.readcache import ReadCache

        return ReadCache(Path(self.settings["read_cache"]))

    def resolved(self):
        if self._resolved is None:
            from fwbuild.resolve import resolve

            cache = self._cache()
            self._resolved = resolve(self.settings["project"], self.settings["target"], cache)
            cache.save()
        return self._resolved

    def layout(self):
        return self.resolved().layout

    def signer(self):
        if self._signer is None:
            from fwbuild.signing import choose_signer

            cache = self._cache()
            self._signer = choose_signer(
                self.resolved().project,
                self.settings["profile"],
                self.settings.get("sign_key") or None,
                self.settings.get("sign_command") or None,
                cwd=Path(self.settings["launch_dir"]),
                cache=cache,
            )
            cache.save()
        return self._signer


def say(text: str) -> None:
    """Print ``text`` and its newline in one write: SCons runs steps in parallel threads, and
    ``print`` writes the newline apart, so another step's line could land between them."""
    sys.stdout.write(text + "\n")


def write_text(out: str, text: str) -> None:
    """layout.json, fwbuild_layout.h: a text computed when the graph was read. The same
    text is not written again: what includes the header then stays up to date."""
    try:
        with open(out, encoding="utf-8", newline="") as stream:
            if stream.read() == text:
                return
    except OSError:
        pass
    write_atomic(out, text)


def render_startup(out: str, context_text: str) -> None:
    from fwbuild.startup import render_startup as render

    write_atomic(out, render(json.loads(context_text)))


def trusted_keys(ctx, out_c: str, out_h: str) -> None:
    """fwbuild_keys.c and fwbuild_keys.h from fwbuild.json's trusted and revoked keys."""
    from fwbuild.trustedkeys import HEADER, keys_c

    write_atomic(out_c, keys_c(ctx.resolved().project, ctx.signer().key_path))
    write_atomic(out_h, HEADER)


def render_linker_script(
    template: str, context_text: str, out: str, record: str, cache: str | None = None
) -> list[str]:
    """The linker script and the record of the template files the engine loaded or looked
    for (names relative to the template's folder); returns those names. ``cache``: where
    compiled templates are kept (``fwbuild.linker.render_linker_templates``)."""
    from fwbuild.linker import render_linker_templates

    rendered = render_linker_templates(json.loads(context_text), template, cache)
    write_atomic(record, json.dumps({"templates": rendered.templates}, sort_keys=True) + "\n")
    write_atomic(out, rendered.text)
    return rendered.templates


def check_elf(ctx, elf: str, region: str, others: Sequence[str] = (), after_link: bool = False) -> None:
    """Check where the sections landed, then move the linked program into place: the
    linker writes app.elf.tmp, so a killed link never leaves a truncated app.elf.
    ``after_link``: a Ninja build, where the check is a step after the link and the map
    stands for the link; the ELF is then made newer than the map."""
    from fwbuild.elfcheck import check_elf_placement

    linked = elf + ".tmp"
    if after_link and not os.path.exists(linked):
        raise FwbuildError(
            f"{linked}: the linked program is missing, though {others[0]} is newer than {elf}; "
            f"delete {others[0]} to link again"
        )
    try:
        check_elf_placement(linked, ctx.layout(), region)
    except FwbuildError:
        remove_quietly(linked, elf, *others)
        raise
    os.replace(linked, elf)
    if after_link:
        os.utime(elf)  # the map may be written after the program: the check is done


def link_failed(ctx, errors: str, elf: str, label: str, region: str) -> None:
    """A link that failed, in the layout's terms: ld's "region `FLASH' overflowed by N
    bytes" becomes the region, the size needed and the key to change (``label``: the ELF as
    the log names it); any other failure passes through as the linker said it."""
    from fwbuild.linker import ld_overflows, overflow_error

    text = Path(errors).read_text(errors="replace")
    remove_quietly(errors)
    overflows, other = ld_overflows(text)
    if not overflows:
        sys.stderr.write(text)
        raise SystemExit(1)
    if other:
        sys.stderr.write("\n".join(other) + "\n")
    remove_quietly(elf + ".tmp")
    resolved = ctx.resolved()
    messages = [
        str(overflow_error(label, o, resolved.layout, region, resolved.target.layout)) for o in overflows
    ]
    raise FwbuildError("\n".join(messages))


def run_hook(name: str, data: bytes, label: str) -> bytes:
    from fwbuild.hooks import REGISTRY

    try:
        return REGISTRY[name].run(data)
    except FwbuildError as exc:
        raise FwbuildError(f"post-build hook {name} on {label}: {exc}") from None


def objcopy(
    objcopy_tool: str,
    elf: str,
    out: str,
    hooks: Sequence[str],
    tool_env: dict[str, str] | None,
    repo_hooks: Sequence[Callable[[bytes, Path], bytes]] = (),
) -> None:
    """The program's .bin, patched by the link-stage hooks (the .hex is made from it)."""
    import subprocess

    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    cmd = [objcopy_tool, "-O", "binary", elf, str(tmp)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=tool_env)
    if result.returncode:
        remove_quietly(tmp)
        raise FwbuildError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    if not hooks and not repo_hooks:
        os.chmod(tmp, output_mode())  # objcopy copies the ELF's execute bits: this is data
        os.replace(tmp, path)
        return
    data = tmp.read_bytes()
    remove_quietly(tmp)
    for name in hooks:
        data = run_hook(name, data, path.name)
    for hook in repo_hooks:
        data = hook(data, path)
    write_atomic(path, data)


def bin_to_hex(binary: str, out: str, start: int) -> None:
    """The .hex at the program's link address, from the .bin after link-stage hooks."""
    from fwbuild.image import Part, hex_chunks

    data = Path(binary).read_bytes()
    write_atomic(out, hex_chunks([Part(Path(binary).name, start, data)]))


def image_hook(name: str, image: str, out: str) -> None:
    write_atomic(out, run_hook(name, Path(image).read_bytes(), Path(image).name))


def memory_map(ctx, roles: Sequence[str], inputs: Sequence[str], svg: str, report_out: str) -> None:
    """The region summary (printed), memory-map.svg and size-report.json. Inputs, by role:
    "elf"/"map" the application's slot 0 program, "region:<name>" the image each slot
    holds, "map:<program>" (and optionally "elf:<program>") an earlier stage built here."""
    from fwbuild.image import read_parts
    from fwbuild.memmap import map_sizes, memory_svg, program_sizes, program_uses, region_usage, summary_lines

    layout = ctx.layout()
    pairs = list(zip(roles, inputs))
    files = {role: Path(path) for role, path in pairs}
    app = program_sizes(files["elf"])
    sizes = {layout.stages[-1].program: app}
    for role, path in files.items():
        if role.startswith("map:"):
            program = role.split(":", 1)[1]
            # one link writes the ELF and the map beside it: the map's ELF is as new as the map
            sizes[program] = program_sizes(files.get(f"elf:{program}", path.with_suffix(".elf")))
    used: dict[str, int] = {}
    for role, path in pairs:
        if role.startswith("region:"):
            used.update(_slot_use(layout, role.split(":", 1)[1], Path(path)))
    image_bytes = {}  # a prebuilt stage: the bytes its image puts in its first slot, after a header
    for stage in layout.stages:
        image = files.get(f"region:{stage.slots[0].region}")
        if stage.program not in sizes and image is not None:
            held = sum(len(part.data) for part in read_parts(image, stage.slots[0].start))
            image_bytes[stage.program] = max(held - stage.header_size, 0)
    uses = region_usage(layout, used, {layout.main_ram: app.ram})
    say("\n".join(summary_lines(layout, uses, program_uses(layout, sizes, image_bytes))))
    write_atomic(svg, memory_svg(layout, uses))
    report = {"app": map_sizes(files["map"].read_text(errors="replace"))}
    for role, path in files.items():
        if role.startswith("map:"):
            report[role.split(":", 1)[1]] = map_sizes(path.read_text(errors="replace"))
    from fwbuild.memmap import size_report_json  # json.dumps(indent=2, sort_keys=True)'s text, faster

    write_atomic(report_out, size_report_json(report))


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


def combined_elf(
    ctx, objcopy_tool: str, app_elf: str, parts: Sequence[Sequence[Any]], inputs: Sequence[str], out: str
) -> None:
    """One ELF for GDB: the application's (sections, symbols, debug information) plus each
    earlier stage's loadable bytes as a ``.<stage>`` section at its addresses and, where it
    was built here, its symbols prefixed ``<stage>_``, so a debugger can step from one into
    the next. ``inputs``: per part its image, then its ELF when it has one."""
    import subprocess

    from fwbuild.elfcheck import program_symbols
    from fwbuild.image import merge, read_parts

    layout = ctx.layout()
    path = Path(out)
    cmd = [objcopy_tool]
    raws = []
    files = iter(inputs)
    for stage, region, has_elf in parts:
        image = next(files)
        symbols = program_symbols(next(files)) if has_elf else []
        found = read_parts(image, layout.program_region(region).start)
        start, end = min(p.start for p in found), max(p.end for p in found)
        raw = path.with_name(f".{stage}.tmp.bin")
        raws.append(raw)
        write_atomic(raw, merge(found, start, end, layout.erased_value))
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
    tmp = path.with_name(f".{path.name}.tmp")
    result = subprocess.run([*cmd, app_elf, str(tmp)], capture_output=True, text=True)
    remove_quietly(*raws)
    if result.returncode:
        remove_quietly(tmp)
        raise FwbuildError(f"making {path.name} failed: {result.stderr.strip()}")
    os.replace(tmp, path)


def build_info(build_dir: str, outputs: Sequence[str], meta_text: str, tools: dict, out: str) -> None:
    from fwbuild.buildinfo import build_info as describe

    build = Path(build_dir)
    files = [Path(p) for p in outputs if Path(p).is_relative_to(build)]
    write_atomic(out, describe(build, files, json.loads(meta_text), tools))


def slot_image(ctx, app_bin: str, outputs: Sequence[str], region: str, epoch: int | None) -> None:
    """<prog>-signed.bin/.hex (+ .sig for Mbed formats with a key)."""
    from fwbuild.image import Part, hex_chunks
    from fwbuild.signing import detached_signature, mcuboot_slot_image, stage_version
    from fwbuild.slot import mbed_slot_image

    resolved = ctx.resolved()
    layout, project = resolved.layout, resolved.project
    slot = layout.slot(region)
    version = stage_version(layout.stage_of(slot.region), project.version)
    signer = ctx.signer().signer
    app = Path(app_bin).read_bytes()
    if layout.header_format == "mcuboot":
        data = mcuboot_slot_image(layout, project.signing, version, app, signer, slot)
        signature = None
    else:
        data = mbed_slot_image(layout, app, epoch)
        signature = detached_signature(signer, data) if signer else None
    write_atomic(outputs[0], data)
    write_atomic(outputs[1], hex_chunks([Part("slot", slot.start, data)]))
    if signature is not None:
        write_atomic(outputs[2], signature)


def post_build(ctx, app_bin: str, out: str) -> None:
    from fwbuild.slot import post_build_description

    layout = ctx.layout()
    app = Path(app_bin).read_bytes()
    parts = [("application", layout.application.start, Path(app_bin).name, app)]
    write_atomic(out, post_build_description(layout, parts))


def combine(ctx, regions: Sequence[str], inputs: Sequence[str], out_bin: str, out_hex: str) -> None:
    from fwbuild.image import Part, hex_chunks, read_parts
    from fwbuild.slot import check_link_hooks, combined_image, combined_parts, split_nvm

    layout = ctx.layout()
    first_region, *later_regions = regions
    first, *later = inputs[: len(regions)]
    start = layout.program_region(first_region).start
    head = read_parts(first, start, name=f"{first_region} {Path(first).name}")
    head, nvm = split_nvm(layout, head)
    check_link_hooks(layout, head)
    slots = [
        Part(Path(path).name, layout.slot(region).start, Path(path).read_bytes())
        for region, path in zip(later_regions, later)
    ]
    parts = combined_parts(layout, head, slots, report=say)
    data = combined_image(layout, parts)
    write_atomic(out_bin, data)
    write_atomic(out_hex, hex_chunks(parts + nvm))


def _run(step: dict, ctx: StepContext) -> None:
    """One step as a step file describes it: ``name``, ``targets``, ``sources`` (paths),
    ``args`` (its values) and ``settings`` (what resolving the project needs)."""
    name, targets, sources, args = step["step"], step["targets"], step["sources"], step.get("args", {})
    if name == "startup":
        render_startup(targets[0], args["context"])
    elif name == "keys":
        trusted_keys(ctx, targets[0], targets[1])
    elif name == "ldscript":
        looked = render_linker_script(sources[0], args["context"], targets[0], targets[1], args.get("cache"))
        # a depfile, so that Ninja renders again when an included template changes
        folder = os.path.dirname(sources[0])
        found = [os.path.join(folder, n) for n in looked if os.path.isfile(os.path.join(folder, n))]
        write_atomic(step.get("depfile") or _dot(targets[0], ".d"), _depfile(targets[0], found))
    elif name == "check-elf":
        others = args.get("others", targets[1:])
        check_elf(ctx, targets[0], args["region"], others, args.get("after_link", False))
    elif name == "link-failed":
        link_failed(ctx, args["errors"], targets[0], args["label"], args["region"])
    elif name == "objcopy":
        objcopy(args["objcopy"], sources[0], targets[0], args["hooks"], args["tool_env"])
    elif name == "hex":
        bin_to_hex(sources[0], targets[0], args["start"])
    elif name == "image-hook":
        image_hook(args["hook"], sources[0], targets[0])
    elif name == "memory-map":
        memory_map(ctx, args["roles"], sources, targets[0], targets[1])
    elif name == "combined-elf":
        combined_elf(ctx, args["objcopy"], sources[0], args["parts"], sources[1:], targets[0])
    elif name == "build-info":
        build_info(args["build_dir"], sources, args["meta"], args["tools"], targets[0])
    elif name == "slot":
        slot_image(ctx, sources[0], targets, args["region"], args.get("epoch"))
    elif name == "post-build":
        post_build(ctx, sources[0], targets[0])
    elif name == "combine":
        combine(ctx, args["regions"], sources, targets[0], targets[1])
    else:
        raise FwbuildError(f"unknown step {name!r}: the step file was written by another fwbuild")


def _dot(path: str, suffix: str) -> str:
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}{suffix}")


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(" ", "\\ ").replace("$", "$$").replace("#", "\\#")


def _depfile(target: str, deps: Sequence[str]) -> str:
    return f"{_escape(target)}: " + " ".join(_escape(d) for d in deps) + "\n"


def _depfile_deps(path: str) -> list[str]:
    """The dependencies of a depfile ``_depfile`` wrote (none if it is missing)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError:
        return []
    words, word, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            word, i = word + text[i + 1], i + 2
            continue
        if char == "$" and text[i + 1 : i + 2] == "$":
            word, i = word + "$", i + 2
            continue
        if char.isspace():
            if word:
                words.append(word)
            word = ""
        else:
            word += char
        i += 1
    if word:
        words.append(word)
    return words[1:]  # after "target:"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fwbuild.steps STEP_FILE`` runs one step; ``--when-stale STEP_FILE...``
    runs, in order, each step whose outputs are missing or older than its inputs or its
    step file (or than an output an earlier step of this run wrote), printing its label:
    steps fused into one Ninja edge (``fwbuild.ninjafile``). With ``--depfile PATH`` it
    then writes there, for the first step's first output, every dependency the steps'
    own depfiles list, for Ninja to read."""
    args = list(sys.argv[1:] if argv is None else argv)
    when_stale = args[:1] == ["--when-stale"]
    files = args[1:] if when_stale else args
    depfile = None
    if when_stale and files[:1] == ["--depfile"] and len(files) > 1:
        depfile, files = files[1], files[2:]
    if not files or (len(files) > 1 and not when_stale):
        print("usage: python -m fwbuild.steps [--when-stale [--depfile PATH]] STEP_FILE...", file=sys.stderr)
        return 2
    written: set[str] = set()
    contexts: dict[str, StepContext] = {}  # steps with the same settings resolve the project once
    loaded = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as stream:
                step = json.load(stream)
        except (OSError, ValueError) as exc:
            step_error = f"{path}: cannot read the step file ({exc}); run scons ninja=1 again to write it"
            print(f"error: {step_error}", file=sys.stderr)
            return 2
        loaded.append(step)
        if when_stale:
            if not _stale(path, step, written):
                continue
            if step.get("label"):
                print(step["label"], flush=True)
        settings = step.get("settings", {})
        ctx = contexts.setdefault(json.dumps(settings, sort_keys=True), StepContext(settings))
        try:
            _run(step, ctx)
        except (FwbuildError, OSError) as exc:
            from fwbuild.cli import format_error

            if isinstance(exc, OSError):  # an input gone, a folder not writable: name the file
                message = f"{exc.filename}: {exc.strerror}; the build step {step.get('step')} cannot go on"
            else:
                message = str(exc)
            print(format_error(message), file=sys.stderr)
            return 2
        written.update(step.get("targets", ()))
    if depfile is not None:
        deps = [d for step in loaded if step.get("depfile") for d in _depfile_deps(step["depfile"])]
        write_atomic(depfile, _depfile(loaded[0]["targets"][0], list(dict.fromkeys(deps))))
    return 0


def _stale(path: str, step: dict, written: set[str]) -> bool:
    """Ninja's rule for one step of a fused edge: an output missing, or older than an
    input (the step file included), or an input written earlier in this run."""
    inputs = [path, *step.get("inputs", step.get("sources", ()))]
    if step.get("depfile"):  # what its last run read besides (included templates)
        inputs += _depfile_deps(step["depfile"])
    if any(i in written for i in inputs):
        return True
    try:
        oldest = min(os.stat(t).st_mtime_ns for t in step["targets"])
        newest = max(os.stat(i).st_mtime_ns for i in inputs)
    except (OSError, KeyError, ValueError):
        return True  # a missing file: the step runs (and names an input it cannot read)
    return newest > oldest


if __name__ == "__main__":
    sys.exit(main())
