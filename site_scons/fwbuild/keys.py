"""Signing keys: load them, sign and check SHA-256 digests, export the public half.

Every signature fwbuild makes covers the SHA-256 digest of the signed bytes, as MCUboot's
imgtool does: ECDSA P-256 and RSA-PSS sign it as a prehashed SHA-256, Ed25519 signs the
32 digest bytes as its message. The public key bytes (and so KEYHASH) are imgtool's:
SubjectPublicKeyInfo DER for EC and Ed25519, PKCS#1 RSAPublicKey DER for RSA.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from fwbuild.errors import FwbuildError
from fwbuild.keyfacts import PASSWORD_VARIABLE, KeyFacts


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
    against ``public`` before anything is written.

    The command runs in a process group of its own, for at most ``timeout`` seconds
    (FWBUILD_SIGN_TIMEOUT, default 300). When it runs out of time, or the build is
    interrupted while it runs (Ctrl-C, SIGTERM, SIGHUP), the whole group is ended (SIGTERM,
    then SIGKILL after a grace period) and its temporary folder removed; whatever it leaves
    running in its group after it returns is ended too."""

    public: PublicKey
    command: str
    deterministic: bool = False
    timeout: float | None = None  # None: FWBUILD_SIGN_TIMEOUT, else DEFAULT_SIGN_TIMEOUT

    def __post_init__(self) -> None:
        if self.timeout is None:
            object.__setattr__(self, "timeout", sign_timeout(os.environ))

    def sign_digest(self, digest: bytes) -> bytes:
        with _signals_interrupt():
            tmp = None
            try:
                tmp = Path(tempfile.mkdtemp(prefix="fwbuild-sign-"))
                signature = self._run(tmp, digest)
            finally:
                with _signals_held():
                    if tmp is not None:
                        shutil.rmtree(tmp, ignore_errors=True)
        if not self.public.verify_digest(digest, signature):
            raise SignatureError(
                f"the signature from sign_command does not verify with the configured {self.public.kind} "
                f"public key (KEYHASH {self.public.key_hash.hex()[:16]}...); the signer used another "
                "key or another scheme (ECDSA/RSA-PSS over the prehashed SHA-256 digest, Ed25519 "
                "over the 32 digest bytes)"
            )
        return signature

    def _run(self, tmp: Path, digest: bytes) -> bytes:
        digest_file, signature_file = tmp / "digest.bin", tmp / "signature.bin"
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
        timeout = float(self.timeout or DEFAULT_SIGN_TIMEOUT)
        with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
            status = _run_in_own_group(line, timeout, out, err)
        output = (tmp / "stderr").read_bytes().strip() or (tmp / "stdout").read_bytes().strip()
        said = output.decode("utf-8", "replace")[-400:]
        if status is None:
            raise SignatureError(
                f"sign_command did not finish within {timeout:g} s and was stopped, with every process "
                f"it started; {TIMEOUT_VARIABLE} sets the limit in seconds (default "
                f"{DEFAULT_SIGN_TIMEOUT}). The command was: {line}" + (f"; it said: {said}" if said else "")
            )
        if status:
            told = f": {said}" if said else " and printed nothing"
            raise SignatureError(f"sign_command exited with status {status}{told}; the command was: {line}")
        if not signature_file.is_file():
            raise SignatureError(f"sign_command wrote no signature to {{signature}}; the command was: {line}")
        signature = signature_file.read_bytes()
        if not signature:
            raise SignatureError(
                "sign_command exited with status 0 but wrote nothing: the {signature} file is empty "
                f"(the signer failed without saying so); the command was: {line}"
                + (f"; it said: {said}" if said else "")
            )
        return signature


TIMEOUT_VARIABLE = "FWBUILD_SIGN_TIMEOUT"
DEFAULT_SIGN_TIMEOUT = 300
TERMINATE_GRACE = 2.0  # seconds between SIGTERM and SIGKILL


def sign_timeout(environ: Mapping[str, str]) -> float:
    """FWBUILD_SIGN_TIMEOUT: seconds a sign_command may take."""
    text = environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return float(DEFAULT_SIGN_TIMEOUT)
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 86400:  # also refuses nan and inf
        raise SigningKeyError(
            f"{TIMEOUT_VARIABLE}={text!r} is not a time limit; give the seconds a sign_command may "
            f"take, more than 0 and at most 86400 (default {DEFAULT_SIGN_TIMEOUT})"
        )
    return seconds


class _Interrupted(BaseException):
    """A signal arrived while a signer ran; raised to unwind through the clean-up."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM/SIGHUP raise _Interrupted, so that the block's
    clean-up runs; afterwards the signal is delivered again to whoever handled it before
    (SCons stops the build, Python's default ends the process). Only the main thread can
    handle signals; in other threads the block runs as it is (the time limit still holds)."""
    if not _in_main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted(signum)

    before = {}
    for kind in _SIGNALS:
        previous = signal.getsignal(kind)
        if previous is not None:  # None: a handler from C, which could not be put back
            before[kind] = signal.signal(kind, interrupt)
    received = None
    try:
        yield
    except _Interrupted as exc:
        received = exc.signum
    finally:
        for kind, handler in before.items():
            signal.signal(kind, handler)
    if received is not None:
        signal.raise_signal(received)  # the previous handler's turn: it may raise or exit
        raise SignatureError(
            f"the build was interrupted ({signal.Signals(received).name}) while sign_command ran; "
            "the signer was stopped and nothing was signed"
        )


@contextmanager
def _signals_held() -> Iterator[None]:
    """Clean-up that a second Ctrl-C must not cut short: those signals wait until it is done."""
    if not (_in_main_thread() and hasattr(signal, "pthread_sigmask")):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _run_in_own_group(line: str, timeout: float, out: Any, err: Any) -> int | None:
    """Run the shell command ``line`` as the leader of a new process group; its exit status,
    or None when it ran out of time. Whatever way this returns or raises, the group is
    ended first."""
    if os.name != "posix":  # pragma: no cover - no process groups
        try:
            return subprocess.run(line, shell=True, stdout=out, stderr=err, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None
    proc = subprocess.Popen(
        line, shell=True, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
    )
    try:
        exited = _wait_exit(proc, timeout)
    finally:
        with _signals_held():
            _end_group(proc)
    return proc.returncode if exited else None


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, leaving it unreaped where the system allows (os.waitid):
    its pid, which is the group's id, cannot be reused before the group is ended."""
    if not hasattr(os, "waitid"):  # pragma: no cover - macOS before Python 3.13
        return proc.poll() is not None
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the child to exit; True when it did."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not _exited(proc):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """End every process in ``proc``'s group: SIGTERM and a grace period for the leader,
    then SIGKILL for all that is left; reap the leader, and any member that is our child."""
    group = proc.pid
    if not _exited(proc):
        _kill_group(group, signal.SIGTERM)
        _wait_exit(proc, TERMINATE_GRACE)
    _kill_group(group, signal.SIGKILL)
    proc.wait()
    # Members whose parent died were handed to init, or to us when we are a subreaper: reap
    # ours as SIGKILL takes them (none of ours left: ChildProcessError).
    deadline = time.monotonic() + TERMINATE_GRACE
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-group, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.005)


def _kill_group(group: int, kind: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, kind)


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
