"""``ninja=1``: SCons reads the graph, Ninja runs it.

``Firmware()`` declares the pipeline as always; in Ninja mode ``generate`` then writes
``build/<target>/build.ninja`` from the declared nodes and returns one alias that runs
``ninja -C build/<target>``. Afterwards ``ninja -C build/<target>`` alone builds: compile,
link, check, sign, merge. Each edge is an ordinary command:

* compiles, archives and links run the very command line SCons would, from SCons' top
  folder (so objects, maps and images are the same bytes); a compile also writes a gcc
  depfile, its paths made absolute, so that header edits rebuild what includes them;
* fwbuild's Python steps run as ``python -m fwbuild.steps <step file>``, the same
  functions the SCons actions call (``fwbuild.steps``), each reading a step file written
  here (only when its content changes, so its time says when the step's settings did).

SCons' own Ninja tool is not used: it hands Python steps to a background SCons daemon and
changes the build targets of every environment once loaded. The generator edge re-runs
this SCons line (generating only) when a SConstruct, fwbuild's code, ``fwbuild.json``, a
target file, a template or a key changes.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import SCons.Action
import SCons.Node
import SCons.Node.FS
import SCons.Node.Python
import SCons.Script
import SCons.Subst

from fwbuild import ninjafile
from fwbuild.fileio import write_atomic
from fwbuild.scons import actions, builders, memo

GENERATE_ONLY = "FWBUILD_NINJA_GENERATE_ONLY"
# Set for the Ninja a scons run starts: that run has just written build.ninja and holds the
# build folder's lock, so Ninja's generator edge must not start another scons.
FROM_SCONS = "FWBUILD_NINJA_FROM_SCONS"


def ninja_binary() -> str:
    """The ninja program of the ``ninja`` package on PyPI; a clear error without it."""
    try:
        import ninja
    except ImportError:
        memo.die(
            "ninja=1: the ninja package is not installed in the Python that runs SCons; install it "
            "with: pip install 'ninja==1.13.2' (or pip install 'fwbuild[ninja]'), or build without ninja=1"
        )
    path = os.path.join(ninja.BIN_DIR, "ninja")
    if not os.path.exists(path):
        memo.die(
            f"ninja=1: the ninja package has no program at {path}; reinstall it: pip install 'ninja==1.13.2'"
        )
    return path


_STEPS = {
    actions.write_value: "text",
    actions.render_startup_code: "startup",
    actions.trusted_keys_action: "keys",
    builders.render_linker_script: "ldscript",
    actions.check_elf: "check-elf",
    actions.objcopy: "objcopy",
    actions.bin_to_hex: "hex",
    actions.image_hook_action: "image-hook",
    actions.memory_map_action: "memory-map",
    actions.combined_elf_action: "combined-elf",
    actions.build_info_action: "build-info",
    actions.slot_action: "slot",
    actions.post_build_action: "post-build",
    actions.combine_action: "combine",
}


class _Writer:
    def __init__(self, env, roots):
        self.env = env
        self.top = env.Dir("#").abspath
        self.build = env.Dir("$FW_BUILD_DIR").abspath
        self.steps_dir = os.path.join(self.build, ".ninja-steps")
        self.edges: list[ninjafile.Edge] = []
        self.compdb: list[dict] = []
        self.outputs: set[str] = set()
        self.step_files: set[str] = set()
        self.roots = roots
        self.tools = None
        self.source_dirs: set[str] = set()  # a source added or removed there changes the graph

    def settings(self) -> dict:
        env = self.env
        return {
            "project": env["FW_PROJECT"],
            "target": env["FW_TARGET"],
            "profile": env["FW_PROFILE"],
            "sign_key": env.get("FW_SIGN_KEY") or None,
            "sign_command": env.get("FW_SIGN_COMMAND") or None,
            "launch_dir": SCons.Script.GetLaunchDir(),
            "read_cache": os.path.join(os.path.dirname(self.build), ".fwbuild-cache.json"),
        }

    def walk(self):
        seen, executors = set(), []
        stack = list(self.roots)
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if not node.has_builder() or isinstance(node, SCons.Node.Python.Value):
                continue
            executor = node.get_executor()
            if id(executor) not in seen:
                seen.add(id(executor))
                executors.append(executor)
            stack += [n for n in executor.get_all_sources() if n.has_builder()]
            stack += [n for n in node.depends + (node.prerequisites or []) if n.has_builder()]
        for executor in sorted(executors, key=lambda e: e.get_all_targets()[0].abspath):
            self.edge(executor)

    def edge(self, executor):
        targets = executor.get_all_targets()
        sources = executor.get_all_sources()
        env = executor.get_build_env()
        files = [n.abspath for n in sources if isinstance(n, SCons.Node.FS.Base)]
        implicit, order = [], []
        for node in targets:
            implicit += [n.abspath for n in node.depends if isinstance(n, SCons.Node.FS.Base)]
            order += [n.abspath for n in node.prerequisites or [] if isinstance(n, SCons.Node.FS.Base)]
        commands, step_files, depfile, labels, links, checked = [], [], None, [], False, False
        for act in _flatten(executor.get_action_list(), targets, sources, env):
            label = _label(act, targets, sources, env)
            labels.append(label)
            if isinstance(act, SCons.Action.FunctionAction):
                function = getattr(act.execfunction, "func", None)
                name = _STEPS.get(function)
                if function is actions.repo_image_hook_action:
                    memo.die(
                        f"ninja=1: the SConstruct registers the image-stage hook "
                        f"{env['FW_REPO_HOOK'].name} with env.FirmwarePostBuild(); Ninja cannot run "
                        "the hooks of a SConstruct yet: build without ninja=1"
                    )
                if name is None:
                    memo.die(
                        f"ninja=1: {targets[0].get_internal_path()} is made by a Python function "
                        f"({getattr(function, '__name__', act.function_name())}) Ninja cannot run; "
                        "build it without ninja=1"
                    )
                if name == "text":  # a copy of the text kept here: no Python process
                    kept = self.kept_text(targets[0], sources)
                    implicit.append(kept)
                    commands.append(_copy_if_changed(kept, targets[0].abspath))
                    continue
                code = act.execfunction.get_contents(targets, sources, env).decode()
                if name == "check-elf" and links:  # a step after the link
                    self.checked_link(targets, env, code, label)
                    checked = True
                    continue
                step_file, inputs = self.step_file(name, targets, sources, env, code, label)
                implicit += [step_file, *inputs]
                if commands:  # after a command: run in the same line
                    commands.append(f"{_steps_command()} {shlex.quote(step_file)}")
                else:
                    step_files.append(step_file)
                if name == "ldscript":
                    depfile = self.ldscript_depfile(targets[0])
            else:
                if step_files:  # a command after steps: keep the order
                    commands += [f"{_steps_command()} {shlex.quote(f)}" for f in step_files]
                    step_files = []
                line = _command_line(act, targets, sources, env)
                if isinstance(act, builders._LinkAction):
                    line = self.explained_link(line, targets, env)
                    links = True
                if _is_compile(act, env) and len(targets) == 1:
                    depfile = _dot(targets[0].abspath, ".d")
                    self.source_dirs.add(os.path.dirname(sources[0].srcnode().abspath))
                    self.compdb.append(
                        {
                            "directory": self.top,
                            "command": line,
                            "file": sources[0].abspath,
                            "output": targets[0].abspath,
                        }
                    )
                    line += f" -MMD -MF {shlex.quote(depfile)}" + _absolute_deps(depfile, self.top)
                commands.append(line)
        if any(t.abspath.endswith(".a") for t in targets):  # ar adds to an archive left there
            commands.insert(0, "rm -f " + " ".join(shlex.quote(t.abspath) for t in targets))
        outs = [t.abspath for t in targets]
        self.outputs.update(outs)
        if checked:  # the ELF is the check's output; the link's, its map
            outs = outs[1:]
        self.edges.append(
            ninjafile.Edge(
                outputs=tuple(outs),
                inputs=tuple(files),
                implicit=tuple(dict.fromkeys(implicit)),
                order_only=tuple(dict.fromkeys(order)),
                commands=tuple(commands),
                step_files=tuple(step_files),
                description=next((label for label in labels if label), targets[0].name),
                depfile=depfile,
                links=links,
            )
        )

    def steps_path(self, output: str, suffix: str) -> str:
        """The file in the steps folder named after a step's first output and its kind."""
        rel = os.path.relpath(output, self.build).replace("/", "_")
        return os.path.join(self.steps_dir, f"{rel}{suffix}")

    def keep_step(self, output: str, suffix: str, text: str) -> str:
        """Write a file of the steps folder (only when its text changed: its time says when
        the step's settings did) and keep it from the stale sweep; returns its path."""
        path = self.steps_path(output, suffix)
        _write_if_changed(path, text)
        self.step_files.add(path)
        return path

    def ldscript_depfile(self, script) -> str:
        """Where a linker script's step lists the templates it included (kept there when
        the scripts are fused: Ninja reads, then removes, only the fused edge's)."""
        return self.steps_path(script.abspath, ".d")

    def checked_link(self, targets, env, code, label) -> None:
        """The ELF check of a link, as a step of its own after it, so that it runs among the
        steps after the links, in their one process. The link writes app.elf.tmp and the
        map (SCons' command line, so the map is the same bytes); the check moves the program
        into place as app.elf only if it passes. The map is what Ninja knows the link by:
        app.elf.tmp is gone once checked."""
        elf, link_map = targets[0].abspath, targets[1].abspath
        step = {
            "step": "check-elf",
            "targets": [elf],
            "sources": [link_map],
            "inputs": [link_map],
            "args": {"region": env["FW_PROGRAM_REGION"], "others": [link_map], "after_link": True},
            "code": code,
            "settings": self.settings(),
            "label": label,
        }
        path = self.keep_step(elf, ".check-elf.json", json.dumps(step, indent=1, sort_keys=True) + "\n")
        self.edges.append(
            ninjafile.Edge(
                outputs=(elf,),
                inputs=(link_map,),
                implicit=(path,),
                step_files=(path,),
                description=label or f"CHECK {targets[0].get_internal_path()}",
            )
        )

    def explained_link(self, line, targets, env):
        """The link, its messages kept: on failure fwbuild.steps says what ld's overflow
        means for the layout (as the SCons path's link action does), else passes them on."""
        errors = _dot(targets[0].abspath, ".ld-errors")
        step = {
            "step": "link-failed",
            "targets": [t.abspath for t in targets],
            "sources": [],
            "args": {
                "errors": errors,
                "label": targets[0].get_internal_path(),
                "region": env.get("FW_PROGRAM_REGION", "application"),
            },
            "settings": self.settings(),
        }
        text = json.dumps(step, indent=1, sort_keys=True) + "\n"
        path = self.keep_step(targets[0].abspath, ".link-failed.json", text)
        failed = f"{_steps_command()} {shlex.quote(path)}"
        quoted = shlex.quote(errors)
        return f"{{ {line} 2> {quoted} || {{ {failed}; exit 1; }}; }} && cat {quoted} >&2 && rm -f {quoted}"

    def kept_text(self, target, sources) -> str:
        """layout.json, fwbuild_layout.h: the text computed when the graph was read, kept in
        the steps folder (rewritten only when it changes) for the edge to copy."""
        text = next(n.get_text_contents() for n in sources if isinstance(n, SCons.Node.Python.Value))
        return self.keep_step(target.abspath, ".text", text)

    def step_file(self, name, targets, sources, env, code, label=""):
        """Write the step's file (when changed); returns it and the step's file inputs."""
        args: dict = {}
        values = [n.get_text_contents() for n in sources if isinstance(n, SCons.Node.Python.Value)]
        paths = [n.abspath for n in sources if not isinstance(n, SCons.Node.Python.Value)]
        if name == "startup":
            args["context"] = values[0]
        elif name == "ldscript":
            args.update(context=values[0], cache=builders.template_cache(env))
        elif name == "check-elf":
            args["region"] = env["FW_PROGRAM_REGION"]
        elif name == "objcopy":
            if env.get("FW_REPO_LINK_HOOKS"):
                memo.die(
                    "ninja=1: the SConstruct registers link-stage hooks with env.FirmwarePostBuild(); "
                    "Ninja cannot run them yet: build without ninja=1"
                )
            args.update(
                objcopy=env.subst("$FW_OBJCOPY"), hooks=env.get("FW_LINK_HOOKS") or [], tool_env=env["ENV"]
            )
        elif name == "hex":
            args["start"] = env["FW_PROGRAM_START"]
        elif name == "image-hook":
            args["hook"] = env["FW_IMAGE_HOOK"]
        elif name == "memory-map":
            args["roles"] = list(env["FW_MEMMAP_ROLES"])
        elif name == "combined-elf":
            args.update(objcopy=env.subst("$FW_OBJCOPY"), parts=[list(p) for p in env["FW_COMBINED_PARTS"]])
        elif name == "build-info":
            from fwbuild.scons import toolchain

            if self.tools is None:
                self.tools = toolchain.versions(env)
            args.update(build_dir=self.build, meta=values[0], tools=self.tools)
        elif name == "slot":
            args.update(region=env["FW_SLOT_REGION"], epoch=env.get("FW_EPOCH"))
        elif name == "combine":
            args["regions"] = list(env["FW_COMBINE_REGIONS"])
            paths = paths[: len(args["regions"])]
        step = {
            "step": name,
            "targets": [t.abspath for t in targets],
            "sources": paths,
            "args": args,
            "values": values,  # every text the step's SCons signature holds
            "code": code,  # and its code: a new fwbuild redoes the steps whose code changed
            "settings": self.settings(),
            "label": label,  # printed when it runs among other steps (--when-stale)
            "depfile": self.ldscript_depfile(targets[0]) if name == "ldscript" else None,
            # what its outputs must be newer than (with the step file) for --when-stale to skip it
            "inputs": sorted(
                {n.abspath for n in sources if isinstance(n, SCons.Node.FS.Base)}
                | {n.abspath for t in targets for n in t.depends if isinstance(n, SCons.Node.FS.Base)}
            ),
        }
        path = self.keep_step(
            targets[0].abspath, f".{name}.json", json.dumps(step, indent=1, sort_keys=True) + "\n"
        )
        return path, paths

    def text(self, regenerate: list[str], command: str) -> str:
        head = [
            "# Written by fwbuild (scons ninja=1) from the SCons graph; edits are lost.",
            "ninja_required_version = 1.10",
            "rule run",
            "  command = $cmd",
            "  description = $desc",
            "  restat = 1",
            "rule cc",
            "  command = $cmd",
            "  description = $desc",
            "  depfile = $depfile",
            "  deps = gcc",
            "rule regenerate",
            "  command = $cmd",
            "  description = regenerating build.ninja",
            "  generator = 1",
            "  restat = 1",
            "  pool = console",
            "",
            # Ninja looks for the edge of the file it read by the name it read it by.
            "build build.ninja: regenerate | " + " ".join(map(ninjafile.escape, regenerate)),
            f"  cmd = {ninjafile.variable(command)}",
            "",
        ]
        roots = [
            n.abspath for n in self.roots if isinstance(n, SCons.Node.FS.Base) and n.abspath in self.outputs
        ]
        tail = ["", f"build all: phony {' '.join(map(ninjafile.escape, sorted(roots)))}", "default all", ""]
        edges = ninjafile.fuse(self.edges, os.path.join(self.steps_dir, "linker-scripts.d"))
        body = "\n\n".join(ninjafile.statement(e, self.top, _steps_command()) for e in edges)
        return "\n".join(head) + body + "\n" + "\n".join(tail)


