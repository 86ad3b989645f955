"""A build folder holds exactly what the configuration produces, plus fwbuild's dot-files.

The SCons tool knows, once it has read the SConscripts, every file the graph declares in a
build folder; ``sweep`` removes the rest: outputs an earlier configuration produced
(``combined.*`` after the layout lost its bootloader, ``app-signed.sig`` after a format
change), objects of deleted sources, a half-written file of a killed build. It leaves alone
the dot-files and dot-folders (locks, temporary files, the tool's records) of folders that
still hold outputs, and any build folder nested inside (one with its lock file beside it).
"""

from __future__ import annotations

import os
from collections.abc import Collection

from fwbuild.buildlock import LOCK_PREFIX


def sweep(folder: str | os.PathLike[str], declared: Collection[str]) -> list[str]:
    """Remove every file under ``folder`` whose path relative to it ("obj/app/main.o") is
    not in ``declared``, except dot-files; a sub-folder that holds nothing declared goes
    whole, dot-files included (a program no longer built); then the folders left empty.
    A declared folder is kept whole. Returns what was removed, folders with a trailing "/"."""
    holding = set()  # sub-folders with something declared in them
    for rel in declared:
        parts = rel.split("/")
        holding.update("/".join(parts[:i]) for i in range(1, len(parts)))
    removed: list[str] = []
    _sweep(os.fspath(folder), "", declared, holding, removed)
    return removed


def _sweep(path: str, prefix: str, declared: Collection[str], holding: set[str], removed: list[str]) -> bool:
    """Sweep one folder; True when nothing is left in it."""
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return False
    names = {entry.name for entry in entries}
    nested = {entry.name for entry in entries if LOCK_PREFIX + entry.name in names}  # other build folders
    whole = bool(prefix) and prefix[:-1] not in holding and not nested
    empty = True
    for entry in entries:
        name, rel = entry.name, prefix + entry.name
        if rel in declared or name in nested or (name.startswith(".") and not whole):
            empty = False
        elif entry.is_dir(follow_symlinks=False):
            if _sweep(entry.path, rel + "/", declared, holding, removed):
                try:
                    os.rmdir(entry.path)
                    removed.append(rel + "/")
                except OSError:
                    empty = False
            else:
                empty = False
        else:
            try:
                os.unlink(entry.path)
                removed.append(rel)
            except FileNotFoundError:
                pass
            except OSError:
                empty = False
    return empty


def remove(folder: str | os.PathLike[str], paths: Collection[str]) -> list[str]:
    """Remove the files ``paths`` (relative to ``folder``) that exist; returns those."""
    removed = []
    for rel in sorted(paths):
        try:
            os.unlink(os.path.join(folder, rel))
            removed.append(rel)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            pass
    return removed
