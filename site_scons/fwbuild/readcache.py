"""Facts derived from input files, remembered between builds so that a null build does
not pay again for them: which config files already passed their JSON Schema (jsonschema
costs ~80 ms to import) and a signing key's public facts (cryptography ~20 ms).

Every entry is keyed by what it was derived from (a content digest, or a file's size and
modification time), so a changed input simply misses. The file holds no secret: for a
key, only its kind and public-key hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fwbuild.fileio import write_atomic


class ReadCache:
    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, Any] = {}
        self.changed = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self.entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.entries = {}  # missing or damaged: start afresh

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        if self.entries.get(key) != value:
            self.entries[key] = value
            self.changed = True

    def save(self) -> None:
        if self.path is not None and self.changed:
            write_atomic(self.path, json.dumps(self.entries, sort_keys=True, indent=0) + "\n")
            self.changed = False
