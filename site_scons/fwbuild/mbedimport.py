"""``fwbuild import-mbed``: an Mbed OS ``mbed_app.json`` turned into a ``fwbuild.json``.

Mbed's bootloader keys live under ``target_overrides`` as ``target.<key>``; ours are the
same keys without the prefix. Everything else in an Mbed config (library settings,
macros, features) has no fwbuild equivalent and is reported, never silently dropped.

What is written is checked first as the build will read it: the project schema, then the
layout of every fwbuild target the file names. A config the build would reject is an
error naming the key in ``mbed_app.json``, and nothing is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fwbuild.errors import ConfigError, FwbuildError
from fwbuild.jsonfile import read_json
from fwbuild.values import ValueParseError, parse_int

NUMBER_KEYS = ("app_offset", "header_offset", "restrict_size", "mbed_app_start", "mbed_app_size")
# The header fwbuild assumes when a config sets header_offset but no format: the 112-byte
# v2 header of mbed-bootloader, which Mbed's FEATURE_BOOTLOADER set up for an application.
DEFAULT_HEADER_FORMAT = "mbed-v2"
WILDCARD = "*"


@dataclass
class Translation:
    config: dict[str, Any]
    translated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def translate(mbed_app: Path, out: Path) -> Translation:
    """Translate ``mbed_app`` for a fwbuild.json to be written at ``out`` (relative paths are
    re-based onto its folder) and check the result as the build reads it. Raises
    ConfigError, naming ``mbed_app`` and the key, for anything the build would reject."""
    try:
        data = read_json(mbed_app)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            mbed_app, None, f"is not UTF-8 text (byte {exc.start})", "give an mbed_app.json"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(mbed_app, None, "is not a JSON object", "give an mbed_app.json")
    name = mbed_app.resolve().parent.name or "firmware"
    result = Translation(config={"name": name, "version": "0.0.0"})
    for key in sorted(data):
        if key != "target_overrides":
            result.skipped.append(f"{key}: Mbed OS configuration; fwbuild has no equivalent")
    sections = data.get("target_overrides", {})
    if not isinstance(sections, dict):
        raise ConfigError(
            mbed_app,
            "target_overrides",
            f"is a JSON {_json_type(sections)}, not an object",
            'write {"TARGET": {"target.app_offset": ...}, ...}',
        )
    overrides: dict[str, dict[str, Any]] = {}
    for target, keys in sections.items():
        if not isinstance(keys, dict):
            raise ConfigError(
                mbed_app,
                f"target_overrides.{target}",
                f"is a JSON {_json_type(keys)}, not an object",
                'write {"target.app_offset": ...}',
            )
        ours: dict[str, Any] = {}
        for key, value in keys.items():
            where = f"{target}: {key}"
            if not key.startswith("target."):
                result.skipped.append(f"{where}: an Mbed OS library setting; fwbuild has no equivalent")
                continue
            name = key.removeprefix("target.")
            if name in NUMBER_KEYS:
                ours[name] = _number(mbed_app, f"target_overrides.{target}.{key}", value)
            elif name == "bootloader_img":
                ours[name] = _rebase(mbed_app.parent, out.parent, value)
            elif name == "header_format":
                ours[name] = value
            else:
                result.skipped.append(f"{where}: no fwbuild equivalent (set it in a target file if needed)")
                continue
            result.translated.append(f"{where} -> {name} = {ours[name]!r}")
        if "header_offset" in ours and "header_format" not in ours:
            ours["header_format"] = DEFAULT_HEADER_FORMAT
            result.translated.append(
                f"{target}: header_offset without header_format -> header_format = "
                f"'{DEFAULT_HEADER_FORMAT}' (the 112-byte header of mbed-bootloader)"
            )
            result.notes.append(
                f"{target}: Mbed OS's own tools make no header when header_format is not set (a library "
                "such as FEATURE_BOOTLOADER's mbed_lib.json set it); fwbuild reads a header_offset as "
                f"the start of a header and assumes '{DEFAULT_HEADER_FORMAT}', the header mbed-bootloader "
                "checks. If your Mbed build had no header, remove header_offset and header_format"
            )
        if ours:
            overrides[target] = ours
    result.config["target_overrides"] = overrides
    result.skipped.append("version: Mbed has none; fwbuild.json says 0.0.0, set your firmware's version")
    check(result, mbed_app, out)
    return result


def check(result: Translation, mbed_app: Path, out: Path) -> None:
    """Read the translated config as the build will: the project schema, then the layout of
    each fwbuild target it names. Notes what could not be checked, and where Mbed OS would
    place the application elsewhere."""
    from fwbuild.jsonfile import schema_problems

    config = result.config
    problems = schema_problems(config, "project-schema.json", out)
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        if first.key == "target_overrides" and WILDCARD in config["target_overrides"]:
            raise ConfigError(
                mbed_app,
                f"target_overrides.{WILDCARD}",
                "fwbuild.json does not take layout keys for every target ('*')",
                "move them under the targets' names; nothing was written",
            )
        raise ConfigError(
            mbed_app,
            _mbed_key(first.key),
            first.problem,
            f"{(first.fix or 'fix it').rstrip('.')}{more}; nothing was written",
        )
    from fwbuild.layout import compute_layout
    from fwbuild.mbed_header import placement_note
    from fwbuild.project import Project, Version
    from fwbuild.targets import Sourced, TargetSet

    # The folder of ``out`` may not exist yet, so a path relative to it cannot be opened
    # through it: the check reads the same files at their absolute paths.
    out_dir = os.path.abspath(out.parent)

    def sourced(key: str, value: Any) -> Sourced:
        if key == "bootloader_img" and isinstance(value, str) and not value.startswith("@"):
            value = os.path.normpath(os.path.join(out_dir, value))
        return Sourced(value, out)

    overrides = {
        name: {key: sourced(key, value) for key, value in keys.items()}
        for name, keys in config["target_overrides"].items()
    }
    project = Project(
        root=out.parent.resolve(),
        file=out,
        name=config["name"],
        version=Version(0, 0, 0),
        targets_dirs=(),
        linker_template=None,
        overrides=overrides,
    )
    targets = TargetSet()
    public = set(targets.public_names())
    for name in overrides:
        if name == WILDCARD:
            continue
        if name not in public:
            what = "a family of targets" if name in targets.all_names() else "not a fwbuild target"
            result.notes.append(
                f"{name}: {what}, so its layout was not checked; `fwbuild layout BOARD` checks it for a board"
            )
            continue
        try:
            base = targets.resolve(name)
            target = targets.resolve(name, project.overrides_for(base, targets))
            layout = compute_layout(target)
        except ConfigError as exc:
            raise _in_mbed_app(exc, name, targets, config, mbed_app, out) from None
        except FwbuildError as exc:
            raise ConfigError(mbed_app, f"target_overrides.{name}", str(exc), "nothing was written") from None
        note = placement_note(layout, "app_offset" in target.layout)
        if note:
            result.notes.append(note)


def _in_mbed_app(
    exc: ConfigError, target: str, targets: Any, config: dict[str, Any], mbed_app: Path, out: Path
) -> ConfigError:
    """The build's error for the written file, said of the key in mbed_app.json."""
    if exc.file == str(out) and exc.key:
        sections = config["target_overrides"]
        chain = [n for n in targets.chain(target) if n in sections] + [WILDCARD]
        section = next((s for s in chain if exc.key in sections.get(s, {})), target)
        problem = exc.problem.replace(str(out), str(mbed_app))  # "(set in ...)": the same file
        return ConfigError(
            mbed_app,
            f"target_overrides.{section}.target.{exc.key}",
            problem,
            f"{exc.fix.rstrip('.') + '; ' if exc.fix else ''}nothing was written",
        )
    return ConfigError(
        mbed_app,
        f"target_overrides.{target}",
        f"fwbuild cannot build this layout: {exc}",
        "nothing was written",
    )


def _mbed_key(key: str | None) -> str | None:
    """``target_overrides.K64F.app_offset`` (fwbuild.json) -> ``...K64F.target.app_offset``."""
    parts = (key or "").split(".", 2)
    if len(parts) == 3 and parts[0] == "target_overrides":
        return f"target_overrides.{parts[1]}.target.{parts[2]}"
    return key


def _json_type(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _number(file: Path, key: str, value: Any) -> str | int:
    try:
        parse_int(value)
    except ValueParseError as exc:
        raise ConfigError(file, key, str(exc), "fix the value in mbed_app.json") from None
    return value  # kept as written: fwbuild reads "0xa400" and "(40*1024)" alike


def _rebase(src_dir: Path, out_dir: Path, value: Any) -> str:
    if not isinstance(value, str) or os.path.isabs(value) or value.startswith("@"):
        return value
    return os.path.relpath((src_dir / value).resolve(), out_dir.resolve()).replace(os.sep, "/")
