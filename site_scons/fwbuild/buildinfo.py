"""``build-info.json``: what a release engineer needs to trust and reproduce a build.

Every output's SHA-256 and size, the toolchain and package versions, a digest of the
resolved configuration, the timestamps used and the signing key's public hash (never the
key). Nothing in it depends on the machine, the folder or the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fwbuild import __version__

PACKAGES = ("scons", "intelhex", "pyelftools", "cryptography", "jinja2", "jsonschema")


def tool_version(command: str, environ: Mapping[str, str] | None = None) -> str:
    """The first line of ``command --version`` (e.g. the cross compiler's)."""
    try:
        result = subprocess.run([command, "--version"], capture_output=True, text=True, env=environ)
    except OSError:
        return "not found"
    lines = result.stdout.strip().splitlines()
    return lines[0] if lines else "unknown"


def package_versions() -> dict[str, str]:
    from importlib import metadata  # ~9 ms: only when build-info.json is written

    versions = {"fwbuild": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def config_digest(parts: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved, path-free configuration."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def build_info(
    build_dir: Path, outputs: list[Path], meta: Mapping[str, Any], tools: Mapping[str, str]
) -> str:
    files = {}
    for path in sorted(outputs, key=lambda p: p.relative_to(build_dir).as_posix()):
        data = path.read_bytes()
        files[path.relative_to(build_dir).as_posix()] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    info = {**meta, "toolchain": dict(tools), "packages": package_versions(), "outputs": files}
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def verify_build(info_path: Path, prefix: str = "arm-none-eabi-") -> list[str]:
    """Re-hash the outputs a build-info.json records (paths relative to its folder) and
    compare the toolchain now on PATH with the recorded one; returns every mismatch."""
    info = json.loads(info_path.read_text())
    folder = info_path.parent
    problems = []
    for name, record in sorted(info.get("outputs", {}).items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != record["sha256"]:
            problems.append(
                f"{name}: SHA-256 {digest[:16]}... ({len(data)} bytes), the record says "
                f"{record['sha256'][:16]}... ({record['size']} bytes)"
            )
    tools = {"cc": prefix + "gcc", "objcopy": prefix + "objcopy"}
    for key, recorded in sorted(info.get("toolchain", {}).items()):
        now = tool_version(tools.get(key, key))
        if now != recorded:
            problems.append(
                f"toolchain {key}: {tools.get(key, key)} is '{now}', the record says '{recorded}'"
            )
    return problems