def _steps_command() -> str:
    """``python -m fwbuild.steps`` with the Python and the fwbuild this SCons run uses: a
    checkout's site_scons/ is on SCons' path without being installed."""
    package_parent = str(Path(__file__).resolve().parents[2])
    return (
        f"PYTHONPATH={shlex.quote(package_parent)}${{PYTHONPATH:+:$PYTHONPATH}} "
        f"{shlex.quote(sys.executable)} -m fwbuild.steps"
    )


def _copy_if_changed(kept: str, out: str) -> str:
    """The same text is not written again (restat), so what includes the header stays up to
    date; a new text goes into place by rename, never half-written."""
    tmp = shlex.quote(_dot(out, ".tmp"))
    kept, out = shlex.quote(kept), shlex.quote(out)
    return f"{{ cmp -s {kept} {out} || {{ cp {kept} {tmp} && mv -f {tmp} {out}; }}; }}"


def _dot(path: str, suffix: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{suffix}")


def _absolute_deps(depfile: str, top: str) -> str:
    """gcc names the files as it opened them, relative to the top folder; Ninja reads them
    relative to the build folder: every relative word of the depfile is made absolute (the
    top folder escaped as a depfile escapes it). A measured fast path in the shell's own
    builtins, 0.4 ms a compile, where running sed cost 2.6 ms (2.6 s of CPU at 1,000 files).
    Each line of the file becomes a positional parameter until it is written back."""
    escaped = top.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")
    d, t = shlex.quote(depfile), shlex.quote(escaped + "/")
    loop = (
        f't={t}; set -f; set --; while IFS= read -r l || [ -n "$l" ]; do n=; for w in $l; do '
        'case $w in /*|\\\\) n="$n $w";; *) n="$n $t$w";; esac; done; set -- "$@" "${n# }"; '
        f"done < {d}; printf '%s\\n' \"$@\" > {d}"
    )
    return f" && {{ {loop}; }}"


def _flatten(action, targets, sources, env):
    if isinstance(action, (list, tuple)):
        for one in action:
            yield from _flatten(one, targets, sources, env)
    elif isinstance(action, SCons.Action.ListAction):
        for one in action.list:
            yield from _flatten(one, targets, sources, env)
    elif isinstance(action, SCons.Action.LazyAction):
        yield from _flatten(action._generate_cache(env), targets, sources, env)
    elif isinstance(action, SCons.Action.CommandGeneratorAction):
        yield from _flatten(action._generate(targets, sources, env, 0), targets, sources, env)
    elif action is not None:
        yield action


def _command_line(act, targets, sources, env) -> str:
    """The command line SCons would run, as the shell would be given it."""
    cmd_list, _, _ = act.process(targets, sources, env)
    escape = env.get("ESCAPE", lambda x: x)
    lines = [" ".join(SCons.Subst.escape_list(cmd, escape)) for cmd in cmd_list if cmd]
    return " && ".join(lines)


def _is_compile(act, env) -> bool:
    text = getattr(act, "cmd_list", "")
    return isinstance(text, str) and any(
        text in (f"${name}", env.get(name)) for name in ("CCCOM", "ASPPCOM", "ASCOM", "CXXCOM")
    )


def _label(act, targets, sources, env) -> str:
    try:
        text = act.strfunction(targets, sources, env)
    except Exception:  # a label is cosmetic: never stop the generation for it
        return ""
    return (text or "").strip()


def _write_if_changed(path: str, text: str) -> bool:
    try:
        with open(path, encoding="utf-8") as stream:
            if stream.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text)
    return True


