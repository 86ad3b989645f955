"""Facts derived from input files, remembered between builds so that a null build does
not pay again for them: which config files already passed their JSON Schema (jsonschema
costs ~80 ms to import) and a signing key's public facts (cryptography ~20 ms).

Every entry is keyed by what it was derived from (a content digest, or a file's size and
modification time), so a changed input simply misses. The file holds no secret: for a
key, only its kind and public-key hash.

The file is only ever a hint: an entry of any other shape than fwbuild writes (a damaged or
edited file, one from another version) is dropped when the file is read, and an unreadable
file counts as empty; the facts are then derived again and the file rewritten.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fwbuild.fileio import write_atomic
from fwbuild.keyfacts import SIGNATURE_TLV

_DIGEST = re.compile(r"[0-9a-f]{64}\Z")


def well_formed(key: object, value: object) -> bool:
    """Whether an entry has the shape fwbuild writes: ``valid:<sha256>`` -> true, or
    ``key:<sha256>`` -> {"kind": a key kind, "key_hash": 64 hex digits}."""
    if not isinstance(key, str):
        return False
    kind, _, digest = key.partition(":")
    if not _DIGEST.match(digest):
        return False
    if kind == "valid":
        return value is True
    if kind == "key":
        return (
            isinstance(value, dict)
            and set(value) == {"kind", "key_hash"}
            and value["kind"] in SIGNATURE_TLV
            and isinstance(value["key_hash"], str)
            and bool(_DIGEST.match(value["key_hash"]))
        )
    return False


class ReadCache:
    def __init__(self, path: Path | None, limit: int | None = None):
        """``limit``: the most entries kept when saving (the oldest go first), for a cache
        shared by every project a user has, which would otherwise only grow."""
        self.path = path
        self.limit = limit
        self.entries: dict[str, Any] = {}
        self.changed = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                loaded = {}  # missing or damaged: start afresh
            if not isinstance(loaded, dict):
                loaded = {}
            self.entries = {k: v for k, v in loaded.items() if well_formed(k, v)}
            self.changed = len(self.entries) != len(loaded)  # write the damage away

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        if self.entries.get(key) != value:
            self.entries.pop(key, None)  # the newest last: a limit drops the oldest
            self.entries[key] = value
            self.changed = True

    def save(self) -> None:
        """Write the entries if they changed. A cache that cannot be written (a read-only
        build folder, a folder in its place) is not an error: the next run derives again."""
        if self.path is not None and self.changed:
            if self.limit is not None and len(self.entries) > self.limit:
                self.entries = dict(list(self.entries.items())[-self.limit :])
            try:
                # a limited cache keeps its order, oldest first, for the next save to trim
                text = json.dumps(self.entries, sort_keys=self.limit is None, indent=0)
                write_atomic(self.path, text + "\n")
            except OSError:
                return
            self.changed = False
