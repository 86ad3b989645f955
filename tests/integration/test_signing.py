"""Signed slot images from real builds, checked with MCUboot's imgtool and fwbuild verify."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from imgtool import keys as imgtool_keys
from imgtool.image import Image, VerifyResult

EPOCH = "1700000000"
LAYOUTS = {
    "K64F": {"header_offset": "0x8000", "app_offset": "0x8400"},
    "MPS2_AN385": {"header_offset": "0x8000", "app_offset": "0x8400"},
}


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("FWBUILD_SIGNING_KEY", raising=False)
    monkeypatch.delenv("FWBUILD_SIGNING_KEY_PASSWORD", raising=False)


def mcuboot_project(fw, tmp_path: Path, target: str, signing: dict | None = None, **keys) -> Path:
    """The example with a prebuilt bootloader and an MCUboot header (the default format)."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot.bin").write_bytes(b"\x00\x80\x00\x20\x01\x01\x00\x00" + bytes(0x1F8))
    fw.set_overrides(project, target, bootloader_img="boot.bin", **{**LAYOUTS[target], **keys})
    if signing is not None:
        fw.edit_project(project, signing=signing)
    return project


def imgtool_verify(path: Path, key: Path | None) -> VerifyResult:
    return Image.verify(str(path), imgtool_keys.load(str(key)) if key else None)[0]


@pytest.mark.parametrize("target", ["K64F", "MPS2_AN385"])
@pytest.mark.parametrize("kind", ["ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072"])
def test_signed_builds_pass_imgtool_and_match_fwbuild_sign(fw, tmp_path, key_files, target, kind):
    project = mcuboot_project(fw, tmp_path, target)
    key = key_files[kind]
    result = fw.run_scons(project, target, f"sign_key={key}")
    assert result.returncode == 0, result.describe()
    out = project / "build" / target
    signed = out / "app-signed.bin"
    assert imgtool_verify(signed, key) == VerifyResult.OK
    assert imgtool_verify(out / "app-signed.hex", key) == VerifyResult.OK
    combined = (out / "combined.bin").read_bytes()
    assert combined[0x8000 : 0x8000 + signed.stat().st_size] == signed.read_bytes()
    info = json.loads((out / "build-info.json").read_text())
    public_bytes = imgtool_keys.load(str(key)).get_public_bytes()
    assert info["signing_key_sha256"] == hashlib.sha256(public_bytes).hexdigest()
    assert info["signature"] == f"{kind}, {'randomised' if kind.startswith('rsa') else 'deterministic'}"
    assert info["outputs"]["app-signed.bin"]["sha256"] == hashlib.sha256(signed.read_bytes()).hexdigest()

    again = fw.run_fwbuild(
        "sign", out / "app.bin", tmp_path / "cli.bin", "--key", key, "--target", target, "--project", project
    )
    assert again.returncode == 0, again.describe()
    if kind in ("ecdsa-p256", "ed25519"):  # deterministic: the command line gives the same bytes
        assert (tmp_path / "cli.bin").read_bytes() == signed.read_bytes()
    check = fw.run_fwbuild(
        "verify", tmp_path / "cli.bin", "--key", key, "--target", target, "--project", project
    )
    assert check.returncode == 0 and check.stdout.startswith("valid:"), check.describe()


