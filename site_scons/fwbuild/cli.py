"""The ``fwbuild`` command line: a thin layer over the core."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fwbuild import __version__
from fwbuild.errors import FwbuildError
from fwbuild.layout import Layout
from fwbuild.project import load_project
from fwbuild.values import ValueParseError, hex32, parse_int, size_text

if TYPE_CHECKING:
    from fwbuild.readcache import ReadCache

U32_MAX = 0xFFFFFFFF
# A merged .bin holds every byte from its lowest to its highest address: beyond this span
# the parts are surely in different memories (internal flash and QSPI), and a .hex, which
# holds only the used ranges, is what the user wants.
MAX_BIN_SPAN = 256 * 1024 * 1024


def cmd_targets(args: argparse.Namespace) -> int:
    cache = _read_cache(args.project)
    project = load_project(args.project, cache)
    targets = project.target_set(cache)
    rows = [("TARGET", "CORE", "FLASH", "SECTORS", "BOOTLOADER")]
    # A broken target file is reported, and the good targets are still listed.
    problems = [str(exc) for exc in targets.broken()]
    for name in targets.public_names(skip_broken=True):
        try:
            t = targets.resolve(name)
            t = targets.resolve(name, project.overrides_for(t, targets))  # the mode this project builds
        except FwbuildError as exc:
            problems.append(str(exc))
            continue
        sizes = dict.fromkeys(size_text(size) for _, size in t.sectors)
        sectors = " / ".join(sizes)
        keys = set(t.layout)
        mode = (
            "managed"
            if keys & {"bootloader_img", "header_offset"}
            else "unmanaged"
            if keys & {"mbed_app_start", "mbed_app_size"}
            else "none"
        )
        rows.append((name, t.core_label, f"{size_text(t.flash_size)}@{hex32(t.flash_start)}", sectors, mode))
    _print_table(rows)
    for problem in dict.fromkeys(problems):
        print(format_error(problem), file=sys.stderr)
    return 2 if problems else 0


def cmd_layout(args: argparse.Namespace) -> int:
    from fwbuild.layout import vector_forward_note
    from fwbuild.mbed_header import placement_note
    from fwbuild.resolve import resolve

    resolved = resolve(args.project, args.target, _read_cache(args.project))
    layout = resolved.layout
    if args.json:
        sys.stdout.write(layout.to_json())
    else:
        print_layout(layout)
    notes = [placement_note(layout, "app_offset" in resolved.target.layout), vector_forward_note(layout)]
    for note in filter(None, notes):
        sys.stdout.flush()
        print(textwrap.fill("note: " + note, width=100, subsequent_indent="  "), file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from fwbuild.image import check_overlaps, hex_chunks, merge, read_parts

    out = _output_path(args.out, "--out")
    parts = []
    for spec in args.parts:
        path, sep, address = spec.rpartition("@")
        if not sep:
            path, address = spec, None
        suffix = Path(path).suffix.lower()
        if suffix not in (".bin", ".hex"):
            raise FwbuildError(f"{spec}: a part is a .bin (with @ADDR) or a .hex file")
        if suffix == ".bin" and address is None:
            raise FwbuildError(f"{spec}: a .bin part needs its absolute address: {spec}@0x08000000")
        if suffix == ".hex" and address is not None:
            raise FwbuildError(f"{spec}: a .hex part carries its own addresses; drop '@{address}'")
        base = _address_of(spec, address) if address is not None else 0
        _check_input(Path(path))
        read = read_parts(Path(path), base)
        if not any(part.data for part in read):
            raise FwbuildError(f"{path}: holds no bytes; give the image to place there")
        for part in read:
            if part.end > U32_MAX + 1:
                raise FwbuildError(
                    f"{spec}: {len(part.data)} bytes from {hex32(part.start)} run past the 32-bit address "
                    f"space (last address {hex32(U32_MAX)}); check the address"
                )
        parts += [part for part in read if part.data]
    check_overlaps(parts)
    if out.suffix.lower() == ".hex":
        _write_outputs([(out, hex_chunks(parts))])
    else:
        start, end = min(p.start for p in parts), max(p.end for p in parts)
        if end - start > MAX_BIN_SPAN:
            raise FwbuildError(
                f"{out}: the parts span {hex32(start)}..{hex32(end)}, {end - start} bytes of .bin with the "
                f"gaps filled; write a .hex (only the used ranges) or merge parts of one memory"
            )
        _write_outputs([(out, merge(parts, start, end, args.fill))])
    return 0


def _address_of(spec: str, text: str) -> int:
    try:
        value = parse_int(text)
    except ValueParseError:
        raise FwbuildError(f"{spec}: '{text}' is not an address; write e.g. @0x8000") from None
    if not 0 <= value <= U32_MAX:
        raise FwbuildError(f"{spec}: {text} is outside the 32-bit address space 0x0..0xFFFFFFFF")
    return value


def _check_input(path: Path, what: str = "file") -> None:
    """An input file must exist and be a file: say so naming it (not a traceback)."""
    if path.is_dir():
        raise FwbuildError(f"{path}: is a folder; give the {what} itself")
    if not path.exists():
        raise FwbuildError(f"{path}: file not found")
    if not path.is_file():
        raise FwbuildError(f"{path}: is not a regular file (a device, pipe or socket); give the {what}")


def _output_path(text: str | Path, option: str, example: str = "image.bin") -> Path:
    """The one check of every output path, before any work: not a folder, not a device,
    and a folder to put it in (an existing one, or one that can be created)."""
    path = Path(text)
    if str(text).endswith(("/", os.sep)) or path.is_dir():
        raise FwbuildError(f"{option} {text}: is a folder; give a file name, e.g. {path / example}")
    if path.exists() and not path.is_file():
        raise FwbuildError(f"{option} {text}: exists and is not a regular file; give a file name")
    ancestor = path.parent
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise FwbuildError(
            f"{option} {text}: {ancestor} is not a folder, so nothing can be written under it; "
            "give another path"
        )
    return path


def _write_outputs(outputs: Sequence[tuple[Path, object]]) -> None:
    """Write each output atomically (fileio.write_atomic), creating missing folders. If one
    cannot be written, the others written here and the folders created are removed: no
    half set of outputs is left behind."""
    from fwbuild.fileio import remove_quietly, write_atomic

    created: list[Path] = []
    written: list[Path] = []
    try:
        for path, data in outputs:
            missing = []
            folder = path.parent
            while not folder.exists() and folder != folder.parent:
                missing.append(folder)
                folder = folder.parent
            folder = path.parent
            folder.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            write_atomic(path, data)  # type: ignore[arg-type]
            written.append(path)
    except OSError as exc:
        remove_quietly(*written)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        where = exc.filename or path
        raise FwbuildError(
            f"{path}: cannot write it ({exc.strerror or exc}{'' if where == path else f': {where}'}); "
            "nothing was written"
        ) from None


def _read_image(path: Path) -> tuple[int | None, bytes]:
    """(base address of a .hex, else None; its bytes from the lowest address)."""
    from fwbuild.image import merge, read_parts

    _check_input(path, "image")
    if path.suffix.lower() != ".hex":
        try:
            return None, path.read_bytes()
        except OSError as exc:
            raise FwbuildError(f"{path}: cannot read it ({exc.strerror})") from None
    parts = [part for part in read_parts(path, 0) if part.data]
    if not parts:
        return None, b""
    start, end = min(p.start for p in parts), max(p.end for p in parts)
    if end - start > MAX_BIN_SPAN:
        raise FwbuildError(
            f"{path}: its records span {hex32(start)}..{hex32(end)}; an image is one contiguous slot"
        )
    return start, bytes(merge(parts, start, end, 0xFF))


_CACHES: dict[Path, ReadCache] = {}
USER_CACHE_ENTRIES = 256


def _read_cache(project: Path | str) -> ReadCache:
    """Which config files already passed their JSON Schema (importing jsonschema alone costs
    about 80 ms of every command) and signing keys' public facts: the cache the build keeps
    (build/.fwbuild-cache.json) once the project has been built, else the user's
    ($XDG_CACHE_HOME/fwbuild, ~/.cache/fwbuild). Entries are keyed by the content checked
    (config and schema bytes, the key file's digest), so a changed file misses and is
    checked in full; the file is a hint that may be missing, damaged or unwritable."""
    from fwbuild.readcache import ReadCache

    root = Path(project).resolve()
    cache = _CACHES.get(root)
    if cache is None:
        path = root / "build" / ".fwbuild-cache.json"
        if not path.is_file():
            home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            path = Path(home) / "fwbuild" / "read-cache.json"
            cache = _CACHES[root] = ReadCache(path, limit=USER_CACHE_ENTRIES)  # shared by every project
        else:
            cache = _CACHES[root] = ReadCache(path)
    return cache


def _save_caches() -> None:
    for cache in _CACHES.values():
        if cache.changed and cache.path is not None:
            with contextlib.suppress(OSError):
                cache.path.parent.mkdir(parents=True, exist_ok=True)
        cache.save()
    _CACHES.clear()


def _resolved_or_none(args: argparse.Namespace):
    if not args.target:
        return None
    from fwbuild.resolve import resolve

    return resolve(args.project, args.target, _read_cache(args.project))


def cmd_sign(args: argparse.Namespace) -> int:
    from fwbuild.image import Part, hex_chunks
    from fwbuild.mcuboot import ImageOptions, auto_security_counter, make_image
    from fwbuild.project import SigningConfig
    from fwbuild.signing import choose_signer, detached_signature, image_options, stage_version

    out = _output_path(args.output, "OUT")
    resolved = _resolved_or_none(args)
    chosen = _chosen_slot(args, resolved, "sign")
    project = resolved.project if resolved else load_project(args.project, _read_cache(args.project))
    config = project.signing if resolved else SigningConfig()
    version = project.version if args.version is None else _version(args.version)
    if args.version is None and chosen is not None:
        version = stage_version(chosen[0], project.version)
    signer = choose_signer(
        project, "debug", args.key, args.sign_command, cache=_read_cache(args.project)
    ).signer
    _, payload = _read_image(Path(args.input))
    if not payload:
        raise FwbuildError(f"{args.input}: holds no bytes; there is nothing to sign (give the built app.bin)")
    base = None
    signature = None
    mbed_format = False
    if resolved is not None:
        layout = resolved.layout
        slot = chosen[1] if chosen else layout.stages[-1].slots[0]
        if not slot.header_size:
            raise FwbuildError(f"{layout.target}: the layout has no header region; there is nothing to sign")
        base = slot.start
        if layout.header_format == "mcuboot":
            options = image_options(layout, config, version, slot)
            data = make_image(payload, _cli_options(options, args), signer)
        else:
            from fwbuild.epoch import build_epoch
            from fwbuild.slot import mbed_slot_image

            mbed_format = True
            if out.suffix.lower() == ".sig":
                raise FwbuildError(
                    f"OUT {out}: an Mbed header image gets its detached signature beside it as "
                    f"{out.stem}.sig; name the image .bin or .hex"
                )
            data = mbed_slot_image(layout, payload, build_epoch(project.root, os.environ, "debug").seconds)
            signature = detached_signature(signer, data) if signer else None
    else:
        if args.header_size is None:
            raise FwbuildError("give --target NAME --project DIR, or --header-size N (and --slot-size N)")
        if (args.pad or args.confirm) and args.slot_size and args.slot_size > MAX_BIN_SPAN:
            raise FwbuildError(
                f"--slot-size {args.slot_size:#x}: a padded image is written in full, and no slot is "
                f"larger than {MAX_BIN_SPAN:#x} bytes; give the slot's size (header start to slot end)"
            )
        counter = args.security_counter or "auto"
        options = ImageOptions(
            header_size=args.header_size,
            version=version,
            security_counter=None
            if counter == "none"
            else auto_security_counter(version)
            if counter == "auto"
            else counter,
            align=args.align or 4,
            erased_value=args.erased_value,
            slot_size=args.slot_size,
        )
        data = make_image(payload, _cli_options(options, args), signer)
    outputs: list[tuple[Path, object]] = [
        (out, hex_chunks([Part("slot", base or 0, data)]) if out.suffix.lower() == ".hex" else data)
    ]
    if signature is not None:
        outputs.append((out.with_suffix(".sig"), signature))
    _write_outputs(outputs)
    if mbed_format and signature is None:
        from fwbuild.fileio import remove_quietly

        remove_quietly(out.with_suffix(".sig"))  # an older image's signature would not match this one
    if signer is None:
        print("warning: no key: the image carries a SHA-256 hash only", file=sys.stderr)
    return 0


def _chosen_slot(args: argparse.Namespace, resolved, verb: str):
    """The (stage, slot) that --stage/--slot name in the layout; None without them outside a
    boot chain (the Mbed layouts: their application slot, as before). ``verb``: "sign" or
    "check", for the messages."""
    stage_name, index = args.stage, args.slot
    if resolved is None:
        if stage_name is not None or index is not None:
            given = f"--stage {stage_name}" if stage_name is not None else f"--slot {index}"
            raise FwbuildError(
                f"{given}: a stage's slot is one of a layout's; give --target NAME (and --project DIR) "
                "to read it"
            )
        return None
    layout = resolved.layout
    chain = layout.mode == "chain"
    signed = [stage for stage in layout.stages if stage.header_size]
    if stage_name is None:
        if index is not None:
            there = (
                f"stages with a header: {_stage_choices(signed)}"
                if signed
                else "the layout has no stage with a header"
            )
            raise FwbuildError(f"--slot {index}: say whose slot with --stage STAGE; {there}")
        if not chain:
            return None
        raise FwbuildError(
            f"{layout.target} is a boot chain ({_layout_origin(resolved)}): say which slot image to "
            f"{verb} with --stage STAGE --slot N, e.g. --stage {signed[-1].name} --slot 0; stages "
            f"with a header: {_stage_choices(signed)}"
        )
    stage = next((st for st in layout.stages if st.name == stage_name), None)
    if stage is None:
        names = ", ".join(st.name for st in layout.stages)
        raise FwbuildError(
            f"--stage {stage_name or repr(stage_name)}: {layout.target}'s layout has no such stage; its "
            f"stages are {names}"
        )
    if not stage.header_size:
        why = (
            "the first stage of a boot chain has no header and is never updated"
            if chain
            else f"{layout.target}'s layout (mode {layout.mode}) gives it no header region"
        )
        there = f"stages with a header: {_stage_choices(signed)}" if signed else "no stage has one"
        raise FwbuildError(f"--stage {stage_name}: {why}, so there is no slot image to {verb}; {there}")
    if index is None:
        if len(stage.slots) > 1:
            raise FwbuildError(
                f"--stage {stage_name}: it has {len(stage.slots)} slots; say which with --slot N "
                f"(0..{len(stage.slots) - 1})"
            )
        index = 0
    if index >= len(stage.slots):
        count = len(stage.slots)
        if chain:
            raise FwbuildError(
                f"--slot {index}: stage {stage_name} of {layout.target} has {count} slot"
                f"{'s' if count > 1 else ''}, numbered 0..{count - 1}"
            )
        raise FwbuildError(
            f"--slot {index}: {layout.target}'s layout (mode {layout.mode}) is not a boot chain: its "
            f"{stage_name} has one slot, --slot 0"
        )
    return stage, stage.slots[index]


def _stage_choices(stages) -> str:
    return ", ".join(
        f"{st.name} (--slot 0)" if len(st.slots) == 1 else f"{st.name} (--slot 0..{len(st.slots) - 1})"
        for st in stages
    )


def _layout_origin(resolved) -> str:
    source = resolved.target.layout.get("boot_chain")
    return f"boot_chain in {source.file}" if source is not None else "boot_chain"


def _cli_options(options, args: argparse.Namespace):
    from dataclasses import replace

    changes = {}
    if args.custom_tlv:
        tlvs = []
        for kind, value in args.custom_tlv:
            try:
                number = parse_int(kind)
            except ValueParseError:
                raise FwbuildError(
                    f"--custom-tlv {kind} {value}: '{kind}' is not a TLV type; use a number such as 0xa0"
                ) from None
            try:
                data = bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                raise FwbuildError(
                    f"--custom-tlv {kind} {value}: '{value}' is not hex bytes; write e.g. 01ab or 0x01ab"
                ) from None
            tlvs.append((number, data))
        changes["custom_tlvs"] = options.custom_tlvs + tuple(tlvs)
    if args.pad or args.confirm:
        changes.update(pad=True, confirm=args.confirm or options.confirm)
    if args.align and args.target:
        changes["align"] = args.align
    if args.security_counter is not None:  # given: it wins over fwbuild.json's
        from fwbuild.mcuboot import auto_security_counter

        counter = args.security_counter
        changes["security_counter"] = (
            None
            if counter == "none"
            else auto_security_counter(options.version)
            if counter == "auto"
            else counter
        )
    return replace(options, **changes)


def _version(text: str):
    from fwbuild.project import Version

    try:
        return Version.parse(text)
    except ValueError as exc:
        raise FwbuildError(f"--version {exc}; write e.g. 1.2.3 or 1.2.3+4") from None


def cmd_verify(args: argparse.Namespace) -> int:
    from fwbuild.keys import load_public_key
    from fwbuild.mcuboot import IMAGE_MAGIC, VerifyError, verify_image
    from fwbuild.signing import key_path

    resolved = _resolved_or_none(args)
    chosen = _chosen_slot(args, resolved, "check")
    project = resolved.project if resolved else load_project(args.project, _read_cache(args.project))
    path, _ = key_path(project.signing, args.key, os.environ)
    key = load_public_key(path) if path else None
    image_path = Path(args.image)
    base, data = _read_image(image_path)
    try:
        if not data:
            raise VerifyError("sizes", "the file holds no bytes")
        if len(data) >= 4 and int.from_bytes(data[:4], "little") == IMAGE_MAGIC:
            image = verify_image(data, key)
            if resolved is not None and resolved.layout.mode == "chain":
                _check_against_slot(image, data, base, resolved.layout, chosen[1])
            else:
                _check_against_layout(image, data, resolved)
            what = f"MCUboot image {image.version}, {len(data)} bytes"
        elif resolved is not None and resolved.layout.header_format not in (None, "mcuboot"):
            what = _verify_mbed(image_path, data, resolved.layout, key)
        else:
            raise VerifyError(
                "magic",
                f"{int.from_bytes(data[:4], 'little'):#010x} is not MCUboot's magic; for an Mbed header "
                "image give --target NAME --project DIR",
            )
    except VerifyError as exc:
        print(f"invalid: {image_path}: {exc}")
        return 1
    signed = f"signature ok ({key.kind}, KEYHASH {key.key_hash.hex()[:16]}...)" if key else "no key given"
    print(f"valid: {image_path}: {what}; {signed}")
    return 0


def _check_against_layout(image, data: bytes, resolved) -> None:
    from fwbuild.mcuboot import VerifyError

    if resolved is None:
        return
    layout = resolved.layout
    header, app = layout.region("header"), layout.application
    if header is None:
        raise VerifyError("sizes", f"{layout.target}'s layout has no header region")
    if image.header_size != app.start - header.start:
        raise VerifyError(
            "sizes",
            f"header size {image.header_size}, the layout's is {app.start - header.start} "
            "(app_offset - header_offset)",
        )
    if len(data) > app.end - header.start:
        raise VerifyError("sizes", f"{len(data)} bytes do not fit the {app.end - header.start}-byte slot")


def _check_against_slot(image, data: bytes, base: int | None, layout: Layout, slot) -> None:
    """A boot-chain slot image: its header size and its room are the slot's, and the program
    after the header was linked for this slot (a stage runs in place, and the slots of a
    stage have the same size, so only the reset vector tells slot 0's image from slot 1's)."""
    from fwbuild.mcuboot import VerifyError

    where = f"{slot.region} ({hex32(slot.start)}..{hex32(slot.end)})"
    if image.header_size != slot.header_size:
        raise VerifyError(
            "sizes",
            f"header size {image.header_size:#x}, {where} has {slot.header_size:#x} "
            f"(boot_chain header_size of stage {slot.stage})",
        )
    if len(data) > slot.size:
        raise VerifyError("sizes", f"{len(data)} bytes do not fit {where}, {slot.size} bytes")
    if base is not None and base != slot.start:
        raise VerifyError("slot", f"the .hex starts at {hex32(base)}, {where} at {hex32(slot.start)}")
    vectors = data[slot.header_size : slot.header_size + 8]
    if len(vectors) == 8:
        reset = int.from_bytes(vectors[4:], "little") & ~1
        if not slot.program_start <= reset < slot.end:
            raise VerifyError(
                "slot",
                f"its reset vector {hex32(reset)} lies outside {where}: the program was linked for "
                "another slot, and a stage runs in place from its own",
            )


def _verify_mbed(image_path: Path, data: bytes, layout: Layout, key) -> str:
    import hashlib

    from fwbuild.mbed_header import header_mismatch, header_size
    from fwbuild.mcuboot import VerifyError

    header, app = layout.region("header"), layout.application
    offset = app.start - header.start
    if len(data) < offset:
        raise VerifyError("sizes", f"{len(data)} bytes end before the application at offset {offset:#x}")
    size = header_size(layout.header_format)
    problem = header_mismatch(layout.header_format, data[:size], {"application": data[offset:]})
    if problem:
        raise VerifyError(*problem)
    if key is not None:
        sig_path = image_path.with_suffix(".sig")
        if not sig_path.is_file():
            raise VerifyError("signature", f"{sig_path.name} not found beside the image")
        if not key.verify_digest(hashlib.sha256(data).digest(), sig_path.read_bytes()):
            raise VerifyError("signature", f"{sig_path.name} does not verify with the given {key.kind} key")
    return f"{layout.header_format if isinstance(layout.header_format, str) else 'Mbed'} header image"


def cmd_inspect(args: argparse.Namespace) -> int:
    from fwbuild.mcuboot import VerifyError, describe, parse_image

    path = Path(args.image)
    _, data = _read_image(path)
    if not data:
        raise FwbuildError(f"{path}: holds no bytes; inspect reads an MCUboot image such as app-signed.bin")
    try:
        image = parse_image(data)
    except VerifyError as exc:
        raise FwbuildError(
            f"{path}: not an MCUboot image ({exc}); inspect reads MCUboot slot images such as "
            "app-signed.bin, and fwbuild verify says which check an image fails"
        ) from None
    print(f"{path}: MCUboot image, {len(data)} bytes")
    for line in describe(image):
        print("  " + line)
    return 0


def cmd_verify_build(args: argparse.Namespace) -> int:
    from fwbuild.buildinfo import load_build_info, verify_build

    path = Path(args.info)
    _check_input(path, "build-info.json")
    count = len(load_build_info(path)["outputs"])
    problems = verify_build(path, args.prefix)
    for problem in problems:
        print(f"mismatch: {problem}")
    if problems:
        return 1
    print(f"ok: {count} outputs and the toolchain match {path}")
    return 0


def cmd_size(args: argparse.Namespace) -> int:
    from fwbuild.memmap import map_sizes, top_contributors

    path = Path(args.map)
    _check_input(path, "linker .map file")
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise FwbuildError(f"{path}: cannot read it ({exc.strerror}); give a linker .map file") from None
    sizes = map_sizes(text)
    if not sizes:
        raise FwbuildError(f"{path}: no input sections found; is it a GNU ld map file (-Wl,-Map=...)?")
    rows = [("BYTES", "TEXT", "RODATA", "DATA", "BSS", "OBJECT")]
    for name, total, kinds in top_contributors(sizes, args.top):
        rows.append((str(total), *(str(kinds[k]) for k in ("text", "rodata", "data", "bss")), name))
    _print_table(rows)
    return 0


def cmd_import_mbed(args: argparse.Namespace) -> int:
    import json

    from fwbuild.mbedimport import translate

    source = Path(args.mbed_app)
    _check_input(source, "mbed_app.json")
    out = _output_path(args.out or source.parent / "fwbuild.json", "--out", "fwbuild.json")
    if out.exists() and out.resolve() == source.resolve():
        raise FwbuildError(f"--out {out}: is the mbed_app.json being read; write the new file elsewhere")
    if out.exists() and not args.force:
        raise FwbuildError(f"{out} exists; pass --force to replace it or --out to write elsewhere")
    result = translate(source, out)  # checked as the build reads it: raises before anything is written
    _write_outputs([(out, json.dumps(result.config, indent=2) + "\n")])
    print(f"wrote {out}")
    for line in result.translated:
        print(f"  translated: {line}")
    for line in result.skipped:
        print(f"  not translated: {line}")
    for line in result.notes:
        print(f"  note: {line}")
    return 0


def cmd_check_target(args: argparse.Namespace) -> int:
    from fwbuild.checktarget import check_target, describe

    dirs = tuple(Path(d).resolve() for d in args.targets_dir)
    project = None
    if not dirs:
        project = load_project(args.project, _read_cache(args.project))
        dirs = project.targets_dirs
    report = check_target(args.name, dirs, project)
    if report.problems:
        for problem in report.problems:
            print(format_error(problem), file=sys.stderr)
        print(f"{len(report.problems)} problem(s) in {args.name}", file=sys.stderr)
        return 2
    for line in describe(report):
        print(line)
    print(f"next: scons target={args.name}")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from fwbuild.reference import config_reference

    sys.stdout.write(config_reference())
    return 0


def cmd_getpub(args: argparse.Namespace) -> int:
    from fwbuild.keys import load_public_key, public_key_c

    out = _output_path(args.out, "--out", "public-key.pem") if args.out else None
    key_file = Path(args.key)
    _check_input(key_file, "key file")
    key = load_public_key(key_file)
    if args.format == "pem":
        text = key.pem().encode()
    elif args.format == "c":
        text = public_key_c(key, args.name).encode()
    else:
        text = key.der
    if out is not None:
        _write_outputs([(out, text)])
    else:
        sys.stdout.buffer.write(text)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from fwbuild.newrepo import new_repo

    repo = new_repo(args.folder, args.target, args.layout, force=args.force)
    kinds = {
        "managed": "bootloader, signed application, combined image",
        "unmanaged": "application in its own region; post-build.json for your image assembly",
        "plain": "application at the flash start",
    }
    print(f"created {repo.folder} for {repo.target} ({repo.layout}: {kinds[repo.layout]})")
    for name in repo.files:
        print(f"  {name}")
    print(f"next:\n  cd {repo.folder}\n  scons target={repo.target}")
    if repo.layout == "managed":
        print("  (keys/dev-signing-key.pem is a development key: release builds refuse it)")
    return 0


def print_layout(layout: Layout) -> None:
    print(
        f"{layout.target} ({layout.mode}): flash {hex32(layout.flash_start)}.."
        f"{hex32(layout.flash_end)} ({size_text(layout.flash_size)})"
    )
    if layout.mode == "chain":
        _print_table(_chain_rows(layout))
        return
    rows = [("REGION", "START", "END", "SIZE")]
    for r in layout.regions:
        rows.append((r.name, hex32(r.start), hex32(r.end), size_text(r.size)))
    for b in layout.ram:
        rows.append((f"ram {b.name}", hex32(b.start), hex32(b.end), size_text(b.size)))
    _print_table(rows)


def _chain_rows(layout: Layout) -> list[tuple[str, ...]]:
    """A boot chain: every slot with its stage, slot number, header size and where its
    program starts (linked there), then the state region; flash no region holds shows as
    ``(unused)``; "-" where a column does not apply."""
    rows: list[tuple[str, ...]] = [("REGION", "STAGE", "SLOT", "START", "END", "SIZE", "HEADER", "PROGRAM")]
    at = layout.flash_start
    for region in sorted(layout.regions, key=lambda r: r.start):
        if region.start > at:
            rows.append(
                ("(unused)", "-", "-", hex32(at), hex32(region.start), size_text(region.start - at), "-", "-")
            )
        slot = layout.slot(region.name)
        if slot is None:
            rows.append(
                (
                    region.name,
                    "-",
                    "-",
                    hex32(region.start),
                    hex32(region.end),
                    size_text(region.size),
                    "-",
                    "-",
                )
            )
        else:
            rows.append(
                (
                    region.name,
                    slot.stage,
                    str(slot.index),
                    hex32(slot.start),
                    hex32(slot.end),
                    size_text(slot.size),
                    f"{slot.header_size:#x}" if slot.header_size else "-",
                    hex32(slot.program_start),
                )
            )
        at = max(at, region.end)
    if at < layout.flash_end:
        rows.append(
            (
                "(unused)",
                "-",
                "-",
                hex32(at),
                hex32(layout.flash_end),
                size_text(layout.flash_end - at),
                "-",
                "-",
            )
        )
    for b in layout.ram:
        rows.append((f"ram {b.name}", "-", "-", hex32(b.start), hex32(b.end), size_text(b.size), "-", "-"))
    return rows


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


class _Parser(argparse.ArgumentParser):
    """argparse with fwbuild's error shape: one ``error:`` paragraph, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, format_error(f"{self.prog}: {message}; see '{self.prog} --help'") + "\n")


def _number(what: str, low: int, high: int):
    """An argparse ``type=``: a number (hex, decimal, simple arithmetic) in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = parse_int(text)
        except ValueParseError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a number; write e.g. 0x8000 or 32768"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not {what} ({low:#x}..{high:#x})")
        return value

    return parse


_address = _number("an address", 0, U32_MAX)
_byte = _number("a byte", 0, 0xFF)
_u32 = _number("a 32-bit value", 0, U32_MAX)
_positive = _number("a positive 32-bit size", 1, U32_MAX)
_header_size = _number("an MCUboot header size", 32, 0xFFFF)


def _security_counter(text: str) -> int | str:
    if text in ("auto", "none"):
        return text
    try:
        return _u32(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; or give auto or none") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give 1 or more")
    return value


def _index(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a slot number; write e.g. 0 or 1") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: slots are numbered from 0")
    return value


COMMANDS = (
    "targets", "new", "layout", "merge", "sign", "verify", "inspect", "verify-build", "size", "import-mbed",
    "check-target", "config-reference", "getpub",
)  # fmt: skip


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, a command name, that command's parser alone (the
    others cost a few milliseconds of every run to build)."""
    parser = _Parser(prog="fwbuild", description="Bootloader-ready Cortex-M firmware.")
    parser.add_argument("--version", action="version", version=f"fwbuild {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    if only in (None, "targets"):
        p = sub.add_parser("targets", help="list the targets")
        p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")
        p.set_defaults(func=cmd_targets)

    if only in (None, "new"):
        p = sub.add_parser("new", help="make a firmware repo that builds at once")
        p.add_argument("folder", type=Path, help="the new repo's folder (new or empty)")
        p.add_argument("--target", required=True, help="the target to build for (see: fwbuild targets)")
        p.add_argument(
            "--layout",
            choices=("managed", "unmanaged", "plain"),
            default="managed",
            help="managed: bootloader + signed application (default); unmanaged: mbed_app_start/size; "
            "plain: the application alone at the flash start",
        )
        p.add_argument("--force", action="store_true", help="write into a folder that is not empty")
        p.set_defaults(func=cmd_new)

    if only in (None, "layout"):
        p = sub.add_parser("layout", help="show a target's resolved regions")
        p.add_argument("target")
        p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")
        p.add_argument("--json", action="store_true", help="print layout.json")
        p.set_defaults(func=cmd_layout)

    if only in (None, "merge"):
        p = sub.add_parser("merge", help="merge images at absolute addresses into one .bin or .hex")
        p.add_argument("--out", required=True, help="output file (.bin: gaps filled; .hex: used ranges)")
        p.add_argument("--fill", type=_byte, default=0xFF, help="gap value (default 0xFF)")
        p.add_argument("parts", nargs="+", metavar="PART@ADDR", help="file.bin@0x8000, or file.hex")
        p.set_defaults(func=cmd_merge)

    if only in (None, "sign"):
        p = sub.add_parser("sign", help="sign an application into a slot image, as the build does")
        p.add_argument("input", help="the application (.bin, or .hex)")
        p.add_argument("output", help="the slot image (.bin, or .hex at the header address)")
        _target_args(p)
        p.add_argument("--key", help="signing key (default: FWBUILD_SIGNING_KEY, then signing.key)")
        p.add_argument("--sign-command", help="external signer: reads {digest}, writes {signature}")
        p.add_argument("--version", help="X.Y.Z[+B] (default: the project's version)")
        p.add_argument("--header-size", type=_header_size, help="without --target: the header size")
        p.add_argument("--slot-size", type=_positive, help="without --target: the slot size")
        p.add_argument("--align", type=_positive, help="flash write size (default: the target's, or 4)")
        p.add_argument("--erased-value", type=_byte, default=0xFF, help="default 0xFF")
        p.add_argument(
            "--security-counter",
            type=_security_counter,
            default=None,
            help="auto, a number, or none (default: fwbuild.json's with --target, else auto)",
        )
        p.add_argument("--custom-tlv", nargs=2, action="append", metavar=("TYPE", "HEX"), help="extra TLV")
        p.add_argument("--pad", action="store_true", help="pad to the slot size and write the trailer")
        p.add_argument("--confirm", action="store_true", help="like --pad, and set image_ok")
        _slot_args(p, "sign")
        p.set_defaults(func=cmd_sign)

    if only in (None, "verify"):
        p = sub.add_parser("verify", help="check an image: exit 0 valid, 1 invalid")
        p.add_argument("image")
        p.add_argument("--key", help="public or private key (default: FWBUILD_SIGNING_KEY, then signing.key)")
        _target_args(p)
        _slot_args(p, "check against")
        p.set_defaults(func=cmd_verify)

    if only in (None, "inspect"):
        p = sub.add_parser("inspect", help="print an MCUboot image's header, TLVs and trailer")
        p.add_argument("image")
        p.set_defaults(func=cmd_inspect)

    if only in (None, "verify-build"):
        p = sub.add_parser("verify-build", help="re-hash a build's outputs against its build-info.json")
        p.add_argument("info", help="build/<target>/build-info.json")
        p.add_argument("--prefix", default="arm-none-eabi-", help="toolchain prefix (default arm-none-eabi-)")
        p.set_defaults(func=cmd_verify_build)

    if only in (None, "size"):
        p = sub.add_parser("size", help="the biggest contributors in a linker .map file")
        p.add_argument("map", help="e.g. build/K64F/app.map")
        p.add_argument("--top", type=_count, default=10, help="how many objects (default 10)")
        p.set_defaults(func=cmd_size)

    if only in (None, "import-mbed"):
        p = sub.add_parser("import-mbed", help="write a fwbuild.json from an Mbed OS mbed_app.json")
        p.add_argument("mbed_app", help="path to mbed_app.json")
        p.add_argument("--out", help="where to write (default: fwbuild.json beside mbed_app.json)")
        p.add_argument("--force", action="store_true", help="replace an existing file")
        p.set_defaults(func=cmd_import_mbed)

    if only in (None, "check-target"):
        p = sub.add_parser("check-target", help="check a new target file and report every problem")
        p.add_argument("name", help="the target's name (its file name without .json)")
        p.add_argument(
            "--targets-dir", action="append", default=[], help="folder with target files (repeatable)"
        )
        p.add_argument("--project", default=".", type=Path, help="firmware repo whose targets_dirs to use")
        p.set_defaults(func=cmd_check_target)

    if only in (None, "config-reference"):
        p = sub.add_parser("config-reference", help="print the configuration reference (Markdown)")
        p.set_defaults(func=cmd_config_reference)

    if only in (None, "getpub"):
        p = sub.add_parser("getpub", help="export a key's public half")
        p.add_argument("key")
        p.add_argument(
            "--format", choices=("pem", "c", "raw"), default="pem", help="raw: the DER MCUboot embeds"
        )
        p.add_argument(
            "--name",
            type=_c_identifier,
            default="fw_public_key",
            help="with --format c: the array's name (fwbuild_keys.c names its keys fwbuild_trusted_key_N)",
        )
        p.add_argument("--out", help="write here instead of stdout")
        p.set_defaults(func=cmd_getpub)
    return parser


def _c_identifier(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a C identifier")
    return text


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="read header size, slot, write size and signing options from the layout")
    p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")


def _slot_args(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("--stage", help=f"with --target, a boot chain: the stage whose slot image to {verb}")
    p.add_argument(
        "--slot", type=_index, help="with --stage: the slot, 0.. (a stage with one slot: 0, the default)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    only = given[0] if given and given[0] in COMMANDS else None  # "--help" and mistakes: every command
    args = build_parser(only).parse_args(given)
    try:
        return _run(args)
    finally:
        _save_caches()


def _run(args: argparse.Namespace) -> int:
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the guard
        return status
    except FwbuildError as exc:
        if args.debug:
            traceback.print_exc()
        print(format_error(str(exc)), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `fwbuild size ... | head -1`: the reader has what it wanted. Exit quietly, as a
        # program killed by SIGPIPE would (128 + 13), and keep the interpreter's last flush
        # from complaining about the closed pipe.
        _silence_stdout()
        return 141
    except OSError as exc:
        # An input or output the command did not check for itself: name it, no traceback.
        if args.debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            format_error(f"{where}{exc.strerror or exc}; check the path and its permissions"), file=sys.stderr
        )
        return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (pytest's capture): nothing will flush to a pipe


def format_error(message: str, colour: bool | None = None) -> str:
    """One ``error:`` paragraph; the word in red when stderr is a terminal. Line breaks and
    blank lines inside the message (a template engine's, a tool's) become single spaces."""
    text = textwrap.fill(
        "error: " + " ".join(message.split()),
        width=100,
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    if colour is None:
        colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    return "\033[1;31merror:\033[0m" + text[len("error:") :] if colour else text


if __name__ == "__main__":
    sys.exit(main())
