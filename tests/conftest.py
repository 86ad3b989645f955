"""Shared helpers: inline targets and projects written to a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


class Workspace:
    """A temporary firmware repo: ``target(name, **data)`` and ``project(**data)`` write JSON."""

    def __init__(self, root: Path):
        self.root = root
        self.targets_dir = root / "targets"
        self.targets_dir.mkdir()

    def target(self, name: str, data: dict[str, Any] | str) -> Path:
        path = self.targets_dir / f"{name}.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return path

    def project(self, **data: Any) -> Path:
        data.setdefault("targets_dirs", ["targets"])
        path = self.root / "fwbuild.json"
        path.write_text(json.dumps(data))
        return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


class Keys:
    """Throw-away signing keys written as PEM files."""

    KINDS = ("ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072")
    DEV_KEY = REPO / "example_project" / "keys" / "dev-signing-key.pem"

    @staticmethod
    def generate(kind: str) -> Any:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        if kind == "ecdsa-p256":
            return ec.generate_private_key(ec.SECP256R1())
        if kind == "ed25519":
            return ed25519.Ed25519PrivateKey.generate()
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind.split("-")[1]))

    @staticmethod
    def write(path: Path, key: Any, password: bytes | None = None) -> Path:
        from cryptography.hazmat.primitives import serialization

        encryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        )
        return path


@pytest.fixture(scope="session")
def keys() -> type[Keys]:
    return Keys


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One key file per supported kind, generated once per test run."""
    folder = tmp_path_factory.mktemp("keys")
    return {kind: Keys.write(folder / f"{kind}.pem", Keys.generate(kind)) for kind in Keys.KINDS}
