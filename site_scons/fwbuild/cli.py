"""The ``fwbuild`` command line: a thin layer over the core."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import traceback
from collections.abc import Sequence
from pathlib import Path

from fwbuild import __version__
from fwbuild.errors import FwbuildError
from fwbuild.layout import Layout
from fwbuild.project import load_project
from fwbuild.values import hex32


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def cmd_targets(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    targets = project.target_set()
    rows = [("TARGET", "CORE", "FLASH", "SECTORS", "BOOTLOADER")]
    for name in targets.public_names():
        t = targets.resolve(name)
        t = targets.resolve(name, project.overrides_for(t, targets))  # the mode this project builds
        sizes = dict.fromkeys(_size(size) for _, size in t.sectors)
        sectors = " / ".join(sizes)
        keys = set(t.layout)
        mode = (
            "managed"
            if keys & {"bootloader_img", "header_offset"}
            else "unmanaged"
            if keys & {"mbed_app_start", "mbed_app_size"}
            else "none"
        )
        rows.append((name, t.core, f"{_size(t.flash_size)}@{hex32(t.flash_start)}", sectors, mode))
    _print_table(rows)
    return 0


def cmd_layout(args: argparse.Namespace) -> int:
    from fwbuild.resolve import resolve

    layout = resolve(args.project, args.target).layout
    if args.json:
        sys.stdout.write(layout.to_json())
    else:
        print_layout(layout)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from fwbuild.fileio import write_atomic
    from fwbuild.image import hex_chunks, merge, read_parts

    parts = []
    for spec in args.parts:
        path, sep, address = spec.rpartition("@")
        if not sep:
            path, address = spec, None
        if Path(path).suffix.lower() == ".bin" and address is None:
            raise FwbuildError(f"{spec}: a .bin part needs its absolute address: {spec}@0x08000000")
        try:
            base = int(address, 0) if address is not None else 0
        except ValueError:
            raise FwbuildError(f"{spec}: '{address}' is not an address; write e.g. @0x8000") from None
        if not Path(path).is_file():
            raise FwbuildError(f"{path}: file not found")
        parts += read_parts(Path(path), base)
    if not parts:
        raise FwbuildError("nothing to merge: give PART@ADDR arguments")
    out = Path(args.out)
    if out.suffix.lower() == ".hex":
        from fwbuild.image import check_overlaps

        check_overlaps(parts)
        write_atomic(out, hex_chunks(parts))
    else:
        start, end = min(p.start for p in parts), max(p.end for p in parts)
        write_atomic(out, merge(parts, start, end, args.fill))
    return 0


def _read_image(path: Path) -> tuple[int | None, bytes]:
    """(base address of a .hex, else None; its bytes from the lowest address)."""
    from fwbuild.image import read_parts

    if not path.is_file():
        raise FwbuildError(f"{path}: file not found")
    if path.suffix.lower() != ".hex":
        return None, path.read_bytes()
    from fwbuild.image import merge

    parts = read_parts(path, 0)
    start, end = min(p.start for p in parts), max(p.end for p in parts)
    return start, merge(parts, start, end, 0xFF)


def _resolved_or_none(args: argparse.Namespace):
    if not args.target:
        return None
    from fwbuild.resolve import resolve

    return resolve(args.project, args.target)


def cmd_sign(args: argparse.Namespace) -> int:
    from fwbuild.fileio import write_atomic
    from fwbuild.image import Part, hex_chunks
    from fwbuild.mcuboot import ImageOptions, auto_security_counter, make_image
    from fwbuild.project import SigningConfig
    from fwbuild.signing import choose_signer, detached_signature, image_options

    resolved = _resolved_or_none(args)
    project = resolved.project if resolved else load_project(args.project)
    config = project.signing if resolved else SigningConfig()
    version = project.version if args.version is None else _version(args.version)
    signer = choose_signer(project, "debug", args.key, args.sign_command).signer
    _, payload = _read_image(Path(args.input))
    base = None
    signature = None
    if resolved is not None:
        layout = resolved.layout
        header = layout.region("header")
        if header is None:
            raise FwbuildError(f"{layout.target}: the layout has no header region; there is nothing to sign")
        base = header.start
        if layout.header_format == "mcuboot":
            data = make_image(payload, _cli_options(image_options(layout, config, version), args), signer)
        else:
            from fwbuild.epoch import build_epoch
            from fwbuild.slot import mbed_slot_image

            data = mbed_slot_image(layout, payload, build_epoch(project.root, os.environ, "debug").seconds)
            signature = detached_signature(signer, data) if signer else None
    else:
        if args.header_size is None:
            raise FwbuildError("give --target NAME --project DIR, or --header-size N (and --slot-size N)")
        counter = args.security_counter or "auto"
        options = ImageOptions(
            header_size=args.header_size,
            version=version,
            security_counter=None
            if counter == "none"
            else auto_security_counter(version)
            if counter == "auto"
            else int(counter, 0),
            align=args.align or 4,
            erased_value=args.erased_value,
            slot_size=args.slot_size,
        )
        data = make_image(payload, _cli_options(options, args), signer)
    out = Path(args.output)
    if out.suffix.lower() == ".hex":
        write_atomic(out, hex_chunks([Part("slot", base or 0, data)]))
    else:
        write_atomic(out, data)
    if signature is not None:
        write_atomic(out.with_suffix(".sig"), signature)
    if signer is None:
        print("warning: no key: the image carries a SHA-256 hash only", file=sys.stderr)
    return 0


def _cli_options(options, args: argparse.Namespace):
    from dataclasses import replace

    changes = {}
    if args.custom_tlv:
        changes["custom_tlvs"] = options.custom_tlvs + tuple(
            (int(kind, 0), bytes.fromhex(value.removeprefix("0x"))) for kind, value in args.custom_tlv
        )
    if args.pad or args.confirm:
        changes.update(pad=True, confirm=args.confirm or options.confirm)
    if args.align and args.target:
        changes["align"] = args.align
    return replace(options, **changes)


def _version(text: str):
    from fwbuild.project import Version

    try:
        return Version.parse(text)
    except ValueError as exc:
        raise FwbuildError(f"--version {exc}; use X.Y.Z or X.Y.Z+B") from None


def cmd_verify(args: argparse.Namespace) -> int:
    from fwbuild.keys import load_public_key
    from fwbuild.mcuboot import IMAGE_MAGIC, VerifyError, verify_image
    from fwbuild.signing import key_path

    resolved = _resolved_or_none(args)
    project = resolved.project if resolved else load_project(args.project)
    path, _ = key_path(project.signing, args.key, os.environ)
    key = load_public_key(path) if path else None
    image_path = Path(args.image)
    _, data = _read_image(image_path)
    try:
        if len(data) >= 4 and int.from_bytes(data[:4], "little") == IMAGE_MAGIC:
            image = verify_image(data, key)
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
    try:
        image = parse_image(data)
    except VerifyError as exc:
        print(f"invalid: {path}: {exc}")
        return 1
    print(f"{path}: MCUboot image, {len(data)} bytes")
    for line in describe(image):
        print("  " + line)
    return 0


def cmd_verify_build(args: argparse.Namespace) -> int:
    import json

    from fwbuild.buildinfo import verify_build

    path = Path(args.info)
    try:
        problems = verify_build(path, args.prefix)
    except OSError as exc:
        raise FwbuildError(
            f"{path}: cannot read it ({exc.strerror}); give a build's build-info.json"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise FwbuildError(f"{path}: not a build-info.json fwbuild wrote ({exc})") from None
    for problem in problems:
        print(f"mismatch: {problem}")
    if problems:
        return 1
    count = len(json.loads(path.read_text()).get("outputs", {}))
    print(f"ok: {count} outputs and the toolchain match {path}")
    return 0


def cmd_size(args: argparse.Namespace) -> int:
    from fwbuild.memmap import map_sizes, top_contributors

    path = Path(args.map)
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

    from fwbuild.fileio import write_atomic
    from fwbuild.mbedimport import translate

    source = Path(args.mbed_app)
    out = Path(args.out) if args.out else source.parent / "fwbuild.json"
    if out.exists() and not args.force:
        raise FwbuildError(f"{out} exists; pass --force to replace it or --out to write elsewhere")
    result = translate(source, out.parent)
    write_atomic(out, json.dumps(result.config, indent=2) + "\n")
    print(f"wrote {out}")
    for line in result.translated:
        print(f"  translated: {line}")
    for line in result.skipped:
        print(f"  not translated: {line}")
    return 0


def cmd_check_target(args: argparse.Namespace) -> int:
    from fwbuild.checktarget import check_target, describe

    dirs = tuple(Path(d).resolve() for d in args.targets_dir)
    project = None
    if not dirs:
        project = load_project(args.project)
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

    key = load_public_key(Path(args.key))
    if args.format == "pem":
        text = key.pem().encode()
    elif args.format == "c":
        text = public_key_c(key).encode()
    else:
        text = key.der
    if args.out:
        from fwbuild.fileio import write_atomic

        write_atomic(args.out, text)
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
        f"{hex32(layout.flash_end)} ({_size(layout.flash_size)})"
    )
    rows = [("REGION", "START", "END", "SIZE")]
    for r in layout.regions:
        rows.append((r.name, hex32(r.start), hex32(r.end), _size(r.size)))
    for b in layout.ram:
        rows.append((f"ram {b.name}", hex32(b.start), hex32(b.end), _size(b.size)))
    _print_table(rows)


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fwbuild", description="Bootloader-ready Cortex-M firmware.")
    parser.add_argument("--version", action="version", version=f"fwbuild {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("targets", help="list the targets")
    p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")
    p.set_defaults(func=cmd_targets)

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

    p = sub.add_parser("layout", help="show a target's resolved regions")
    p.add_argument("target")
    p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")
    p.add_argument("--json", action="store_true", help="print layout.json")
    p.set_defaults(func=cmd_layout)

    p = sub.add_parser("merge", help="merge images at absolute addresses into one .bin or .hex")
    p.add_argument("--out", required=True, help="output file (.bin: gaps filled; .hex: used ranges)")
    p.add_argument("--fill", type=lambda v: int(v, 0), default=0xFF, help="gap value (default 0xFF)")
    p.add_argument("parts", nargs="+", metavar="PART@ADDR", help="file.bin@0x8000, or file.hex")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("sign", help="sign an application into a slot image, as the build does")
    p.add_argument("input", help="the application (.bin, or .hex)")
    p.add_argument("output", help="the slot image (.bin, or .hex at the header address)")
    _target_args(p)
    p.add_argument("--key", help="signing key (default: FWBUILD_SIGNING_KEY, then signing.key)")
    p.add_argument("--sign-command", help="external signer: reads {digest}, writes {signature}")
    p.add_argument("--version", help="X.Y.Z[+B] (default: the project's version)")
    p.add_argument("--header-size", type=lambda v: int(v, 0), help="without --target: the header size")
    p.add_argument("--slot-size", type=lambda v: int(v, 0), help="without --target: the slot size")
    p.add_argument("--align", type=lambda v: int(v, 0), help="flash write size (default: the target's, or 4)")
    p.add_argument("--erased-value", type=lambda v: int(v, 0), default=0xFF, help="default 0xFF")
    p.add_argument("--security-counter", help="auto (default), a number, or none")
    p.add_argument("--custom-tlv", nargs=2, action="append", metavar=("TYPE", "HEX"), help="extra TLV")
    p.add_argument("--pad", action="store_true", help="pad to the slot size and write the trailer")
    p.add_argument("--confirm", action="store_true", help="like --pad, and set image_ok")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify", help="check an image: exit 0 valid, 1 invalid")
    p.add_argument("image")
    p.add_argument("--key", help="public or private key (default: FWBUILD_SIGNING_KEY, then signing.key)")
    _target_args(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("inspect", help="print an MCUboot image's header, TLVs and trailer")
    p.add_argument("image")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("verify-build", help="re-hash a build's outputs against its build-info.json")
    p.add_argument("info", help="build/<target>/build-info.json")
    p.add_argument("--prefix", default="arm-none-eabi-", help="toolchain prefix (default arm-none-eabi-)")
    p.set_defaults(func=cmd_verify_build)

    p = sub.add_parser("size", help="the biggest contributors in a linker .map file")
    p.add_argument("map", help="e.g. build/K64F/app.map")
    p.add_argument("--top", type=int, default=10, help="how many objects (default 10)")
    p.set_defaults(func=cmd_size)

    p = sub.add_parser("import-mbed", help="write a fwbuild.json from an Mbed OS mbed_app.json")
    p.add_argument("mbed_app", help="path to mbed_app.json")
    p.add_argument("--out", help="where to write (default: fwbuild.json beside mbed_app.json)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_import_mbed)

    p = sub.add_parser("check-target", help="check a new target file and report every problem")
    p.add_argument("name", help="the target's name (its file name without .json)")
    p.add_argument("--targets-dir", action="append", default=[], help="folder with target files (repeatable)")
    p.add_argument("--project", default=".", type=Path, help="firmware repo whose targets_dirs to use")
    p.set_defaults(func=cmd_check_target)

    p = sub.add_parser("config-reference", help="print the configuration reference (Markdown)")
    p.set_defaults(func=cmd_config_reference)

    p = sub.add_parser("getpub", help="export a key's public half")
    p.add_argument("key")
    p.add_argument("--format", choices=("pem", "c", "raw"), default="pem", help="raw: the DER MCUboot embeds")
    p.add_argument("--out", help="write here instead of stdout")
    p.set_defaults(func=cmd_getpub)
    return parser


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="read header size, slot, write size and signing options from the layout")
    p.add_argument("--project", default=".", type=Path, help="firmware repo (default: .)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FwbuildError as exc:
        if args.debug:
            traceback.print_exc()
        print(format_error(str(exc)), file=sys.stderr)
        return 2


def format_error(message: str, colour: bool | None = None) -> str:
    """One ``error:`` paragraph; the word in red when stderr is a terminal."""
    text = textwrap.fill(
        "error: " + message, width=100, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )
    if colour is None:
        colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    return "\033[1;31merror:\033[0m" + text[len("error:") :] if colour else text


if __name__ == "__main__":
    sys.exit(main())
