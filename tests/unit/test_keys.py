"""Key loading: every bad key is one clear error, and no private bytes in any message."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fwbuild.errors import ConfigError
from fwbuild.keys import SigningKeyError, load_private_key, load_public_key, public_key_c
from fwbuild.project import load_project
from fwbuild.signing import choose_signer

PASSWORD = "FWBUILD_SIGNING_KEY_PASSWORD"


@pytest.fixture
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def test_encrypted_key_takes_its_password_from_the_environment(tmp_path, ec_key, keys):
    path = keys.write(tmp_path / "enc.pem", ec_key, b"s3cret")
    assert load_private_key(path, {PASSWORD: "s3cret"}).public.kind == "ecdsa-p256"
    with pytest.raises(SigningKeyError, match=f"encrypted and {PASSWORD} is not set"):
        load_private_key(path, {})
    with pytest.raises(SigningKeyError, match=f"wrong password in {PASSWORD}") as info:
        load_private_key(path, {PASSWORD: "guess"})
    assert "guess" not in str(info.value) and "s3cret" not in str(info.value)


def test_bad_key_files(tmp_path, ec_key, keys):
    public = tmp_path / "pub.pem"
    public.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(SigningKeyError, match="a public key cannot sign"):
        load_private_key(public)
    assert load_public_key(public).kind == "ecdsa-p256"

    with pytest.raises(SigningKeyError, match=r"missing\.pem: cannot read the signing key \(No such file"):
        load_private_key(tmp_path / "missing.pem")

    p384 = keys.write(tmp_path / "p384.pem", ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(
        SigningKeyError, match="an EC key on curve secp384r1, which MCUboot images cannot carry"
    ):
        load_private_key(p384)
    small = keys.write(
        tmp_path / "rsa1024.pem", rsa.generate_private_key(public_exponent=65537, key_size=1024)
    )
    with pytest.raises(SigningKeyError, match="a 1024-bit RSA key"):
        load_private_key(small)

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError, match="garbage.pem: not a private key fwbuild can read"):
        load_private_key(garbage)


def test_messages_never_carry_private_bytes(tmp_path, ec_key, keys):
    path = keys.write(tmp_path / "k.pem", ec_key, b"pw")
    secret = ec_key.private_numbers().private_value.to_bytes(32, "big")
    pem_body = path.read_text().splitlines()[1]
    for env in ({}, {PASSWORD: "nope"}):
        with pytest.raises(SigningKeyError) as info:
            load_private_key(path, env)
        assert pem_body not in str(info.value) and secret.hex() not in str(info.value)


def test_getpub_c_array_holds_the_der_mcuboot_embeds(ec_key, tmp_path, keys):
    public = load_private_key(keys.write(tmp_path / "k.pem", ec_key)).public
    text = public_key_c(public)
    values = bytes(int(v, 16) for v in text.split("{", 1)[1].split("}", 1)[0].replace(",", " ").split())
    assert values == public.der and f"_len = {len(public.der)};" in text


def test_release_rules(tmp_path, ec_key, keys):
    project = load_project(tmp_path)
    with pytest.raises(ConfigError, match="a release build must be signed"):
        choose_signer(project, "release", environ={})
    with pytest.raises(ConfigError, match="development key, whose private half is public"):
        choose_signer(project, "release", str(keys.DEV_KEY), environ={})
    # the development key is recognised by its public key, not by its file name
    renamed = tmp_path / "production.pem"
    renamed.write_bytes(keys.DEV_KEY.read_bytes())
    with pytest.raises(ConfigError, match="development key"):
        choose_signer(project, "release", environ={"FWBUILD_SIGNING_KEY": str(renamed)})
    own = keys.write(tmp_path / "own.pem", ec_key)
    assert choose_signer(project, "release", str(own), environ={}).signer is not None
    assert choose_signer(project, "debug", environ={}).signer is None


def test_generated_trusted_keys_are_what_getpub_prints(ws, keys, capsys):
    """Each key in fwbuild_keys.c is the text `fwbuild getpub --format c --name ...` prints."""
    from fwbuild.cli import main
    from fwbuild.project import load_project
    from fwbuild.trustedkeys import keys_c

    first = keys.write(ws.root / "first.pem", keys.generate("ed25519"))
    second = keys.write(ws.root / "second.pem", keys.generate("ecdsa-p256"))
    ws.project(name="p", signing={"key": "first.pem", "trusted_keys": ["first.pem", "second.pem"]})
    text = keys_c(load_project(ws.root))
    for i, key in enumerate((first, second)):
        assert main(["getpub", str(key), "--format", "c", "--name", f"fwbuild_trusted_key_{i}"]) == 0
        assert capsys.readouterr().out in text
    assert "fwbuild_trusted_key_count = 2;" in text and "fwbuild_revoked_key_count = 0;" in text