def _regenerate_deps(env) -> list[str]:
    """What shapes the graph: the SConscripts, fwbuild's code, the project's files (fwbuild.json,
    target files, keys: what the graph facts were read from) and the templates."""
    from fwbuild import graphfacts

    deps = {os.path.abspath(str(s)) for s in SCons.Node.SConscriptNodes}
    package = Path(__file__).resolve().parents[1]
    deps.update(str(p) for p in package.rglob("*.py"))
    facts = memo.facts(env)
    settings = {
        "target": env["FW_TARGET"],
        "profile": env["FW_PROFILE"],
        "signs": True,
    }
    try:
        record = graphfacts.input_record(env["FW_PROJECT"], settings, facts["targets_dirs"], facts["read"])
        deps.update(str(p) for p in record["files"] if os.path.isfile(p))
    except (KeyError, TypeError, ValueError, OSError):
        pass
    for name in ("default_template", "startup_template", "linker_template"):
        if facts.get(name):
            deps.add(str(Path(facts[name]).resolve()))
    for key in (env.get("FW_SIGN_KEY"),):
        if key:
            deps.add(os.path.abspath(os.path.join(SCons.Script.GetLaunchDir(), key)))
    return sorted(d for d in deps if os.path.exists(d))


def _regenerate_command(target: str) -> str:
    """This scons line, generating only, for this build folder's target alone (a line that
    builds several targets writes one build.ninja each)."""
    args = [f"target={target}" if a.startswith("target=") else a for a in sys.argv[1:]]
    argv = [sys.executable, os.path.abspath(sys.argv[0]), *args]
    line = " ".join(shlex.quote(a) for a in argv)
    launch = shlex.quote(SCons.Script.GetLaunchDir())
    return f'test -n "${{{FROM_SCONS}:-}}" || {{ cd {launch} && {GENERATE_ONLY}=1 {line} > /dev/null; }}'


