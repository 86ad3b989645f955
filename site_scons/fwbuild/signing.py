"""Which signer a build uses, and the slot images it signs: MCUboot images, or an Mbed
header image with a detached signature.

The key comes from ``sign_key=`` (SCons) or ``--key`` (CLI), else FWBUILD_SIGNING_KEY, else
``signing.key`` in fwbuild.json. ``sign_command`` hands the digest to an external signer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fwbuild.chain import Slot, Stage
from fwbuild.errors import ConfigError, ImageError
from fwbuild.keyfacts import DEVELOPMENT_MARK, DeferredKey, KeyFacts, Signer, marked_as_development
from fwbuild.layout import Layout
from fwbuild.project import Project, SigningConfig, Version
from fwbuild.readcache import ReadCache

if TYPE_CHECKING:
    from fwbuild.mcuboot import ImageOptions

KEY_VARIABLE = "FWBUILD_SIGNING_KEY"


@dataclass(frozen=True)
class SignerChoice:
    signer: Signer | None
    key_path: Path | None
    origin: str  # where the key came from, for messages


def key_path(
    config: SigningConfig, override: str | None, environ: Mapping[str, str], cwd: Path | None = None
) -> tuple[Path | None, str]:
    if override:
        return (cwd or Path.cwd()) / override, "sign_key="
    if environ.get(KEY_VARIABLE):
        return Path(environ[KEY_VARIABLE]), KEY_VARIABLE
    if config.key:
        return config.key, f"{config.file}: signing.key"
    return None, ""


def choose_signer(
    project: Project,
    profile: str,
    key_override: str | None = None,
    command_override: str | None = None,
    environ: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
    cache: ReadCache | None = None,
) -> SignerChoice:
    """The signer for this build, with the release rules: signed, and not with the
    development key."""
    config = project.signing
    config_file = config.file or project.root / "fwbuild.json"
    path, origin = key_path(config, key_override, environ, cwd)
    command = command_override or config.sign_command
    signer: Signer | None
    if command:
        from fwbuild.keys import CommandSigner, load_public_key

        if path is None:
            raise ConfigError(
                config_file,
                "signing.key",
                "sign_command needs the public key its signatures are checked against",
                "set signing.key (or sign_key=) to the signer's public key",
            )
        signer = CommandSigner(load_public_key(path, environ), command)
    elif path is not None:
        signer = _private_key(path, environ, cache)
    else:
        signer = None
    if signer is not None and signer.public.key_hash in config.revoked_keys:
        raise ConfigError(
            config_file,
            "signing.revoked_keys",
            f"{path} ({origin}) is revoked (KEYHASH {signer.public.key_hash.hex()}): the stages refuse "
            "images it signs, so fwbuild does not sign with it",
            "sign with a trusted key that is not revoked",
        )
    if profile == "release":
        if signer is None:
            raise ConfigError(
                config_file,
                "signing.key",
                "a release build must be signed and no key is configured",
                "set signing.key, pass sign_key=KEY or export FWBUILD_SIGNING_KEY",
            )
        if signer.public.is_development_key:
            raise ConfigError(
                None,
                None,
                f"{path} ({origin}) is the example's development key, whose private half is public; "
                "a release build refuses it. Sign with your own key (sign_key=KEY or "
                "FWBUILD_SIGNING_KEY)",
            )
        if marked_as_development(path):
            raise ConfigError(
                None,
                None,
                f"{path} ({origin}) is marked {DEVELOPMENT_MARK} on its first line (fwbuild new makes "
                "such keys); a release build refuses it. Sign with your own key (sign_key=KEY or "
                "FWBUILD_SIGNING_KEY)",
            )
    return SignerChoice(signer, path, origin)


def _private_key(path: Path, environ: Mapping[str, str], cache: ReadCache | None) -> Signer:
    """The key, or with a cache and an unchanged file, its remembered facts (the key itself
    is then loaded only if something needs signing). The file is known by its content: a
    replaced key may keep its size and time."""
    import hashlib

    try:
        entry = f"key:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    except OSError:
        entry = None
    known = cache.get(entry) if cache is not None and entry else None
    if known:
        return DeferredKey(path, KeyFacts(known["kind"], bytes.fromhex(known["key_hash"])), dict(environ))
    from fwbuild.keys import load_private_key

    key = load_private_key(path, environ)
    if cache is not None and entry:
        cache.put(entry, {"kind": key.public.kind, "key_hash": key.public.key_hash.hex()})
    return key


def stage_version(stage: Stage, project_version: Version) -> Version:
    """A stage's image version: its own ``version``, else the project's."""
    return Version.parse(stage.version) if stage.version else project_version


def image_options(
    layout: Layout, config: SigningConfig, version: Version, slot: Slot | None = None
) -> ImageOptions:
    """MCUboot options exactly as the build uses them (``fwbuild sign --target`` too), for
    ``slot`` (default: the application's first)."""
    from fwbuild.mcuboot import ImageOptions, auto_security_counter

    slot = slot or layout.stages[-1].slots[0]
    if not slot.header_size:
        raise ImageError(f"{layout.target}: {slot.region} has no header, so there is no slot image to sign")
    counter = config.security_counter
    return ImageOptions(
        header_size=slot.header_size,
        version=version,
        security_counter=auto_security_counter(version) if counter == "auto" else counter,
        custom_tlvs=config.custom_tlvs,
        align=layout.write_size,
        erased_value=layout.erased_value,
        slot_size=slot.size,
        pad=config.pad,
        confirm=config.confirm,
    )


def mcuboot_slot_image(
    layout: Layout,
    config: SigningConfig,
    version: Version,
    app: bytes,
    signer: Signer | None,
    slot: Slot | None = None,
) -> bytes:
    from fwbuild.mcuboot import make_image

    return make_image(app, image_options(layout, config, version, slot), signer)


def detached_signature(signer: Signer, data: bytes) -> bytes:
    """For Mbed header formats: a signature over the SHA-256 of exactly ``data``
    (app-signed.bin): DER for ECDSA, 64 raw bytes for Ed25519, PSS for RSA."""
    import hashlib

    return signer.sign_digest(hashlib.sha256(data).digest())


def signature_kind(signer: Signer | None) -> str:
    if signer is None:
        return "none (hash only)"
    return f"{signer.public.kind}, {'deterministic' if signer.deterministic else 'randomised'}"
