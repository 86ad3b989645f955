"""Reading JSON config files and checking them against our JSON Schemas."""

from __future__ import annotations

import contextlib
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwbuild import shipped
from fwbuild.errors import ConfigError
from fwbuild.paths import not_a_file
from fwbuild.values import MAX_TEXT

if TYPE_CHECKING:
    from fwbuild.readcache import ReadCache

SCHEMA_DIR = shipped.TARGETS.expected()


def read_json(path: Path) -> Any:
    """Parse a JSON config file. Every way it can be unreadable is a ConfigError naming the
    file: not a file, not UTF-8 (with the byte offset), invalid JSON (line and column), a
    key given twice in one object, numbers or nesting beyond what a config holds."""
    problem = not_a_file(path)
    if problem:
        raise ConfigError(path, None, problem, "check the path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read it ({exc.strerror})") from None
    text = decode_utf8(path, data)
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path,
            None,
            f"line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})",
            "fix the syntax (a trailing comma or a missing quote is the usual cause)",
        ) from None
    except DuplicateKey as exc:
        raise ConfigError(
            path,
            None,
            f"line {_duplicate_line(text)}: key {json.dumps(exc.key)} appears twice in the same object "
            "(JSON would silently keep only the last)",
            "remove or rename one of them",
        ) from None
    except _Unreadable as exc:
        raise ConfigError(path, None, str(exc), exc.fix) from None


MAX_NESTING = 32  # objects and lists inside one another; a config needs 6


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class _Unreadable(ValueError):
    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.fix = fix


def decode_utf8(path: Path, data: bytes) -> str:
    """The file's text; anything but UTF-8 is a ConfigError naming the byte offset. A UTF-8
    byte-order mark, which some Windows editors write, is UTF-8 and is skipped."""
    fix = "save it as UTF-8"
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise ConfigError(
                path,
                None,
                f"starts with a {encoding} byte-order mark ({bom.hex(' ').upper()} at byte 0); "
                "fwbuild reads config files as UTF-8 only",
                fix,
            )
    nul = data.find(b"\0")
    if nul >= 0:
        line, column = _line_column(data, nul)
        raise ConfigError(
            path,
            None,
            f"a NUL byte at offset {nul} (line {line}, column {column}); the file looks like UTF-16",
            fix,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        raise ConfigError(
            path,
            None,
            f"byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line}, column {column}) is not "
            "UTF-8; the file looks like Latin-1 or another 8-bit encoding",
            fix,
        ) from None


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


_UTF8_BOM = b"\xef\xbb\xbf"
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def parse_json(text: str) -> Any:
    """Strict JSON: no key twice in an object, no NaN/Infinity, integers of at most
    MAX_TEXT digits, at most MAX_NESTING levels. Raises json.JSONDecodeError, DuplicateKey
    or _Unreadable."""
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_int=_bounded_int, parse_constant=_no_constant
        )
    except RecursionError:
        raise _Unreadable(
            f"objects and lists nest deeper than {MAX_NESTING} levels", "a config is a few levels deep"
        ) from None
    if _nesting(data) > MAX_NESTING:
        raise _Unreadable(
            f"objects and lists nest deeper than {MAX_NESTING} levels", "a config is a few levels deep"
        )
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_TEXT:
        raise _Unreadable(
            f"an integer of {len(text.lstrip('-'))} digits ({text[:20]}...); a number has at most {MAX_TEXT}",
            "give a real address or size",
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise _Unreadable(f"{name} is not JSON", "write a number or a string")


def _nesting(data: Any) -> int:
    """How deep lists and objects go, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _duplicate_line(text: str) -> int:
    """The line of the first key that repeats one before it in its object. Parsed again with
    the pure-Python scanner, which tells where each object starts; only after an error."""
    import re
    from json import decoder, scanner

    found: list[int] = []

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> Any:
        try:
            return decoder.JSONObject(s_and_end, *args)
        except DuplicateKey as exc:
            if not found:
                s, start = s_and_end
                # the second `"key":` after the object's start; nested objects rarely repeat it
                keys = list(re.finditer(re.escape(json.dumps(exc.key)) + r"\s*:", s[start:]))
                found.append(start + keys[1].start() if len(keys) > 1 else start)
            raise

    dec = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    dec.parse_object = parse_object  # type: ignore[assignment]
    dec.scan_once = scanner.py_make_scanner(dec)  # type: ignore[attr-defined]
    with contextlib.suppress(ValueError, RecursionError):
        dec.decode(text)
    at = found[0] if found else 0
    return text.count("\n", 0, at) + 1


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
        return f"{_show(err.instance)} is not allowed", f"use one of {choices}"
    if kind in ("type", "pattern", "oneOf", "anyOf"):
        want = err.schema.get("description") or f"{kind} {err.validator_value}"
        return f"{_show(err.instance)} is not valid", f"expected {want[0].lower()}{want[1:]}"
    if kind == "required":
        return err.message, "add it"
    if len(err.message) > 200:  # jsonschema's own messages quote the whole value
        return f"{_show(err.instance)} breaks the rule '{kind}: {_show(err.validator_value)}'", None
    return err.message, None


def _show(value: Any, limit: int = 60) -> str:
    """A value as JSON for a message, cut short: a message quotes, it does not reproduce."""
    text = json.dumps(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
