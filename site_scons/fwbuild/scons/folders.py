"""Build folders: one build at a time in each, and after every build only what the
configuration produces.

``claim`` is called before anything reads a build folder's state (the first ``memo.facts``
of an environment): the run then holds the folder's lock (fwbuild.buildlock) until it exits,
and tidies the folder when SCons has finished building, just before it writes its signature
database:

1. every declared output downstream of a failed step (and the failed step's own outputs) is
   removed, so that no ``combined.*`` or signed image of an earlier configuration survives
   a failed build;
2. every file the graph does not declare is removed (fwbuild.outputs.sweep): outputs the
   configuration no longer produces, objects of deleted sources, leftovers of killed builds;
3. SCons' signature database (one file at the project top for every target) is written under
   a lock on its folder, merged with what other builds wrote since this one read it: each
   build replaces only the folders it wrote signatures for. Without that, two builds of
   different targets at once lose one's signatures, and a later build can take an image made
   with other settings for up to date.

``scons -h``, ``-n`` and ``-q`` change no build folder: they neither wait nor tidy (``-q``
still writes the signature database, so it does so the same way).
"""

from __future__ import annotations

import os
import pickle
import sys
from contextlib import ExitStack
from typing import Any

import SCons.Node.FS
import SCons.SConsign
import SCons.Script

_folders: dict[str, Any] = {}  # abspath -> _Folder: the build folders this run declares outputs in
_locks = None  # fwbuild.buildlock.FolderLocks, once the run changes a build folder


class _Folder:
    def __init__(self, node, unswept: str | None):
        self.node = node
        self.label = node.get_internal_path()  # build/K64F
        self.unswept = unswept  # why stale outputs are not swept from it, if they are not


def changes_folders() -> bool:
    """False for a run that only reads: help, a dry run, a question, the interactive mode."""
    return not any(SCons.Script.GetOption(name) for name in ("help", "no_exec", "question", "interactive"))


def claimed(env) -> bool:
    """This run already holds the lock of ``env``'s build folder."""
    return env.Dir("$FW_BUILD_DIR").abspath in _folders


def claim(*envs) -> None:
    """Lock the build folders of ``envs`` (their ``$FW_BUILD_DIR``), in sorted order, and tidy
    them after the build. Waits, saying so once, while another build holds one."""
    global _locks
    new = []
    for env in envs:
        node = env.Dir("$FW_BUILD_DIR")
        if node.abspath not in _folders:
            _folders[node.abspath] = _Folder(node, _unsweepable(node, env["FW_PROJECT"], env["FW_TARGET"]))
            new.append(node)
    if not new or SCons.Script.GetOption("help") or SCons.Script.GetOption("no_exec"):
        return  # SCons writes no signatures either
    if _locks is None:
        from fwbuild.buildlock import FolderLocks

        _locks = FolderLocks()
        _finish_with(SCons.SConsign.write)  # -q too: it writes the signature database
    if changes_folders():
        _locks.hold((node.abspath, node.get_internal_path()) for node in new)


def _unsweepable(node, project: str, target: str) -> str | None:
    """Why a folder set as $FW_BUILD_DIR is no place to remove undeclared files from: it holds
    the project, or lies outside it without being named after the target (``/tmp``)."""
    top = node.fs.Top.abspath
    folder = node.abspath
    if any(os.path.commonpath([folder, inside]) == folder for inside in (top, project)):
        return "holds the project"
    if os.path.commonpath([folder, top]) != top and node.name != target:
        return f"lies outside the project and is not named {target}"
    return None


def _finish_with(write) -> None:
    """Tidy the folders, then write the signatures, where SCons writes them after a build."""

    def finish() -> None:
        try:
            if changes_folders():
                _tidy()
        except OSError as exc:
            print(f"warning: could not tidy the build folder: {exc}", file=sys.stderr)
        _write_signatures(write)

    SCons.SConsign.write = finish


