"""sign_command runs in a process group of its own, with a time limit: a signer that never
returns, or a build interrupted while it runs, leaves no process and no temporary file
behind. An empty signature and a wrong key password are errors of their own."""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from fwbuild import keys as keys_module
from fwbuild.keyfacts import PASSWORD_VARIABLE, DeferredKey
from fwbuild.keys import CommandSigner, SignatureError, SigningKeyError, load_private_key, sign_timeout
from fwbuild.project import load_project
from fwbuild.readcache import ReadCache
from fwbuild.signing import choose_signer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and a subreaper: Linux")

DIGEST = hashlib.sha256(b"payload").digest()
PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def subreaper():
    """Make this process the subreaper of what it starts, as init is on a host: orphans of
    a killed signer come back to us and are reaped, so that a dead group really is gone
    (in a container whose init does not reap, they would linger as zombies)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) refused")
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture
def public(key_files):
    return load_private_key(key_files["ecdsa-p256"]).public


def script(tmp_path: Path, name: str, body: str) -> Path:
    """A shell script that records its process group and its arguments, then runs ``body``."""
    path = tmp_path / name
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$(ps -o pgid= -p $$)" > {tmp_path}/pgid\n'
        f'echo "$1" > {tmp_path}/digest-path\n' + textwrap.dedent(body)
    )
    path.chmod(0o755)
    return path


def group_of(tmp_path: Path) -> int:
    return int((tmp_path / "pgid").read_text().strip())


def assert_gone(group: int, tmp_path: Path) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    digest_file = Path((tmp_path / "digest-path").read_text().strip())
    assert not digest_file.parent.exists(), "the signer's temporary folder was left behind"


def test_a_signer_that_never_returns_is_stopped_with_its_group(tmp_path, public, subreaper):
    # a child in the background and one in the foreground: both in the signer's group
    never = script(tmp_path, "never.sh", "sleep 1000 &\nsleep 1000\n")
    signer = CommandSigner(public, f"{never} {{digest}} {{signature}}", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SignatureError, match=r"did not finish within 0\.5 s.*FWBUILD_SIGN_TIMEOUT"):
        signer.sign_digest(DIGEST)
    assert time.monotonic() - started < 5
    assert group_of(tmp_path) != os.getpgid(0)  # its own group, not the build's
    assert_gone(group_of(tmp_path), tmp_path)


def test_a_signer_that_ignores_sigterm_is_killed(tmp_path, public, subreaper, monkeypatch):
    monkeypatch.setattr(keys_module, "TERMINATE_GRACE", 0.3)
    stubborn = script(tmp_path, "stubborn.sh", "trap '' TERM\nsleep 1000 &\nwhile :; do sleep 1; done\n")
    signer = CommandSigner(public, f"{stubborn} {{digest}} {{signature}}", timeout=0.5)
    with pytest.raises(SignatureError, match="did not finish"):
        signer.sign_digest(DIGEST)
    assert_gone(group_of(tmp_path), tmp_path)


def _signal_later(signum: int, after: float) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_sigterm_to_the_build_stops_the_signer_and_reaches_the_build(tmp_path, public, subreaper):
    never = script(tmp_path, "never.sh", "sleep 1000\n")
    signer = CommandSigner(public, f"{never} {{digest}} {{signature}}", timeout=60)
    seen = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))  # as SCons's
    try:
        _signal_later(signal.SIGTERM, 0.5)
        started = time.monotonic()
        with pytest.raises(SignatureError, match=r"interrupted \(SIGTERM\) while sign_command ran"):
            signer.sign_digest(DIGEST)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert time.monotonic() - started < 10
    assert seen == [signal.SIGTERM]  # the build's own handler still hears of it
    assert_gone(group_of(tmp_path), tmp_path)


def test_ctrl_c_stops_the_signer_and_raises_keyboard_interrupt(tmp_path, public, subreaper):
    never = script(tmp_path, "never.sh", "sleep 1000 &\nsleep 1000\n")
    signer = CommandSigner(public, f"{never} {{digest}} {{signature}}", timeout=60)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    _signal_later(signal.SIGINT, 0.5)
    with pytest.raises(KeyboardInterrupt):
        signer.sign_digest(DIGEST)
    assert_gone(group_of(tmp_path), tmp_path)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_signal_handlers_are_put_back(tmp_path, public):
    before = {kind: signal.getsignal(kind) for kind in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with pytest.raises(
        SignatureError, match="exited with status 3 and printed nothing; the command was: exit 3"
    ):
        CommandSigner(public, "exit 3").sign_digest(DIGEST)
    assert {kind: signal.getsignal(kind) for kind in before} == before


def test_a_signer_in_another_thread_still_has_its_time_limit(tmp_path, public, subreaper):
    never = script(tmp_path, "never.sh", "sleep 1000\n")
    signer = CommandSigner(public, f"{never} {{digest}} {{signature}}", timeout=0.5)
    errors = []

    def run():
        try:
            signer.sign_digest(DIGEST)
        except SignatureError as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)  # as in a parallel SCons build
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and "did not finish" in str(errors[0])
    assert_gone(group_of(tmp_path), tmp_path)


def test_what_a_signer_leaves_running_is_ended_when_it_returns(tmp_path, key_files, public, subreaper):
    sign = tmp_path / "sign.py"
    sign.write_text(
        textwrap.dedent(
            f"""
            import sys
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, utils
            pem = open({str(key_files["ecdsa-p256"])!r}, "rb").read()
            key = serialization.load_pem_private_key(pem, None)
            digest = open(sys.argv[1], "rb").read()
            signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            open(sys.argv[2], "wb").write(signature)
            """
        )
    )
    leaves = script(tmp_path, "leaves.sh", f'sleep 1000 &\n{sys.executable} {sign} "$1" "$2"\n')
    signature = CommandSigner(public, f"{leaves} {{digest}} {{signature}}", timeout=30).sign_digest(DIGEST)
    assert public.verify_digest(DIGEST, signature)
    assert_gone(group_of(tmp_path), tmp_path)


def test_an_empty_signature_says_the_signer_wrote_nothing(tmp_path, public):
    with pytest.raises(SignatureError, match=r"exited with status 0 but wrote nothing.*is empty") as info:
        CommandSigner(public, ": > {signature}").sign_digest(DIGEST)
    assert "public key" not in str(info.value)
    with pytest.raises(SignatureError, match="wrote no signature"):
        CommandSigner(public, "true").sign_digest(DIGEST)


@pytest.mark.parametrize("text", ["0", "-5", "soon", "nan", "inf", "1e9"])
def test_a_bad_timeout_variable_is_an_error_naming_it(public, monkeypatch, text):
    with pytest.raises(SigningKeyError, match=f"FWBUILD_SIGN_TIMEOUT={text!r} is not a time limit"):
        sign_timeout({"FWBUILD_SIGN_TIMEOUT": text})
    monkeypatch.setenv("FWBUILD_SIGN_TIMEOUT", text)
    with pytest.raises(SigningKeyError, match="FWBUILD_SIGN_TIMEOUT"):
        CommandSigner(public, "true")  # when the signer is chosen, before any build step


def test_the_timeout_comes_from_the_variable_or_the_default(public, monkeypatch):
    monkeypatch.delenv("FWBUILD_SIGN_TIMEOUT", raising=False)
    assert CommandSigner(public, "true").timeout == 300
    monkeypatch.setenv("FWBUILD_SIGN_TIMEOUT", "12.5")
    assert CommandSigner(public, "true").timeout == 12.5
    assert sign_timeout({}) == 300


# -- a wrong key password -----------------------------------------------------------------------
def test_a_remembered_key_with_a_wrong_password_is_an_error_at_once(tmp_path, keys):
    key = keys.write(tmp_path / "enc.pem", keys.generate("ecdsa-p256"), b"s3cret")
    facts = load_private_key(key, {PASSWORD_VARIABLE: "s3cret"}).public.facts
    DeferredKey(key, facts, {PASSWORD_VARIABLE: "s3cret"})  # opens: fine
    with pytest.raises(SigningKeyError, match="wrong password"):
        DeferredKey(key, facts, {PASSWORD_VARIABLE: "guess"})


def test_a_wrong_password_is_an_error_when_the_read_cache_knows_the_key(tmp_path, keys):
    """The first run remembers the key's facts; a later run with a wrong password must not
    pass just because nothing needs signing."""
    key = keys.write(tmp_path / "enc.pem", keys.generate("ed25519"), b"s3cret")
    (tmp_path / "fwbuild.json").write_text('{"signing": {"key": "enc.pem"}}')
    project = load_project(tmp_path)
    cache = ReadCache(tmp_path / "cache.json")
    choose_signer(project, "debug", environ={PASSWORD_VARIABLE: "s3cret"}, cache=cache)
    cache.save()
    again = ReadCache(tmp_path / "cache.json")
    assert any(k.startswith("key:") for k in again.entries)
    with pytest.raises(SigningKeyError, match="wrong password"):
        choose_signer(project, "debug", environ={PASSWORD_VARIABLE: "guess"}, cache=again)
    # an unencrypted key without a password is still only loaded when something is signed
    keys.write(tmp_path / "plain.pem", keys.generate("ed25519"))
    (tmp_path / "fwbuild.json").write_text('{"signing": {"key": "plain.pem"}}')
    project = load_project(tmp_path)
    choose_signer(project, "debug", environ={}, cache=again)
    deferred = choose_signer(project, "debug", environ={}, cache=again).signer
    assert isinstance(deferred, DeferredKey) and deferred._key is None
    assert key.exists()
