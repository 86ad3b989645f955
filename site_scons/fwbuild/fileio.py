"""Writing outputs so that an interrupted build never leaves a half-written file."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path


@functools.cache
def process_umask() -> int:
    """The process umask, read once per process.

    os.umask() can only be read by setting it, and SCons runs actions in -j threads: a file
    another thread creates between the set and the restore gets the wrong mode. Linux shows
    the umask in /proc/self/status (since 4.7) without touching it; elsewhere we fall back
    to set-and-restore, once, with 0o077 in between so that a racing file is too private
    rather than too open."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def output_mode() -> int:
    """Mode of a data file written here: what open() would give it (0o666 less the umask);
    never an execute bit, since these files are data, not programs."""
    return 0o666 & ~process_umask()


def write_atomic(path: Path | str, data: bytes | bytearray | str | Iterable[str | bytes]) -> None:
    """Write to a temporary file in the same folder, then rename it into place. ``data``
    may be an iterable of pieces (Intel HEX text of a large image), written as they come."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    pieces = [data] if isinstance(data, (bytes, bytearray, str)) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            # mkstemp makes 0600 whatever the umask: give the output the mode open() would, so
            # another user (a CI step, a web server) can read it when the umask allows.
            if hasattr(os, "fchmod"):
                os.fchmod(fd, output_mode())
            for piece in pieces:
                out.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_quietly(*paths: Path | str) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)
