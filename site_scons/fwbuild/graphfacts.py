"""What a build graph needs from the resolved project, as JSON data, kept with a record of
everything it was computed from.

Declaring the graph needs the resolved target, layout and signing choice, and resolving
them imports the core and creates its classes: about 13 ms of a 180 ms null build, the
largest part of fwbuild's own cost. As CMake regenerates its build files only when a file
it read has changed, the SCons tool keeps these facts beside the build folders
(build/.fwbuild-graph-TARGET.json) and resolves again only when the record no longer
matches: fwbuild.json, a target file or a targets folder's listing, the signing key, a
prebuilt bootloader, the linker template, an FWBUILD_* variable, a build setting, or
fwbuild's own code. The facts are computed from the Layout and from nothing else, and every
step that builds something resolves it afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwbuild import shipped
from fwbuild.fileio import write_atomic

if TYPE_CHECKING:
    from fwbuild.chain import Slot, Stage
    from fwbuild.resolve import Resolved
    from fwbuild.signing import SignerChoice

FORMAT = 4  # raise when the facts' shape changes
FRESH_SECONDS = 2.0  # an input changed this close to a build is not trusted by its record
PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_TARGETS_DIR = shipped.TARGETS.expected()


# -- the facts ----------------------------------------------------------------------------------
def compute(resolved: Resolved, choice: SignerChoice | None, profile: str) -> dict[str, Any]:
    """The facts for one target and profile. ``choice`` is None when the build signs
    nothing (no slot image, or programs without the pipeline)."""
    from fwbuild.buildinfo import config_digest
    from fwbuild.cheader import layout_header
    from fwbuild.hooks import hooks_named
    from fwbuild.linker import DEFAULT_TEMPLATE, context_signature, linker_context
    from fwbuild.signing import signature_kind
    from fwbuild.startup import STARTUP_TEMPLATE, startup_context, startup_signature

    target, project, layout = resolved.target, resolved.project, resolved.layout
    flags = target.flags(profile)
    declared = target.layout.get("post_build_hooks")  # names the file that set them
    hooks = hooks_named(layout.post_build_hooks, declared.file if declared else None)
    programs = {}
    slots = [s.region for stage in layout.stages for s in stage.slots]
    for region in (*slots, *(r.name for r in layout.regions if r.name not in slots)):
        context = linker_context(layout, region)
        programs[region] = {"context": context_signature(context), "rom_start": context["rom"]["start"]}
    signer = choice.signer if choice else None
    header = layout.has_headers or None
    signing = project.signing
    warnings = []
    if choice is not None and signer is None:
        warnings.append(
            "no signing key: app-signed.bin carries a SHA-256 hash only (integrity, not "
            "authenticity); set signing.key in fwbuild.json or pass sign_key=KEY"
        )
    facts: dict[str, Any] = {
        "target": target.name,
        "project_file": str(project.file) if project.file else None,
        "toolchain_gcc": project.toolchain_gcc,
        "version": str(project.version),
        "linker_template": str(project.linker_template) if project.linker_template else None,
        "default_template": str(shipped.TEMPLATES.file(DEFAULT_TEMPLATE.name)),
        "cflags": list(flags["cflags"]),
        "ldflags": list(flags["ldflags"]),
        "core_flags": list(target.core_flags),
        "include_dirs": [str(d) for d in target.include_dirs],
        "vector_count": target.vector_count,
        "startup": startup_signature(startup_context(target)),
        "startup_template": str(STARTUP_TEMPLATE),
        "macros": list(target.macros),
        "programmer": target.programmer,
        "emulator": target.emulator,
        "mode": layout.mode,
        "layout_signature": layout.signature(),
        "layout_json": layout.to_json(),
        "layout_header": layout_header(layout),
        "flash_start": layout.flash_start,
        "header": header is not None,
        "mcuboot_header": layout.header_format == "mcuboot",
        "application_start": layout.application.start,
        "programs": programs,
        "hooks": {
            "link": [h.name for h in hooks if h.stage == "link"],
            "image": [[h.name, h.output_suffix] for h in hooks if h.stage == "image"],
        },
        "warnings": warnings,
        "build_info": {
            "target": target.name,
            "profile": profile,
            "mode": layout.mode,
            "project": {"name": project.name, "version": str(project.version)},
            "config_sha256": config_digest(
                {
                    "layout": layout.signature(),
                    "flags": flags,
                    "macros": target.macros,
                    "signing": [signing.security_counter, signing.custom_tlvs, signing.pad, signing.confirm],
                }
            ),
            "signature": signature_kind(signer) if header else "no slot image",
            "signing_key_sha256": signer.public.key_hash.hex() if signer else None,
        },
    }
    facts["stages"] = [_stage_facts(resolved, stage, signer) for stage in layout.stages]
    facts.update(_trust_facts(project, choice.key_path if choice else project.signing.key))
    # What the build read besides the config files (their paths were chosen by the config).
    prebuilt = [stage.image for stage in layout.stages if not stage.built]
    read = (
        choice.key_path if choice else None,
        *prebuilt,
        project.linker_template,
        *facts["trusted_key_files"],
    )
    facts["read"] = [str(p) for p in read if p is not None]
    facts["targets_dirs"] = [str(d) for d in project.targets_dirs]
    return json.loads(json.dumps(facts))  # the same types whether computed or read back


def _trust_facts(project: Any, signing_key: Path | None) -> dict[str, Any]:
    """What fwbuild_keys.c is made from: the configured entries (the key the build signs
    with when none is listed) and revoked hashes as text, and the key files among them."""
    from fwbuild.trustedkeys import trusted_entries

    entries = trusted_entries(project, signing_key)
    files = [str(project.root / e) for e in entries if not e.lstrip().startswith("-----BEGIN")]
    text = json.dumps(
        {"keys": files, "inline": [e for e in entries if e.lstrip().startswith("-----BEGIN")],
         "revoked": [h.hex() for h in project.signing.revoked_keys]},
        sort_keys=True,
    )  # fmt: skip
    return {"trusted_keys": text, "trusted_key_files": files}


def _stage_facts(resolved: Resolved, stage: Stage, signer: Any) -> dict[str, Any]:
    """One program of the layout in boot order: what it is built from, where each of its
    slots' outputs go, and what decides each slot image's bytes."""
    layout = resolved.layout
    chain = layout.mode == "chain"
    last = stage is layout.stages[-1]
    folder = stage.name if chain else ("" if last else stage.name)  # Mbed: app at the top
    prebuilt = None if stage.built else stage.image
    return {
        "name": stage.name,
        "program": stage.program,
        "built": stage.built,
        "image": prebuilt,
        "folder": folder,
        "header": stage.header_size > 0,
        "slots": [
            {
                "region": slot.region,
                "index": slot.index,
                "folder": f"{stage.name}/slot{slot.index}" if chain else folder,
                "start": slot.start,
                "program_start": slot.program_start,
                "signing": _slot_facts(resolved, stage, slot, signer) if stage.header_size else None,
            }
            for slot in stage.slots
        ],
    }


def _slot_facts(resolved: Resolved, stage: Stage, slot: Slot, signer: Any) -> dict[str, Any]:
    """What decides a slot image's bytes, without the image code, plus how to cache it."""
    from fwbuild.signing import signature_kind, stage_version

    layout, project = resolved.layout, resolved.project
    version = stage_version(stage, project.version)
    described: dict[str, Any] = {
        "signature": signature_kind(signer),
        "key_hash": signer.public.key_hash.hex() if signer else None,
        "command": getattr(signer, "command", None),
    }
    if layout.header_format == "mcuboot":
        config = project.signing
        described["options"] = [
            slot.header_size,
            slot.size,
            layout.write_size,
            layout.erased_value,
            str(version),
            config.security_counter,
            [[kind, value.hex()] for kind, value in config.custom_tlvs],
            config.pad,
            config.confirm,
        ]
    else:
        described["version"] = str(version)  # the epoch joins it at read time
    return {
        "described": described,
        "signed": signer is not None,
        "deterministic": bool(signer is not None and signer.deterministic),
    }


