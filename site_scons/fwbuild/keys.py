"""Signing keys: load them, sign and check SHA-256 digests, export the public half.

Every signature fwbuild makes covers the SHA-256 digest of the signed bytes, as MCUboot's
imgtool does: ECDSA P-256 and RSA-PSS sign it as a prehashed SHA-256, Ed25519 signs the
32 digest bytes as its message. The public key bytes (and so KEYHASH) are imgtool's:
SubjectPublicKeyInfo DER for EC and Ed25519, PKCS#1 RSAPublicKey DER for RSA.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from fwbuild.errors import FwbuildError
from fwbuild.keyfacts import KeyFacts

PASSWORD_VARIABLE = "FWBUILD_SIGNING_KEY_PASSWORD"


class SigningKeyError(FwbuildError):
    """A key file is missing, unreadable, encrypted without a password, or of a kind we do
    not sign with."""


class SignatureError(FwbuildError):
    """A signature does not verify against the configured public key."""


_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_PREHASHED = utils.Prehashed(hashes.SHA256())


@dataclass(frozen=True)
class PublicKey:
    kind: str  # "ecdsa-p256" | "ed25519" | "rsa-2048" | "rsa-3072"
    key: Any  # the cryptography public key object

    @property
    def der(self) -> bytes:
        """The bytes imgtool embeds and hashes for KEYHASH."""
        fmt = serialization.PublicFormat.PKCS1 if self.kind.startswith("rsa") else None
        return self.key.public_bytes(
            serialization.Encoding.DER, fmt or serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.der).digest()

    @property
    def facts(self) -> KeyFacts:
        return KeyFacts(self.kind, self.key_hash)

    @property
    def signature_tlv(self) -> int:
        return self.facts.signature_tlv

    @property
    def is_development_key(self) -> bool:
        return self.facts.is_development_key

    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        try:
            if self.kind == "ecdsa-p256":
                self.key.verify(signature, digest, ec.ECDSA(_PREHASHED))
            elif self.kind == "ed25519":
                self.key.verify(signature, digest)
            else:
                self.key.verify(signature, digest, _PSS, _PREHASHED)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    """An in-process signer. ECDSA uses RFC 6979 nonces, so its signatures repeat."""

    public: PublicKey
    key: Any
    source: str  # the file, for messages

    @property
    def deterministic(self) -> bool:
        return self.public.facts.signs_deterministically

    def sign_digest(self, digest: bytes) -> bytes:
        kind = self.public.kind
        if kind == "ecdsa-p256":
            return self.key.sign(digest, ec.ECDSA(_PREHASHED, deterministic_signing=True))
        if kind == "ed25519":
            return self.key.sign(digest)
        return self.key.sign(digest, _PSS, _PREHASHED)


@dataclass(frozen=True)
class CommandSigner:
    """An external signer (an HSM, a signing server): ``command`` reads the 32-byte digest
    from ``{digest}`` and writes the signature to ``{signature}``. Its answer is checked
    against ``public`` before anything is written."""

    public: PublicKey
    command: str
    deterministic: bool = False

    def sign_digest(self, digest: bytes) -> bytes:
        with tempfile.TemporaryDirectory(prefix="fwbuild-sign-") as tmp:
            digest_file, signature_file = Path(tmp, "digest.bin"), Path(tmp, "signature.bin")
            digest_file.write_bytes(digest)
            try:
                line = self.command.format(
                    digest=shlex.quote(str(digest_file)), signature=shlex.quote(str(signature_file))
                )
            except (KeyError, IndexError, ValueError) as exc:
                raise SigningKeyError(
                    f"sign_command '{self.command}': unknown placeholder {exc}; use {{digest}} "
                    "(file holding the SHA-256 digest to sign) and {signature} (file to write)"
                ) from None
            result = subprocess.run(line, shell=True, capture_output=True, text=True)
            if result.returncode:
                raise SignatureError(
                    f"sign_command exited with status {result.returncode}: "
                    f"{(result.stderr or result.stdout).strip()[-400:]}; the command was: {line}"
                )
            if not signature_file.is_file():
                raise SignatureError(
                    f"sign_command wrote no signature to {{signature}}; the command was: {line}"
                )
            signature = signature_file.read_bytes()
        if not self.public.verify_digest(digest, signature):
            raise SignatureError(
                f"the signature from sign_command does not verify with the configured {self.public.kind} "
                f"public key (KEYHASH {self.public.key_hash.hex()[:16]}...); the signer used another "
                "key or another scheme (ECDSA/RSA-PSS over the prehashed SHA-256 digest, Ed25519 "
                "over the 32 digest bytes)"
            )
        return signature


def _kind(key: Any, path: Path) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ecdsa-p256"
        problem = f"an EC key on curve {key.curve.name}"
    elif isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    elif isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size in (2048, 3072):
            return f"rsa-{key.key_size}"
        problem = f"a {key.key_size}-bit RSA key"
    else:
        problem = f"a {type(key).__name__.lstrip('_')}"
    raise SigningKeyError(
        f"{path}: {problem}, which MCUboot images cannot carry; use ECDSA P-256, Ed25519 or "
        "RSA-2048/3072 (e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(
            f"{path}: cannot read the signing key ({exc.strerror}); check signing.key in fwbuild.json, "
            "sign_key= or FWBUILD_SIGNING_KEY"
        ) from None


def load_private_key(path: Path | str, environ: Mapping[str, str] = os.environ) -> PrivateKey:
    """A PEM or DER private key; an encrypted one takes its password from
    FWBUILD_SIGNING_KEY_PASSWORD."""
    path = Path(path)
    data = _read(path)
    password = environ.get(PASSWORD_VARIABLE)
    secret = password.encode() if password is not None else None
    loader = (
        serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    )
    try:
        key = loader(data, secret)
    except TypeError:
        if secret is None:
            raise SigningKeyError(
                f"{path}: the key is encrypted and {PASSWORD_VARIABLE} is not set; export the "
                "password in that variable"
            ) from None
        raise SigningKeyError(
            f"{path}: the key is not encrypted but {PASSWORD_VARIABLE} is set; unset it"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        if b"PUBLIC KEY-----" in data:
            raise SigningKeyError(
                f"{path}: a public key cannot sign; give the private key, or keep the public key "
                "and hand signing to a signer with sign_command"
            ) from None
        if secret is not None and b"ENCRYPTED" in data:
            raise SigningKeyError(f"{path}: wrong password in {PASSWORD_VARIABLE}") from None
        raise SigningKeyError(f"{path}: not a private key fwbuild can read ({_first_line(exc)})") from None
    return PrivateKey(PublicKey(_kind(key, path), key.public_key()), key, str(path))


def load_public_key(path: Path | str, environ: Mapping[str, str] = os.environ) -> PublicKey:
    """A public key file, or the public half of a private key file."""
    path = Path(path)
    data = _read(path)
    if b"PRIVATE KEY-----" in data:
        return load_private_key(path, environ).public
    loader = serialization.load_pem_public_key if b"-----BEGIN" in data else serialization.load_der_public_key
    try:
        key = loader(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{path}: not a public key fwbuild can read ({_first_line(exc)})") from None
    return PublicKey(_kind(key, path), key)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def public_key_c(public: PublicKey, name: str = "fw_public_key") -> str:
    """The public key as a C array (the bytes MCUboot's keys.c embeds)."""
    data = public.der
    rows = [", ".join(f"0x{b:02x}" for b in data[i : i + 12]) for i in range(0, len(data), 12)]
    body = ",\n    ".join(rows)
    return (
        f"/* {public.kind} public key, KEYHASH {public.key_hash.hex()} */\n"
        f"const unsigned char {name}[] = {{\n    {body},\n}};\n"
        f"const unsigned int {name}_len = {len(data)};\n"
    )