def _tidy() -> None:
    from fwbuild.outputs import remove, sweep

    found = {path: _declared(folder.node) for path, folder in _folders.items()}
    declared = {path: targets for path, (targets, _) in found.items()}
    cleaning = SCons.Script.GetOption("clean")
    failed = {} if cleaning else _after_failures(declared)
    quiet = cleaning or SCons.Script.GetOption("silent")
    for path, folder in sorted(_folders.items()):
        gone = remove(path, failed.get(path, ()))
        if gone and not quiet:
            print(f"removed from {folder.label} after the failure: {' '.join(gone)}")
        sources = found[path][1]
        unswept = folder.unswept or (f"holds {sources[0]}, a source of the build" if sources else None)
        if unswept:
            print(
                f"warning: {folder.label} {unswept}: fwbuild removes no stale outputs from it; "
                "give each target a build folder of its own ($FW_BUILD_DIR)",
                file=sys.stderr,
            )
            continue
        gone = sweep(path, declared[path])
        if gone and not quiet:
            print(f"removed from {folder.label}, no longer produced: {' '.join(_outermost(gone))}")


def _outermost(paths: list[str]) -> list[str]:
    """The removed paths without those inside a removed folder, sorted."""
    folders = [p for p in paths if p.endswith("/")]
    return sorted(p for p in paths if not any(p != f and p.startswith(f) for f in folders))


def _declared(folder) -> tuple[dict[str, Any], list[str]]:
    """Every file the graph declares in ``folder``, by path relative to it (targets of a
    builder, side effects, folders made by a builder of their own, a variant folder's copies
    of sources); and the sources of the build found there (a folder that holds sources is
    not swept)."""
    mkdir = SCons.Node.FS.get_MkdirBuilder()
    found: dict[str, Any] = {}
    sources: list[str] = []
    stack = [(folder, "")]
    while stack:
        node, prefix = stack.pop()
        for name, entry in node.entries.items():
            if name in (".", ".."):
                continue
            rel = prefix + entry.name
            if isinstance(entry, SCons.Node.FS.Dir):
                if entry.builder is not mkdir and entry.has_builder():
                    found[rel] = entry
                else:
                    stack.append((entry, rel + "/"))
            elif entry.has_builder() or entry.side_effect or entry.srcnode() is not entry:
                found[rel] = entry
            elif not entry.name.startswith(".") and entry.exists():
                sources.append(entry.get_internal_path())
    return found, sorted(sources)


def _after_failures(declared: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """The declared outputs, per folder, that a failed step made or that depend on one."""
    failed = set()
    for error in SCons.Script.GetBuildFailures():
        nodes = error.node if isinstance(error.node, (list, tuple)) else [error.node]
        for node in nodes:
            if node is None:
                continue
            failed.add(node)
            executor = getattr(node, "executor", None)
            if executor is not None:
                failed.update(executor.get_all_targets())
    if not failed:
        return {}
    users: dict[Any, list[Any]] = {}  # node -> the nodes that depend on it
    seen: set[Any] = set()
    stack = [node for files in declared.values() for node in files.values()]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for child in node.children(scan=0):
            users.setdefault(child, []).append(node)
            stack.append(child)
    doomed, stack = set(), list(failed)
    while stack:
        node = stack.pop()
        if node not in doomed:
            doomed.add(node)
            stack += users.get(node, [])
    # Side effects are no step's output (build.ninja, written when the graph is read, stays
    # after a failed Ninja run, so that ``ninja -C`` can build again).
    return {
        path: {
            rel for rel, node in files.items() if node in doomed and not node.isdir() and not node.side_effect
        }
        for path, files in declared.items()
    }


def _write_signatures(write) -> None:
    """SCons' write of its signature database, under a lock on the database's folder, into
    what is on disk now: entries of folders this build did not write come from the file."""
    from fwbuild.buildlock import locked_folder

    databases = [
        db
        for db in SCons.SConsign.DB_sync_list
        if isinstance(getattr(db, "_dict", None), dict) and isinstance(getattr(db, "_file_name", None), str)
    ]
    where = {os.path.dirname(os.path.abspath(db._file_name)) for db in databases}
    where = where or {SCons.Node.FS.get_default_fs().Top.abspath}
    with ExitStack() as stack:
        for folder in sorted(where):
            stack.enter_context(locked_folder(folder))
        for db in databases:
            db._dict.update(_on_disk(db._file_name))  # this build's folders are written over them
        write()


def _on_disk(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            data = f.read()
        table = pickle.loads(data) if data else {}
    except Exception:  # missing or unreadable: SCons itself then starts afresh
        return {}
    return table if isinstance(table, dict) else {}
