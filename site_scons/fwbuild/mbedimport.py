"""``fwbuild import-mbed``: an Mbed OS ``mbed_app.json`` turned into a ``fwbuild.json``.

Mbed's bootloader keys live under ``target_overrides`` as ``target.<key>``; ours are the
same keys without the prefix. Everything else in an Mbed config (library settings,
macros, features) has no fwbuild equivalent and is reported, never silently dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fwbuild.errors import ConfigError
from fwbuild.jsonfile import read_json
from fwbuild.values import ValueParseError, parse_int

NUMBER_KEYS = ("app_offset", "header_offset", "restrict_size", "mbed_app_start", "mbed_app_size")
# Mbed OS's FEATURE_BOOTLOADER header when a config sets header_offset but no format.
DEFAULT_HEADER_FORMAT = "mbed-v2"


@dataclass
class Translation:
    config: dict[str, Any]
    translated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def translate(mbed_app: Path, out_dir: Path) -> Translation:
    """Translate ``mbed_app`` for a fwbuild.json written in ``out_dir`` (relative paths are
    re-based onto it). Raises ConfigError for values that cannot be right."""
    data = read_json(mbed_app)
    if not isinstance(data, dict):
        raise ConfigError(mbed_app, None, "is not a JSON object", "give an mbed_app.json")
    result = Translation(config={"name": mbed_app.resolve().parent.name, "version": "0.0.0"})
    for key in sorted(data):
        if key != "target_overrides":
            result.skipped.append(f"{key}: Mbed OS configuration; fwbuild has no equivalent")
    overrides: dict[str, dict[str, Any]] = {}
    for target, keys in data.get("target_overrides", {}).items():
        if not isinstance(keys, dict):
            raise ConfigError(mbed_app, f"target_overrides.{target}", "is not an object")
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
                ours[name] = _rebase(mbed_app.parent, out_dir, value)
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
                f"'{DEFAULT_HEADER_FORMAT}' (Mbed's FEATURE_BOOTLOADER default, 112 bytes)"
            )
        if ours:
            overrides[target] = ours
    result.config["target_overrides"] = overrides
    result.skipped.append("version: Mbed has none; fwbuild.json says 0.0.0, set your firmware's version")
    return result


def _number(file: Path, key: str, value: Any) -> str | int:
    try:
        parse_int(value)
    except ValueParseError as exc:
        raise ConfigError(file, key, str(exc), "fix the value in mbed_app.json") from None
    return value  # kept as written: fwbuild reads "0xa400" and "(40*1024)" alike


def _rebase(src_dir: Path, out_dir: Path, value: Any) -> str:
    if not isinstance(value, str) or os.path.isabs(value):
        return value
    return os.path.relpath((src_dir / value).resolve(), out_dir.resolve()).replace(os.sep, "/")
