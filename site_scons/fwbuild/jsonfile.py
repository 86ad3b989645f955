"""Reading JSON config files and checking them against our JSON Schemas."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwbuild import shipped
from fwbuild.errors import ConfigError

if TYPE_CHECKING:
    from fwbuild.readcache import ReadCache

SCHEMA_DIR = shipped.TARGETS.expected()


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found", "check the path") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read it ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path,
            None,
            f"line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})",
            "fix the syntax (a trailing comma or a missing quote is the usual cause)",
        ) from None


@cache
def _schema_bytes(schema_name: str) -> bytes:
    """Read once per process: every config file checked against a schema keys on it."""
    return shipped.TARGETS.file(schema_name).read_bytes()


@cache
def _validator(schema_name: str) -> Any:
    # jsonschema costs ~100 ms to import; only pay for it when a file is checked.
    import jsonschema

    schema = json.loads(shipped.TARGETS.file(schema_name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def json_path(parts: Any) -> str:
    """Render a jsonschema path deque as ``flash.sectors[2]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data: Any, schema_name: str, path: Path, cache: ReadCache | None = None) -> None:
    """Check ``data`` against a schema; raise ConfigError for the first problem found.
    With a ``cache``, data that passed this schema before is not checked again."""
    key = None
    if cache is not None:
        schema = _schema_bytes(schema_name)
        text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        key = "valid:" + hashlib.sha256(schema + b"\0" + text).hexdigest()
        if cache.get(key):
            return
    problems = schema_problems(data, schema_name, path)
    if not problems:
        if cache is not None and key is not None:
            cache.put(key, True)
        return
    first = problems[0]
    if len(problems) > 1:
        first = ConfigError(
            path,
            first.key,
            first.problem,
            (first.fix + " " if first.fix else "") + f"({len(problems) - 1} more problem(s) in this file)",
        )
    raise first


def schema_problems(data: Any, schema_name: str, path: Path) -> list[ConfigError]:
    """Every place where ``data`` breaks the schema, each as a ConfigError (not raised)."""
    errors = sorted(_validator(schema_name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    problems = []
    for error in errors:
        err = _most_useful(error)
        problem, fix = _describe(err)
        parts = list(err.absolute_path)
        if err.validator == "additionalProperties":
            parts.append(_unknown_keys(err)[0])
        problems.append(ConfigError(path, json_path(parts) or None, problem, fix))
    return problems


def _most_useful(err: Any) -> Any:
    # A oneOf/anyOf failure reads better through a sub-error that points deeper inside.
    while err.context:
        deepest = max(err.context, key=lambda e: len(e.relative_path))
        if not deepest.relative_path:
            break
        err = deepest
    return err


def _unknown_keys(err: Any) -> list[str]:
    allowed = err.schema.get("properties", {})
    return sorted(k for k in err.instance if k not in allowed) or ["?"]


def _describe(err: Any) -> tuple[str, str | None]:
    kind = err.validator
    if kind == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        name = _unknown_keys(err)[0]
        import difflib  # only for the message

        close = difflib.get_close_matches(name, allowed, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
        return f"unknown key '{name}'", fix
    if kind == "enum":
        choices = ", ".join(json.dumps(c) for c in err.validator_value)
        return f"{json.dumps(err.instance)} is not allowed", f"use one of {choices}"
    if kind in ("type", "pattern", "oneOf", "anyOf"):
        want = err.schema.get("description") or f"{kind} {err.validator_value}"
        return f"{json.dumps(err.instance)} is not valid", f"expected {want[0].lower()}{want[1:]}"
    if kind == "required":
        return err.message, "add it"
    return err.message, None
