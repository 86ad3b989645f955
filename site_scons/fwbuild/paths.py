"""Paths the configuration names.

The core keeps such a path as configured, joined to the folder of the file that names it,
with symbolic links and ``..`` left in: the operating system follows them each time the file
is read, so a re-pointed link is noticed (the build's record of its inputs hashes what the
configured path reaches now). Where a path is used by its name (its suffix) or handed to a
tool that normalises ``..`` as text (SCons nodes), its real path is used instead: after a
link, ``..`` means the link target's parent, not the link's.
"""

from __future__ import annotations

import os
from pathlib import Path


def real_path(path: Path | str) -> Path:
    """Where ``path`` leads now: links followed, ``..`` applied as the system does."""
    return Path(os.path.realpath(path))


def not_a_file(path: Path | str, want: str = "file") -> str | None:
    """Why ``path`` is not a readable ``want`` ("file" or "folder"), in words, or None when it
    is one: missing, a folder where a file belongs (or the reverse), a symbolic link loop, a
    link to nothing."""
    import errno
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (a link that leads back to itself)"
        if os.path.islink(path):
            try:
                return f"is a symbolic link to '{os.readlink(path)}', which does not exist"
            except OSError:
                pass
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"{want} not found"
        return f"cannot be read ({exc.strerror})"
    if want == "folder":
        return None if stat.S_ISDIR(st.st_mode) else "is a file, not a folder"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    return None
