"""The ``fwbuild`` command line: a thin layer over the core."""

from __future__ import annotations

import argparse
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
    from fwbuild.image import hex_text, merge, read_parts

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
        write_atomic(out, hex_text(parts))
    else:
        start, end = min(p.start for p in parts), max(p.end for p in parts)
        write_atomic(out, merge(parts, start, end, args.fill))
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
    return parser


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


def format_error(message: str) -> str:
    return textwrap.fill(
        "error: " + message, width=100, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


if __name__ == "__main__":
    sys.exit(main())
