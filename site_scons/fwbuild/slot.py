"""Slot images: what the bootloader sees at the header offset, and the combined image."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from fwbuild.errors import ImageError
from fwbuild.image import Part, merge
from fwbuild.layout import Layout
from fwbuild.mbed_header import build_header
from fwbuild.values import hex32


def check_application_fits(layout: Layout, app: bytes) -> None:
    region = layout.application
    if len(app) > region.size:
        raise ImageError(
            f"the application is {len(app)} bytes but {region.describe()} holds {region.size}: "
            f"{len(app) - region.size} bytes too many; shrink the code or enlarge the region "
            "(restrict_size, app_offset)"
        )


def mbed_slot_image(layout: Layout, app: bytes, timestamp: int) -> bytes:
    """[header_offset, end of app): the Mbed header, erased-value gap, the application."""
    header_region = layout.region("header")
    assert header_region is not None and layout.header_format not in (None, "mcuboot")
    check_application_fits(layout, app)
    header = build_header(layout.header_format, {"application": app}, timestamp)
    app_region = layout.application
    return merge(
        [Part("header", header_region.start, header), Part("application", app_region.start, app)],
        header_region.start,
        app_region.start + len(app),
        layout.erased_value,
    )


def combined_parts(
    layout: Layout,
    first: Sequence[Part],
    slots: Sequence[Part],
    report: Callable[[str], None] | None = print,
) -> list[Part]:
    """Check the first program's parts against its region(s) and each later slot image
    against its slot; then the chip's reserved bytes that no part gives
    (``reserved_fill``), each said in ``report``."""
    regions = layout.first_stage_regions
    stage = layout.stages[0]
    for part in first:
        home = next((r for r in regions if r.start <= part.start and part.end <= r.end), None)
        if home is None:
            where = ", ".join(r.describe() for r in regions)
            fix = (
                "enlarge bootloader_size" if layout.mode != "chain" else f"enlarge stage {stage.name}'s size"
            )
            raise ImageError(
                f"{stage.name} {part.name} ({hex32(part.start)}..{hex32(part.end)}) does not fit "
                f"its region(s) {where}; {fix} or shrink the {stage.name}"
            )
    for part, later in zip(slots, layout.stages[1:]):
        slot = later.slots[0]
        if part.end > slot.end:
            raise ImageError(
                f"{part.name} ({len(part.data)} bytes) does not fit {slot.region} "
                f"{hex32(slot.start)}..{hex32(slot.end)}; shrink the {later.name} or give its slots more room"
            )
    parts = [*first, *slots]
    check_reserved_bytes(layout, parts)
    fills = reserved_fill(layout, parts, combined_end(layout, parts))
    for fill in fills:
        if report is not None:
            report(f"note: {fill.name}")
    return [*parts, *fills]


def split_nvm(layout: Layout, parts: Sequence[Part]) -> tuple[list[Part], list[Part]]:
    """(flash parts, parts in a declared non-flash bank such as an nRF UICR). The latter go
    into combined.hex only: a .bin cannot reach them."""
    flash, nvm = [], []
    for part in parts:
        if any(b.start <= part.start and part.end <= b.end for b in layout.nvm):
            nvm.append(part)
        elif layout.flash_start <= part.start and part.end <= layout.flash_end:
            flash.append(part)
        else:
            raise ImageError(
                f"{part.name} holds bytes at {hex32(part.start)}..{hex32(part.end)}, outside the "
                f"flash and every non-flash bank of {layout.target}; remove those records or "
                "declare the bank in the target's nvm_banks"
            )
    return flash, nvm


def combined_end(layout: Layout, parts: Sequence[Part]) -> int:
    """Where the combined image ends: the end of the slot (the last part), or of the
    application region with pad_to_region_end."""
    return layout.application.end if layout.pad_to_region_end else max(p.end for p in parts)


def combined_image(layout: Layout, parts: Sequence[Part]) -> bytes:
    """From flash start to the end of the slot (or of the application region with
    pad_to_region_end), gaps filled with the erased value; never into the candidate.
    ``parts`` come from ``combined_parts``: the chip's reserved bytes are among them."""
    check_reserved_bytes(layout, parts)
    return merge(parts, layout.flash_start, combined_end(layout, parts), layout.erased_value)


