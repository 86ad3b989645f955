"""What the build graph needs to know about a signing key without loading it: its kind
and public-key hash. Loading a key imports cryptography (~20 ms); a null build should not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

PASSWORD_VARIABLE = "FWBUILD_SIGNING_KEY_PASSWORD"

# MCUboot signature TLV per key kind.
SIGNATURE_TLV = {"ecdsa-p256": 0x22, "ed25519": 0x24, "rsa-2048": 0x20, "rsa-3072": 0x23}

# KEYHASHes of the example's development keys, example_project/keys/dev-signing-key.pem
# (ECDSA P-256) and dev-ed25519-key.pem: release builds refuse them whatever the file is called.
DEVELOPMENT_KEY_HASHES = frozenset(
    {
        "1f87116c0ef3329ab9a871adaa1bb728e27444938ac825ec6f148fa7e4a011f2",
        "96d6ebee5d5ca4d967d821cb0894712609a4412c8f540c9e11df22888066167a",
    }
)
# The first line of a development key file (the example's, and those `fwbuild new` makes):
# release builds refuse a key file that carries it.
DEVELOPMENT_MARK = "DEVELOPMENT SIGNING KEY"


def marked_as_development(path: Path) -> bool:
    """Whether the key file's text before its PEM block carries DEVELOPMENT_MARK."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return DEVELOPMENT_MARK.encode() in head.split(b"-----BEGIN", 1)[0]


@dataclass(frozen=True)
class KeyFacts:
    kind: str  # "ecdsa-p256" | "ed25519" | "rsa-2048" | "rsa-3072"
    key_hash: bytes  # SHA-256 of the public key bytes imgtool embeds (KEYHASH)

    @property
    def signature_tlv(self) -> int:
        return SIGNATURE_TLV[self.kind]

    @property
    def is_development_key(self) -> bool:
        return self.key_hash.hex() in DEVELOPMENT_KEY_HASHES

    @property
    def signs_deterministically(self) -> bool:
        """In-process ECDSA (RFC 6979) and Ed25519 repeat; RSA-PSS salts are random."""
        return not self.kind.startswith("rsa")


class Signer(Protocol):
    public: KeyFacts
    deterministic: bool

    def sign_digest(self, digest: bytes) -> bytes: ...


@dataclass(frozen=True)
class DeferredKey:
    """A private key known by its facts, loaded only when something is signed.

    An encrypted key is loaded at once all the same: its facts were remembered for its
    bytes, but whether FWBUILD_SIGNING_KEY_PASSWORD opens it is a fact of this run, and a
    wrong password must stop every build, not only those that sign something."""

    path: Path
    public: KeyFacts
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)
    _key: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.environ.get(PASSWORD_VARIABLE) is not None:
            self.load()

    @property
    def deterministic(self) -> bool:
        return self.public.signs_deterministically

    def load(self) -> Any:
        """The key itself (a fwbuild.keys.PrivateKey), loaded once."""
        if self._key is None:
            from fwbuild.keys import SigningKeyError, load_private_key

            key = load_private_key(self.path, self.environ)
            if key.public.key_hash != self.public.key_hash:
                raise SigningKeyError(
                    f"{self.path}: the key changed while the build ran; run the build again"
                )
            object.__setattr__(self, "_key", key)
        return self._key

    def sign_digest(self, digest: bytes) -> bytes:
        return self.load().sign_digest(digest)
