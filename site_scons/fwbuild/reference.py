"""docs/config-reference.md, generated from the JSON Schemas so that it cannot drift:
``fwbuild config-reference > docs/config-reference.md`` (a test compares the two)."""

from __future__ import annotations

import json
from typing import Any

from fwbuild.jsonfile import SCHEMA_DIR

FILES = (
    ("schema.json", "Target files (`targets/*.json`, and the folders in `targets_dirs`)"),
    ("project-schema.json", "The project file (`fwbuild.json`)"),
)


def _kind(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return {"number": "number", "identifier": "identifier", "target_name": "target name"}.get(name, name)
    if "enum" in node:
        return " \\| ".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(dict.fromkeys(_kind(n, defs) for n in node[key]))
    kind = node.get("type", "any")
    if kind == "array" and "items" in node and isinstance(node["items"], dict):
        return f"list of {_kind(node['items'], defs)}"
    return kind if isinstance(kind, str) else " or ".join(kind)


def _object(node: Any, defs: dict[str, Any]) -> dict[str, Any] | None:
    """The object with properties that ``node`` is or refers to ($defs), else None."""
    if not isinstance(node, dict):
        return None
    if "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    return node if node.get("type") == "object" and "properties" in node else None


def _rows(prefix: str, node: dict[str, Any], defs: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for name, child in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        description = " ".join(child.get("description", "").split())
        rows.append((key, _kind(child, defs), description))
        inner = _object(child, defs)
        if inner is not None:
            rows += _rows(f"{key}.", inner, defs)
        items = _object(child.get("items"), defs)
        if items is not None:
            rows += _rows(f"{key}[].", items, defs)
    return rows


def _escape(text: str) -> str:
    """A description as table-cell text: ``|`` would end the cell, ``<stage>`` would read as
    an HTML tag and ``*`` as emphasis."""
    for char in "|<*":
        text = text.replace(char, "\\" + char)
    return text


def config_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from `targets/schema.json` and `targets/project-schema.json` by",
        "`fwbuild config-reference`; do not edit by hand. Numbers are JSON integers or strings",
        'with hex, decimal or simple arithmetic: `1048576`, `"0x100000"`, `"(1024*1024)"`.',
    ]
    for file, title in FILES:
        schema = json.loads((SCHEMA_DIR / file).read_text(encoding="utf-8"))
        defs = schema.get("$defs", {})
        lines += ["", f"## {title}", "", "| key | type | meaning |", "|---|---|---|"]
        for key, kind, description in _rows("", schema, defs):
            lines.append(f"| `{key}` | {kind} | {_escape(description)} |")
    return "\n".join(lines) + "\n"
