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
