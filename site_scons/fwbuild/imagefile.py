"""Reading firmware image files: where their bytes lie."""

from __future__ import annotations

from pathlib import Path

from fwbuild.errors import ImageError


def image_segments(path: Path, bin_base: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each contiguous run of bytes; a .bin is one run from ``bin_base``."""
    if path.suffix.lower() == ".bin":
        size = path.stat().st_size
        return [(bin_base, bin_base + size)] if size else []
    from intelhex import HexRecordError, IntelHex

    try:
        ih = IntelHex(str(path))
    except (HexRecordError, ValueError) as exc:
        raise ImageError(f"{path}: not a valid Intel HEX file ({exc}); regenerate it") from None
    return [(start, end) for start, end in ih.segments()]