def generate(env, nodes):
    """Write build.ninja for ``nodes`` (Firmware()'s outputs) and compile_commands.json;
    return the alias that runs Ninja (nothing to run when only generating)."""
    binary = ninja_binary()
    build = env.Dir("$FW_BUILD_DIR").abspath
    ninja_file = os.path.join(build, "build.ninja")
    record = os.path.join(build, ".ninja-steps", "generated.json")
    fingerprint = _fingerprint()
    if os.environ.get(GENERATE_ONLY) == "1" or not _current(ninja_file, record, fingerprint):
        writer = _Writer(env, nodes)
        writer.walk()
        inside = [d for d in writer.source_dirs if os.path.commonpath([d, build]) != build]
        deps = sorted(set(_regenerate_deps(env)) | set(inside))
        os.makedirs(build, exist_ok=True)
        _write_if_changed(ninja_file, writer.text(deps, _regenerate_command(env["FW_TARGET"])))
        compdb = json.dumps(writer.compdb, indent=2) + "\n"
        _write_if_changed(os.path.join(build, "compile_commands.json"), compdb)
        _write_if_changed(record, json.dumps({"fingerprint": fingerprint, "deps": deps}, indent=1) + "\n")
        for stale in [*Path(writer.steps_dir).glob("*.json"), *Path(writer.steps_dir).glob("*.text")]:
            if str(stale) not in writer.step_files and str(stale) != record:
                stale.unlink()
        os.utime(ninja_file)  # newer than every input: this run's Ninja must not regenerate it
    if os.environ.get(GENERATE_ONLY) == "1":
        alias = env.Alias(f"fw-ninja-{env['FW_TARGET']}", [])
        env.AlwaysBuild(alias)
        keep(env, alias)
        return alias
    return _run_alias(env, binary, build)


