"""The firmware repo's ``fwbuild.json``: name, version, extra target folders, overrides."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fwbuild.errors import ConfigError
from fwbuild.jsonfile import read_json, validate
from fwbuild.paths import not_a_file
from fwbuild.targets import Sourced, Target, TargetSet
from fwbuild.values import parse_int

if TYPE_CHECKING:
    from fwbuild.readcache import ReadCache

PROJECT_FILE = "fwbuild.json"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\+(\d+))?$")


@dataclass(frozen=True, order=True)
class Version:
    """An MCUboot image version: u8.u8.u16+u32. Ordering ignores ``build``, as MCUboot does."""

    major: int
    minor: int
    revision: int
    build: int = field(default=0, compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise ValueError(f"'{text}' is not X.Y.Z or X.Y.Z+B")
        major, minor, revision, build = (int(g) if g else 0 for g in match.groups())
        for value, limit, part in (
            (major, 0xFF, "major"),
            (minor, 0xFF, "minor"),
            (revision, 0xFFFF, "revision"),
            (build, 0xFFFFFFFF, "build"),
        ):
            if value > limit:
                raise ValueError(f"'{text}': {part} {value} is above {limit}")
        return cls(major, minor, revision, build)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.revision}"
        return text + (f"+{self.build}" if self.build else "")


@dataclass(frozen=True)
class SigningConfig:
    """``signing`` in fwbuild.json; paths are resolved against the project."""

    file: Path | None = None
    key: Path | None = None
    sign_command: str | None = None
    security_counter: int | str | None = "auto"
    custom_tlvs: tuple[tuple[int, bytes], ...] = ()
    pad: bool = False
    confirm: bool = False
    # Key files or inline PEM public keys the boot chain trusts (empty: the signing key)
    trusted_keys: tuple[str, ...] = ()
    revoked_keys: tuple[bytes, ...] = ()  # KEYHASHes refused even when trusted


@dataclass(frozen=True)
class Project:
    root: Path
    file: Path | None
    name: str
    version: Version
    targets_dirs: tuple[Path, ...]
    linker_template: Path | None
    overrides: dict[str, dict[str, Sourced]] = field(hash=False, compare=False)
    signing: SigningConfig = SigningConfig()
    toolchain_gcc: str | None = None  # pinned compiler version (toolchain.gcc)

    def target_set(self, cache: ReadCache | None = None) -> TargetSet:
        return TargetSet(self.targets_dirs, cache)

    def overrides_for(self, target: Target, targets: TargetSet) -> dict[str, Sourced]:
        """Layout keys for a target: "*" first, then each name in its chain, most specific last."""
        merged: dict[str, Sourced] = {}
        for key in ["*"] + list(reversed(targets.chain(target.name))):
            merged.update(self.overrides.get(key, {}))
        return merged


def load_project(root: Path | str, cache: ReadCache | None = None) -> Project:
    """Read ``fwbuild.json`` under ``root``; a folder without one gets the defaults."""
    problem = not_a_file(root, "folder")
    if problem:
        raise ConfigError(root, None, f"project {problem}", "check --project")
    root = Path(root).resolve()
    path = root / PROJECT_FILE
    if not os.path.lexists(path):
        return Project(root, None, root.name, Version(0, 0, 0), (), None, {})
    data = read_json(path)
    validate(data, "project-schema.json", path, cache)
    try:
        version = Version.parse(data.get("version", "0.0.0"))
    except ValueError as exc:
        raise ConfigError(path, "version", str(exc), "use X.Y.Z[+B], e.g. 1.2.3+4") from None
    dirs = []
    for entry in data.get("targets_dirs", []):
        folder = root / entry  # as configured, links unresolved: see fwbuild.paths
        problem = not_a_file(folder, "folder")
        if problem:
            raise ConfigError(
                path,
                "targets_dirs",
                f"folder '{entry}' not found" if problem == "folder not found" else f"'{entry}' {problem}",
                "create it or remove the entry",
            )
        dirs.append(folder)
    template = data.get("linker_template")
    if template is not None:
        template_path = root / template
        problem = not_a_file(template_path)
        if problem:
            raise ConfigError(
                path,
                "linker_template",
                f"file '{template}' not found" if problem == "file not found" else f"'{template}' {problem}",
            )
    overrides = {
        name: {key: Sourced(value, path) for key, value in keys.items()}
        for name, keys in data.get("target_overrides", {}).items()
    }
    signing = _signing(root, path, data.get("signing", {}))
    return Project(
        root=root,
        file=path,
        name=data.get("name", root.name),
        version=version,
        targets_dirs=tuple(dirs),
        linker_template=template_path if template is not None else None,
        overrides=overrides,
        signing=signing,
        toolchain_gcc=data.get("toolchain", {}).get("gcc"),
    )


def _signing(root: Path, path: Path, data: dict) -> SigningConfig:
    counter = data.get("security_counter", "auto")
    if counter not in ("auto", None):
        try:
            counter = parse_int(counter)
        except ValueError as exc:
            raise ConfigError(path, "signing.security_counter", str(exc)) from None
        if not 0 <= counter <= 0xFFFFFFFF:
            raise ConfigError(path, "signing.security_counter", f"{counter} is not a 32-bit value")
    tlvs = []
    for kind, value in data.get("custom_tlvs", {}).items():
        try:
            tlvs.append((parse_int(kind), bytes.fromhex(value)))
        except ValueError as exc:
            raise ConfigError(
                path, f"signing.custom_tlvs.{kind}", str(exc), "use a hex type such as 0xa0"
            ) from None
    key = data.get("key")
    return SigningConfig(
        file=path,
        key=root / key if key else None,
        sign_command=data.get("sign_command"),
        security_counter=counter,
        custom_tlvs=tuple(tlvs),
        pad=bool(data.get("pad", False) or data.get("confirm", False)),
        confirm=bool(data.get("confirm", False)),
        trusted_keys=tuple(data.get("trusted_keys", ())),
        revoked_keys=tuple(bytes.fromhex(h) for h in data.get("revoked_keys", ())),
    )


def version_matches(pinned: str, found: str) -> bool:
    """ "12.2" accepts 12.2 and 12.2.x; "12.2.1" only 12.2.1."""
    want, have = pinned.split("."), found.strip().split(".")
    return have[: len(want)] == want