def test_dumpinfo_shows_the_project_version_and_counter(fw, tmp_path, key_files):
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", {"security_counter": 7})
    fw.edit_project(project, version="2.5.9+77")
    result = fw.run_scons(project, "MPS2_AN385", f"sign_key={key_files['ed25519']}")
    assert result.returncode == 0, result.describe()
    info = subprocess.run(
        [sys.executable, "-m", "imgtool.main", "dumpinfo", str(project / "build/MPS2_AN385/app-signed.bin")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "version:            2.5.9+77" in info
    assert "type: SEC_CNT (0x50)" in info and "data: 0x07 0x00 0x00 0x00" in info


def test_example_signs_with_its_development_key_in_debug(fw, tmp_path, keys):
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385")
    result = fw.run_scons(project, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    example_key = fw.EXAMPLE / "keys" / "dev-ed25519-key.pem"  # fwbuild.json's signing.key
    assert imgtool_verify(project / "build/MPS2_AN385/app-signed.bin", example_key) == VerifyResult.OK


def test_debug_without_a_key_carries_the_hash_only(fw, tmp_path):
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", signing={})
    result = fw.run_scons(project, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: no signing key")]
    assert len(warnings) == 1, result.stderr
    signed = project / "build/MPS2_AN385/app-signed.bin"
    assert imgtool_verify(signed, None) == VerifyResult.OK
    inspect = fw.run_fwbuild("inspect", signed)
    assert "SHA256" in inspect.stdout and "KEYHASH" not in inspect.stdout, inspect.describe()


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "a release build must be signed and no key is configured"),
        (("sign_key={dev}",), "is the example's development key, whose private half is public"),
    ],
    ids=["unsigned", "development-key"],
)
def test_release_refuses(fw, tmp_path, keys, args, message):
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", signing={})
    result = fw.run_scons(
        project, "MPS2_AN385", "profile=release", *(a.format(dev=keys.DEV_KEY) for a in args)
    )
    assert result.returncode == 2, result.describe()
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not list((project / "build").glob("*/app-signed*"))


RELEASE_CLONE = """
release = env.Clone(FW_PROFILE="release", FW_BUILD_DIR="#build/release/$FW_TARGET")
Default(release.Firmware(Glob("app/*.c") + common, bootloader=Glob("bootloader/*.c") + common))
"""


def test_a_release_clone_beside_the_debug_build(fw, tmp_path, key_files):
    """One SConstruct, two environments: the release clone is checked and built as a
    release (its own signer choice, flags and layout files), not with the debug values."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    sconstruct = project / "SConstruct"
    sconstruct.write_text(sconstruct.read_text() + RELEASE_CLONE)
    refused = fw.run_scons(project, "K64F")  # the example's development key signs both
    assert refused.returncode == 2, refused.describe()
    assert "development key" in refused.stderr, refused.describe()

    key = f"sign_key={key_files['ecdsa-p256']}"
    result = fw.run_scons(project, "K64F", key, "verbose=1")
    assert result.returncode == 0, result.describe()
    builds = (("build/K64F/", "debug", "-Og"), ("build/release/K64F/", "release", "-Os"))
    for folder, profile, optimise in builds:
        info = json.loads((project / folder / "build-info.json").read_text())
        assert info["profile"] == profile
        assert (project / folder / "fwbuild_layout.h").is_file()
        compiles = [line.split() for line in result.stdout.splitlines() if f"-o {folder}obj/" in line]
        assert compiles and all(optimise in words for words in compiles), result.describe()
    again = fw.run_scons(project, "K64F", key)
    assert again.returncode == 0 and again.steps == [], again.describe()


def test_release_with_an_encrypted_key(fw, tmp_path, keys, monkeypatch):
    key = keys.write(tmp_path / "release.pem", keys.generate("ecdsa-p256"), b"correct horse")
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", signing={})
    result = fw.run_scons(project, "MPS2_AN385", "profile=release", f"sign_key={key}")
    assert result.returncode == 2
    assert "the key is encrypted and FWBUILD_SIGNING_KEY_PASSWORD is not set" in " ".join(
        result.stderr.split()
    )
    monkeypatch.setenv("FWBUILD_SIGNING_KEY_PASSWORD", "correct horse")
    monkeypatch.setenv("FWBUILD_SIGNING_KEY", str(key))
    result = fw.run_scons(project, "MPS2_AN385", "profile=release")
    assert result.returncode == 0, result.describe()
    assert imgtool_verify(project / "build/MPS2_AN385/app-signed.bin", key) == VerifyResult.OK


def test_external_signer(fw, tmp_path, keys):
    key = keys.write(tmp_path / "hsm.pem", keys.generate("ecdsa-p256"))
    public = tmp_path / "hsm-pub.pem"
    assert fw.run_fwbuild("getpub", key, "--out", public).returncode == 0
    command = f"openssl pkeyutl -sign -inkey {key} -in {{digest}} -out {{signature}}"
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", {"key": str(public), "sign_command": command})
    result = fw.run_scons(project, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    signed = project / "build/MPS2_AN385/app-signed.bin"
    assert imgtool_verify(signed, key) == VerifyResult.OK

    other = keys.write(tmp_path / "other.pem", keys.generate("ecdsa-p256"))
    result = fw.run_scons(project, "MPS2_AN385", f"sign_command={command.replace(str(key), str(other))}")
    assert result.returncode == 2, result.describe()
    assert "does not verify with the configured ecdsa-p256 public key" in " ".join(result.stderr.split())
    assert not signed.exists()


def test_image_too_big_for_its_slot(fw, tmp_path):
    # a 4 KiB slot: header, the small app, a 1500-byte custom TLV and the 1584-byte trailer
    project = mcuboot_project(
        fw, tmp_path, "K64F", {"custom_tlvs": {"0xa0": "00" * 1500}}, restrict_size="0xc00"
    )
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 2, result.describe()
    text = " ".join(result.stderr.split())
    assert "does not fit its 4096-byte slot" in text and "bytes too many" in text, text
    assert not (project / "build/K64F/app-signed.bin").exists()


def test_mbed_header_with_detached_signature(fw, tmp_path, key_files):
    key = key_files["ed25519"]
    project = mcuboot_project(fw, tmp_path, "K64F", header_format="mbed-v2")
    result = fw.run_scons(project, "K64F", f"sign_key={key}")
    assert result.returncode == 0, result.describe()
    out = project / "build/K64F"
    assert len((out / "app-signed.sig").read_bytes()) == 64
    verify = ["verify", out / "app-signed.bin", "--key", key, "--target", "K64F", "--project", project]
    good = fw.run_fwbuild(*verify)
    assert good.returncode == 0, good.describe()
    data = bytearray((out / "app-signed.bin").read_bytes())
    for offset, check in ((0x400 + 8, "digest"), (104, "header crc"), (108, "header crc")):
        tampered = bytearray(data)
        tampered[offset] ^= 0x10
        (out / "app-signed.bin").write_bytes(bytes(tampered))
        bad = fw.run_fwbuild(*verify)
        assert bad.returncode == 1 and f": {check}:" in bad.stdout, bad.describe()


def test_private_key_bytes_appear_nowhere(fw, tmp_path, keys):
    key_object = keys.generate("ecdsa-p256")
    key = keys.write(tmp_path / "k.pem", key_object)
    secret = key_object.private_numbers().private_value.to_bytes(32, "big")
    pem_lines = key.read_text().splitlines()[1:-1]
    project = mcuboot_project(fw, tmp_path, "MPS2_AN385", {"key": str(key)})
    result = fw.run_scons(project, "MPS2_AN385", "verbose=1")
    assert result.returncode == 0, result.describe()
    files = [p for p in project.rglob("*") if p.is_file() and p != key]
    for path in files:
        data = path.read_bytes()
        assert secret not in data and secret.hex().encode() not in data, path
        assert not any(line.encode() in data for line in pem_lines), path
    assert not any(line in result.output for line in pem_lines)
    assert json.loads((project / "build/MPS2_AN385/layout.json").read_text())["mode"] == "managed"