def handover(env):
    """The alias that runs Ninja, when build.ninja is current: then ``Firmware()`` declares
    nothing (about 50 ms of an unchanged K64F line). None when it must be written first."""
    if os.environ.get(GENERATE_ONLY) == "1":
        return None
    build = env.Dir("$FW_BUILD_DIR").abspath
    record = os.path.join(build, ".ninja-steps", "generated.json")
    if not _current(os.path.join(build, "build.ninja"), record, _fingerprint()):
        return None
    return _run_alias(env, ninja_binary(), build, label=env.Dir("$FW_BUILD_DIR").get_internal_path())


def _run_alias(env, binary: str, build: str, label: str | None = None):
    """The alias that runs Ninja; with ``label``, holding the build folder's lock meanwhile
    (a run that declared the graph holds it already, fwbuild.scons.folders)."""
    jobs = SCons.Script.GetOption("num_jobs")

    def run_ninja(target, source, env):
        ninja_env = {**os.environ, FROM_SCONS: "1"}
        locks = None
        if label is not None:
            from fwbuild.buildlock import FolderLocks

            locks = FolderLocks()
            locks.hold([(build, label)])
        try:
            result = subprocess.run([binary, "-C", build, f"-j{jobs}"], check=False, env=ninja_env)
        finally:
            if locks is not None:
                locks.release()
        return 1 if result.returncode else 0

    alias = env.Alias(f"fw-ninja-{env['FW_TARGET']}", [], SCons.Action.Action(run_ninja, f"ninja -C {build}"))
    env.AlwaysBuild(alias)
    keep(env, alias)
    return alias


