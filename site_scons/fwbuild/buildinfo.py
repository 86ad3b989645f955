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
from importlib import metadata
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
