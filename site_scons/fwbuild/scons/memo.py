"""Values computed once per SCons environment: the resolved project, the graph facts, the
signer and the header epoch; and the one way a user error stops the reading of SConscripts."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import SCons.Errors
import SCons.Script

from fwbuild.errors import FwbuildError


def user_error(exc: FwbuildError) -> SCons.Errors.UserError:
    """A core error raised inside a build step: SCons prints it as one line and stops."""
    return SCons.Errors.UserError(str(exc))


def die(message: str) -> NoReturn:
    """Report a user error while reading the SConscripts: one paragraph, exit status 2."""
    from fwbuild.cli import format_error

    print(format_error(message), file=sys.stderr)
    SCons.Script.Exit(2)


class _Computed(tuple):
    """(settings, value) kept in an environment. SCons copies plain tuples, lists and dicts
    into every clone; this one the clones share, value and all."""


def once(env, key, make, *depends):
    """A value computed once per environment and the settings it ``depends`` on (a clone
    with other settings computes its own); a user error while computing it stops the
    reading of the SConscripts with its message."""
    known = env.get(key)
    if not isinstance(known, _Computed) or known[0] != depends:
        try:
            env[key] = known = _Computed((depends, make()))
        except FwbuildError as exc:
            die(str(exc))
    return known[1]


class Declared:
    """Nodes declared once per run whichever clone asks (a stage's environment is a clone):
    an object SCons does not copy into clones, keyed by what decides the nodes."""

    def __init__(self):
        self._nodes: dict = {}

    def get(self, key, make):
        if key not in self._nodes:
            self._nodes[key] = make()
        return self._nodes[key]


def declared(env) -> Declared:
    return env["FW_DECLARED"]


def resolved(env):
    """Resolve project + target once per environment."""

    def make():
        from fwbuild.resolve import resolve

        env["FW_RESOLVED_AT"] = time.time()  # inputs changed after this were not read
        resolved = resolve(env["FW_PROJECT"], env["FW_TARGET"], _read_cache(env))
        _read_cache(env).save()
        return resolved

    return once(env, "FW_RESOLVED", make, env["FW_PROJECT"], env["FW_TARGET"])


def layout(env):
    """The resolved Layout: every step that writes bytes reads it."""
    return resolved(env).layout


def facts(env):
    """What the graph needs from the resolved project (fwbuild.graphfacts), remembered in
    build/ and computed again, by resolving, only when something it came from has
    changed: a null build then skips importing the core. Steps that build resolve afresh.

    The first call for a build folder locks it (fwbuild.scons.folders): nothing of the
    folder is read before."""
    folder = (env["FW_BUILD_DIR"], env["FW_TARGET"], env["FW_PROFILE"])
    once(env, "FW_FOLDER_CLAIMED", lambda: _claim(env), *folder)
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
    return once(env, "FW_FACTS", lambda: _remembered_facts(env, settings), *settings.values())


def _claim(env):
    from fwbuild.scons import folders

    folders.claim(env)
    return True


def _remembered_facts(env, settings):
    from fwbuild import graphfacts

    build = env.Dir("$FW_BUILD_DIR")
    # Beside the read cache, not among the outputs: it holds this checkout's paths.
    remembered = Path(build.dir.abspath) / f".fwbuild-graph-{build.name}.json"
    facts = graphfacts.lookup(remembered, env["FW_PROJECT"], settings)
    if facts is None:
        project = resolved(env)
        choice = signer(env) if settings["signs"] and project.layout.has_headers else None
        facts = graphfacts.compute(project, choice, settings["profile"])
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
    """The run's ReadCache beside the targets' build folders (build/.fwbuild-cache.json):
    config files that passed their schema, signing keys' public facts."""
    if "FW_READ_CACHE" not in env:
        env["FW_READ_CACHE"] = read_cache_at(Path(env.Dir("$FW_BUILD_DIR").dir.abspath))
    return env["FW_READ_CACHE"]


_READ_CACHES: dict = {}  # folder -> ReadCache


def listing_cache(env):
    """The ReadCache for reading the project before a target is chosen (``target=all``
    lists the public targets, reading every target file): the one the default build folders
    (build/<target>) share, which the targets' builds save. Without it, each such run checks
    the project's config and the 35 shipped target files against their schema again, about
    200 ms, before anything is built."""
    return read_cache_at(Path(env.Dir("#build").abspath))


def read_cache_at(folder: Path):
    """One ReadCache per folder for the whole run, shared by every target's environment
    (and by ``target=all``'s listing of the targets): each target's resolve finds what the
    ones before it checked without reading the file again."""
    cache = _READ_CACHES.get(folder)
    if cache is None:
        from fwbuild.readcache import ReadCache

        cache = _READ_CACHES[folder] = ReadCache(folder / ".fwbuild-cache.json")
    return cache


def signer(env):
    """The signer for this run, chosen once: sign_key=/sign_command=, FWBUILD_SIGNING_KEY,
    fwbuild.json's signing section."""

    def make():
        from fwbuild.signing import choose_signer

        choice = choose_signer(
            resolved(env).project,
            env["FW_PROFILE"],
            env.get("FW_SIGN_KEY") or None,
            env.get("FW_SIGN_COMMAND") or None,
            cwd=Path(SCons.Script.GetLaunchDir()),
            cache=_read_cache(env),
        )
        _read_cache(env).save()
        return choice

    settings = ("FW_PROJECT", "FW_TARGET", "FW_PROFILE", "FW_SIGN_KEY", "FW_SIGN_COMMAND")
    return once(env, "FW_SIGNER_CHOICE", make, *(env.get(name) for name in settings))


def epoch(env):
    """The time an Mbed header carries, chosen once per environment (fwbuild.epoch)."""

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

    return once(env, "FW_EPOCH_RESOLVED", make, env["FW_PROJECT"], env["FW_PROFILE"])