def _fingerprint() -> str:
    """What shapes the graph besides files: this scons line (but for how many jobs or how
    much it prints) and the environment variables a build reads."""
    import hashlib

    import fwbuild

    args = [a for a in sys.argv[1:] if not a.startswith(("-j", "--jobs", "-Q", "-s", "--silent"))]
    names = ("PATH", "SOURCE_DATE_EPOCH", "LIBSODIUM_DIR", "HOME", "TMPDIR")
    environ = {
        k: v
        for k, v in sorted(os.environ.items())
        if (k in names or k.startswith(("FWBUILD_", "CCACHE_", "DISTCC_")))
        and k not in (GENERATE_ONLY, FROM_SCONS)
    }
    text = json.dumps([fwbuild.__version__, sys.executable, SCons.Script.GetLaunchDir(), args, environ])
    return hashlib.sha256(text.encode()).hexdigest()


def _current(ninja_file: str, record: str, fingerprint: str) -> bool:
    """build.ninja was written by this same line and nothing it was generated from changed
    since: the graph is the same, and this run hands over to Ninja without walking it."""
    try:
        with open(record, encoding="utf-8") as stream:
            known = json.load(stream)
        written = os.stat(ninja_file).st_mtime_ns
        if known["fingerprint"] != fingerprint:
            return False
        return all(os.stat(dep).st_mtime_ns < written for dep in known["deps"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def keep(env, nodes) -> None:
    """Declare build.ninja and compile_commands.json (side effects: SCons neither builds nor
    cleans them), so that the build folder's tidying keeps them, ``scons -c`` included."""
    build = env.Dir("$FW_BUILD_DIR")
    files = [build.File("build.ninja"), build.File("compile_commands.json")]
    env.SideEffect(files, nodes)
    env.NoClean(files)
