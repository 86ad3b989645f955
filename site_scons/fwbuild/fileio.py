"""Writing outputs so that an interrupted build never leaves a half-written file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


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
            for piece in pieces:
                out.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_quietly(*paths: Path | str) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)