def check_reserved_bytes(layout: Layout, parts: Sequence[Part]) -> None:
    """Every byte an image gives inside one of the chip's reserved ranges (K64F's flash
    configuration field) must be the target's: wrong ones can lock the chip. An image that
    covers only part of a range is checked on that part (the rest: ``reserved_fill``)."""
    for reserved in layout.reserved:
        start = layout.flash_start + reserved.offset
        end = start + len(reserved.data)
        for part in parts:
            low, high = max(start, part.start), min(end, part.end)
            if low >= high:
                continue
            found = bytes(part.data[low - part.start : high - part.start])
            wanted = reserved.data[low - start : high - start]
            if found != wanted:
                first = next(i for i in range(len(found)) if found[i] != wanted[i])
                raise ImageError(
                    f"{part.name} gives {found.hex()} at {hex32(low)}..{hex32(high)}, inside "
                    f"{layout.target}'s {reserved.name} {hex32(start)}..{hex32(end)}, where the chip "
                    f"needs {wanted.hex()} ({reserved.description or 'chip-defined bytes'}): the byte "
                    f"at {hex32(low + first)} is {found[first]:02x}, not {wanted[first]:02x}; rebuild "
                    "the image with the chip's bytes there, or leave the range out of it (the merge "
                    "then writes them)"
                )


def reserved_fill(layout: Layout, parts: Sequence[Part], end: int) -> list[Part]:
    """The chip's reserved bytes that no part gives, for each reserved range that an image
    from the flash start to ``end`` covers (a prebuilt bootloader shorter than K64F's 0x410
    bytes leaves its flash configuration field in the erased gap: erased, the field would
    secure the chip). Each part's name says what it fills and why."""
    fills = []
    for reserved in layout.reserved:
        start = layout.flash_start + reserved.offset
        stop = start + len(reserved.data)
        if start >= end:
            continue
        around = [p for p in parts if p.data and p.start < stop and start < p.end]
        gaps, at = [], start
        for low, high in sorted((max(start, p.start), min(stop, p.end)) for p in around):
            if low > at:
                gaps.append((at, low))
            at = max(at, high)
        if at < stop:
            gaps.append((at, stop))
        given = f"; {', '.join(p.name for p in around)} gives the rest" if around else ""
        for low, high in gaps:
            data = reserved.data[low - start : high - start]
            fills.append(
                Part(
                    f"{layout.target} {reserved.name} {hex32(low)}..{hex32(high)}: no image gives "
                    f"these bytes{given}; the merged image carries the chip's {data.hex()} there "
                    f"({reserved.description or 'chip-defined'}), not the erased value",
                    low,
                    data,
                )
            )
    return fills


def post_build_description(layout: Layout, parts: Sequence[tuple[str, int, str, bytes]]) -> str:
    """``post-build.json`` of an unmanaged build: every part a team's own script needs to
    assemble the full image (name, absolute address, size, path in the build folder, SHA-256)."""
    return (
        json.dumps(
            {
                "target": layout.target,
                "mode": layout.mode,
                "erased_value": layout.erased_value,
                "parts": [
                    {
                        "name": name,
                        "address": address,
                        "size": len(data),
                        "path": path,
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                    for name, address, path, data in parts
                ],
            },
            indent=2,
        )
        + "\n"
    )


def check_link_hooks(layout: Layout, parts: Sequence[Part]) -> None:
    """A prebuilt image at the flash start is checked, not patched, by link-stage hooks."""
    from fwbuild.hooks import lpc_checksum_ok

    if "lpc_vector_checksum" not in layout.post_build_hooks:
        return
    first = next((p for p in parts if p.start == layout.flash_start), None)
    if first is not None and not lpc_checksum_ok(first.data):
        raise ImageError(
            f"{first.name}: vectors 0-7 do not sum to zero, so the LPC boot ROM would not start it "
            "(post_build_hooks: lpc_vector_checksum); rebuild the bootloader with the checksum "
            "in vector 7"
        )