# -- the record of what they came from ------------------------------------------------------------
def input_record(
    project_root: Path | str, settings: Mapping[str, Any], targets_dirs: Iterable[str], read: Iterable[str]
) -> dict[str, Any]:
    """Everything the facts depend on, as it is now: the settings, the FWBUILD_* variables,
    fwbuild's code, the targets folders' listings, and the digest of each file."""
    root = Path(project_root)
    dirs = [Path(d) for d in targets_dirs] + [SHIPPED_TARGETS_DIR]
    listings = {str(d): _listing(d) for d in dirs}
    files = [root / "fwbuild.json"]
    files += [Path(d) / name for d, names in listings.items() for name in names]
    files += [Path(p) for p in read]
    return {
        "format": FORMAT,
        "settings": {"project": str(root), **settings},
        "environment": _environment(),
        "code": _code_identity(),
        "listings": listings,
        "files": {str(p): _digest(p) for p in files},
    }


def _environment() -> dict[str, str]:
    """FWBUILD_* variables; a password's value is never written down, only that it is set
    (the key it opens is recorded by its digest)."""
    return {
        name: "(set)" if "PASSWORD" in name else value
        for name, value in sorted(os.environ.items())
        if name.startswith("FWBUILD_")
    }


def lookup(cache_file: Path, project_root: Path | str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The remembered facts if nothing they came from has changed, else None. An entry that
    is not exactly as remember() wrote it (a damaged or edited file) is not trusted: its
    facts carry their digest, and without a match they are computed again."""
    if settings.get("signs") and os.environ.get("FWBUILD_SIGNING_KEY_PASSWORD") is not None:
        return None  # whether the password opens the key is known only by opening it
    entry = _load(cache_file).get(_key(settings))
    if not isinstance(entry, dict) or not isinstance(entry.get("facts"), dict):
        return None
    facts = entry["facts"]
    if entry.get("digest") != _facts_digest(facts):
        return None
    try:
        now = input_record(project_root, settings, facts["targets_dirs"], facts["read"])
    except (KeyError, TypeError, ValueError):
        return None
    return facts if now == entry.get("record") else None


def _facts_digest(facts: Any) -> str:
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def remember(
    cache_file: Path,
    project_root: Path | str,
    settings: Mapping[str, Any],
    facts: Mapping[str, Any],
    started: float,
) -> tuple[bool, list[str]]:
    """Keep the facts, computed from inputs read after ``started`` (a time.time()), unless
    an input changed while they were computed or too recently to tell (file times may be
    coarse): their record would then describe contents the facts were not made from, and
    the next build computes them again. Returns whether they were kept, and the inputs whose
    time lies in the future (a skewed clock: while it does, nothing is kept)."""
    record = input_record(project_root, settings, facts["targets_dirs"], facts["read"])
    paths = [Path(p) for p in (*record["files"], *record["listings"])]
    now = time.time()
    changed = {p: _changed_at(p) for p in paths}
    future = [str(p) for p, at in changed.items() if at > now + 1]
    if future or any(at >= started - FRESH_SECONDS for at in changed.values()):
        return False, future
    entries = _load(cache_file)
    entries[_key(settings)] = {"record": record, "facts": facts, "digest": _facts_digest(facts)}
    try:
        write_atomic(cache_file, json.dumps(entries, sort_keys=True) + "\n")
    except OSError:
        return False, []  # a folder or an unwritable file in its place: resolve each time
    return True, []


def _changed_at(path: Path) -> float:
    """The last change to a path or to the link that names it: the later of the
    modification and status-change times, which copies that keep a file's modification
    time (cp -p, rsync -t, tar) and re-pointed links still move."""
    at = 0.0
    for follow in (False, True):
        try:
            st = os.stat(path, follow_symlinks=follow)
        except OSError:
            continue  # a missing input is in the record as missing
        at = max(at, st.st_mtime, st.st_ctime)
    return at


def _key(settings: Mapping[str, Any]) -> str:
    """One entry per profile (and whether the build signs): other settings are in the
    record, and a change of them replaces the entry rather than adding one."""
    return f"{settings['profile']}{' signed' if settings.get('signs') else ''}"


def _load(cache_file: Path) -> dict[str, Any]:
    try:
        entries = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}  # missing or damaged: resolve afresh
    return entries if isinstance(entries, dict) else {}


def _listing(folder: Path) -> list[str] | None:
    """The names TargetSet's glob("*.json") finds (os.listdir: a third of pathlib's cost)."""
    try:
        return sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    except OSError:
        return None


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _code_identity() -> str:
    """fwbuild's own modules (the core and its SCons face, which reads the facts) by size and
    modification time: a changed or upgraded fwbuild computes the facts again."""
    stats = []
    for folder in (PACKAGE_DIR, PACKAGE_DIR / "scons"):
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    stats.append(f"{folder.name}/{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(stats)).encode()).hexdigest()
