"""Boot chains: the ``boot_chain`` key -> stages in slots on the real sector map.

A chain is a sequence of stages (selector -> bootloader -> application), each in its own
slots; every stage but the first has an MCUboot header and may be stored in several
slots, from which its predecessor picks one to run in place. The one-stage Mbed layout
is the chain bootloader -> application with one slot each (``layout.py`` builds that one
from the Mbed keys; this module reads ``boot_chain``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fwbuild.errors import ConfigError
from fwbuild.sectors import SectorMap
from fwbuild.targets import Region, Sourced, Target
from fwbuild.values import ValueParseError, hex32, parse_int

STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
STAGE_KEYS = ("stage", "image", "slots", "size", "header_size", "version")
CHAIN_KEYS = ("stages", "state_size")
MAX_SLOTS = 8
MCUBOOT_HEADER_MIN, MCUBOOT_HEADER_MAX = 32, 0xFFFF
STATE_REGION = "boot_state"
VERSION = re.compile(r"^\d+\.\d+\.\d+(\+\d+)?$")


@dataclass(frozen=True)
class Slot:
    """One place a stage is stored and runs from: [start, start + size), its MCUboot
    header (``header_size`` bytes, 0 for none) first, then the program."""

    stage: str
    index: int
    start: int
    size: int
    header_size: int
    region: str  # its name in layout.json: "selector", "bootloader.0", ...

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def program_start(self) -> int:
        return self.start + self.header_size

    @property
    def program_size(self) -> int:
        return self.size - self.header_size


@dataclass(frozen=True)
class Stage:
    """A program of the chain and the slots it is stored in."""

    name: str
    program: str  # the output files' stem: "app" for the last stage, else the stage name
    image: str | None  # "@<stage>" built in this run, a prebuilt image's path, None: the application
    slots: tuple[Slot, ...]
    header_size: int  # 0: no header (the first stage, never updated)
    version: str | None  # None: the project's version

    @property
    def built(self) -> bool:
        return self.image is None or self.image.startswith("@")


ImageSegments = Callable[[Path, int], Sequence[tuple[int, int]]]


def plan_chain(
    target: Target, chain: Sourced, vector_align: int, image_segments: ImageSegments
) -> tuple[tuple[Stage, ...], Region | None]:
    """The stages and their slots, and the state region, from ``boot_chain``; every slot
    starts on a sector boundary, none overlaps another or the state region."""
    return _Planner(target, chain, vector_align, image_segments).plan()


class _Planner:
    def __init__(self, target: Target, chain: Sourced, vector_align: int, image_segments: ImageSegments):
        self.t = target
        self.file = chain.file
        self.value = chain.value
        self.vector_align = vector_align
        self.segments = image_segments
        self.map = SectorMap(target.sectors, target.flash_end)

    def error(self, key: str, problem: str, fix: str | None = None) -> ConfigError:
        return ConfigError(self.file, f"boot_chain.{key}" if key else "boot_chain", problem, fix)

    def number(self, key: str, raw: Any) -> int:
        try:
            value = parse_int(raw)
        except ValueParseError as exc:
            raise self.error(key, str(exc)) from None
        if value < 0:
            raise self.error(key, f"{raw!r} is negative")
        return value

    def plan(self) -> tuple[tuple[Stage, ...], Region | None]:
        if not isinstance(self.value, dict):
            raise self.error("", "is not an object", 'give {"stages": [...], "state_size": ...}')
        unknown = sorted(set(self.value) - set(CHAIN_KEYS))
        if unknown:
            raise self.error(unknown[0], "unknown key", f"boot_chain takes {', '.join(CHAIN_KEYS)}")
        stages = self.value.get("stages")
        if not isinstance(stages, list) or len(stages) < 2:
            raise self.error(
                "stages",
                "needs a list of at least two stages (the first runs at the flash start, the last is "
                "the application)",
                "list selector, bootloader and application as DESIGN's example shows",
            )
        state = self.state_region()
        end = state.start if state else self.t.flash_end
        names: set[str] = set()
        planned: list[Stage] = []
        start = self.t.flash_start
        for i, raw in enumerate(stages):
            stage = self.stage(i, raw, len(stages), names, start, end)
            planned.append(stage)
            start = stage.slots[-1].end
        return tuple(planned), state

    def state_region(self) -> Region | None:
        if "state_size" not in self.value:
            return None
        size = self.number("state_size", self.value["state_size"])
        if size == 0:
            raise self.error("state_size", "is 0", "leave state_size out for no state region")
        start = self.map.floor(self.t.flash_end - size) if size < self.t.flash_size else self.t.flash_start
        if start <= self.t.flash_start:
            raise self.error(
                "state_size", f"{size:#x} takes the whole flash of {self.t.name}", "give a few sectors"
            )
        return Region(STATE_REGION, start, self.t.flash_end - start)

    def stage(self, i: int, raw: Any, count: int, names: set[str], start: int, end: int) -> Stage:
        where = f"stages[{i}]"
        if not isinstance(raw, dict):
            raise self.error(where, "is not an object", 'give {"stage": NAME, ...}')
        name = raw.get("stage")
        if not isinstance(name, str) or not STAGE_NAME.match(name):
            raise self.error(
                f"{where}.stage", f"{name!r} is not a stage name", "use lower case letters, digits and _"
            )
        where = f"{where} ({name})"
        unknown = sorted(set(raw) - set(STAGE_KEYS))
        if unknown:
            raise self.error(f"{where}.{unknown[0]}", "unknown key", f"a stage takes {', '.join(STAGE_KEYS)}")
        if name in names:
            raise self.error(
                f"{where}.stage", f"a second stage named {name}", "give every stage its own name"
            )
        if name == STATE_REGION:
            raise self.error(f"{where}.stage", f"{name} names the state region", "choose another name")
        names.add(name)
        first, last = i == 0, i == count - 1
        slots = self.slot_count(where, raw, first)
        header = self.header_size(where, raw, first)
        image = self.image(where, raw, name, last, slots)
        version = raw.get("version")
        if version is not None and not (isinstance(version, str) and VERSION.match(version)):
            raise self.error(
                f"{where}.version", f"{version!r} is not a version", 'write "X.Y.Z" or "X.Y.Z+B"'
            )
        size = self.slot_size(where, raw, last, slots, start, end, header)
        boundaries = [start + n * size for n in range(1, slots + (0 if last else 1))]
        misplaced = next((b for b in boundaries if b < end and not self.map.is_boundary(b)), None)
        if misplaced is not None:
            sector = self.map.sector_size_at(misplaced)
            fitting = self.fitting_size(start, len(boundaries), size, end)
            raise self.error(
                f"{where}.size",
                f"{size:#x} puts a slot boundary at {hex32(misplaced)}, inside a {sector:#x}-byte sector, "
                "so erasing one slot would erase part of its neighbour",
                f"use {fitting:#x}"
                if fitting
                else f"no size fits from {hex32(start)}: change the sizes before this stage so that it "
                f"starts on a {sector:#x}-byte sector",
            )
        placed = []
        for n in range(slots):
            slot = Slot(name, n, start + n * size, size, header, name if first else f"{name}.{n}")
            self.check_slot(where, slot, end, sized=last and "size" not in raw)
            placed.append(slot)
        if image is not None and not image.startswith("@"):
            self.check_image(where, Path(image), placed[0])
        return Stage(name, "app" if last else name, image, tuple(placed), header, version)

    def check_slot(self, where: str, slot: Slot, end: int, sized: bool) -> None:
        """A slot starts on a sector boundary (erasing it erases nothing else) and ends
        before the state region or the flash end."""
        if not self.map.is_boundary(slot.start):
            sector = self.map.sector_size_at(slot.start)
            below, above = self.map.floor(slot.start), self.map.ceil(slot.start)
            what = f"{slot.region} would start at {hex32(slot.start)}"
            if slot.index:
                key, fix = (
                    f"{where}.size",
                    "make the size a whole number of sectors: the slot before ends there",
                )
            else:
                key, fix = where, "the stage before it ends there: make that stage's size end on a sector"
            raise self.error(
                key,
                f"{what}, inside a {sector:#x}-byte sector ({hex32(below)}..{hex32(above)})",
                fix,
            )
        if slot.end > end:
            limit = "the state region" if end < self.t.flash_end else "the flash end"
            raise self.error(
                f"{where}.size" if not sized else where,
                f"{slot.region} {hex32(slot.start)}..{hex32(slot.end)} runs past {limit} {hex32(end)}",
                "give the stages smaller sizes, fewer slots, or a smaller state_size",
            )

    def slot_count(self, where: str, raw: dict, first: bool) -> int:
        slots = raw.get("slots", 1)
        if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= MAX_SLOTS:
            raise self.error(f"{where}.slots", f"{slots!r} is not a slot count", f"use 1 to {MAX_SLOTS}")
        if first and slots != 1:
            raise self.error(
                f"{where}.slots",
                f"the first stage runs at the flash start and is never updated: one slot, not {slots}",
                "drop slots here, or put a stage before it",
            )
        return slots

    def header_size(self, where: str, raw: dict, first: bool) -> int:
        if first:
            if "header_size" in raw:
                raise self.error(
                    f"{where}.header_size",
                    "the first stage has no header: nothing before it checks it",
                    "drop header_size from the first stage",
                )
            return 0
        if "header_size" not in raw:
            raise self.error(
                f"{where}.header_size",
                "is required: the stage before it checks this stage's MCUboot header",
                'give e.g. "header_size": "0x400"',
            )
        size = self.number(f"{where}.header_size", raw["header_size"])
        if not MCUBOOT_HEADER_MIN <= size <= MCUBOOT_HEADER_MAX:
            raise self.error(
                f"{where}.header_size",
                f"{size:#x} is outside MCUboot's {MCUBOOT_HEADER_MIN}..{MCUBOOT_HEADER_MAX:#x}",
                'use e.g. "0x400"',
            )
        if size % self.vector_align:
            above = (size // self.vector_align + 1) * self.vector_align
            raise self.error(
                f"{where}.header_size",
                f"{size:#x} puts the program at a start that is not aligned to {self.vector_align:#x}, "
                "which its vector table needs (VTOR)",
                f"use a multiple of {self.vector_align:#x}, e.g. {above:#x}",
            )
        return size

    def image(self, where: str, raw: dict, name: str, last: bool, slots: int) -> str | None:
        image = raw.get("image")
        if last:
            if image is not None:
                raise self.error(
                    f"{where}.image",
                    "the last stage is the application, built from the SConstruct's app sources",
                    "drop image from the last stage",
                )
            return None
        if image is None:
            raise self.error(
                f"{where}.image",
                "is required on every stage but the last",
                f'give "@{name}" (built from env.Firmware(..., stages={{"{name}": sources}})) or a .bin/.hex',
            )
        if not isinstance(image, str):
            raise self.error(f"{where}.image", f"{image!r} is not a string", f'give "@{name}" or a file')
        if image.startswith("@"):
            if image != f"@{name}":
                raise self.error(f"{where}.image", f"{image} does not name this stage", f'use "@{name}"')
            return image
        if slots != 1:
            raise self.error(
                f"{where}.image",
                f"a prebuilt image is linked for one address, but this stage has {slots} slots",
                f'build it here ("@{name}") so each slot gets its own link, or give it one slot',
            )
        path = self.file.parent / image
        if path.suffix.lower() not in (".bin", ".hex"):
            raise self.error(f"{where}.image", f"'{image}' is neither a .bin nor a .hex file", "give one")
        if not path.is_file():
            raise self.error(
                f"{where}.image",
                f"file '{image}' not found (looked at {path})",
                "the path is relative to the file that sets it",
            )
        return str(path)

    def slot_size(
        self, where: str, raw: dict, last: bool, slots: int, start: int, end: int, header: int
    ) -> int:
        if "size" in raw:
            size = self.number(f"{where}.size", raw["size"])
        elif last:
            size = self.even_split(where, slots, start, end)
        else:
            raise self.error(
                f"{where}.size", "is required on every stage but the last", "give each slot's size"
            )
        if size <= header:
            raise self.error(
                f"{where}.size",
                f"{size:#x} leaves no room for a program after the {header:#x}-byte header",
                "give a larger size",
            )
        return size

    def fitting_size(self, start: int, count: int, size: int, end: int) -> int | None:
        """The smallest size at least ``size`` that puts ``count`` boundaries after
        ``start`` on sector boundaries, if one fits before ``end``."""
        step = min(s for _, s in self.t.sectors)
        candidate = (size + step - 1) // step * step
        while start + count * candidate <= end:
            if all(self.map.is_boundary(start + n * candidate) for n in range(1, count + 1)):
                return candidate
            candidate += step
        return None

    def even_split(self, where: str, slots: int, start: int, end: int) -> int:
        """The rest of flash (before the state region) split evenly: the largest size, a
        whole number of the smallest sectors there, at which every slot starts on a boundary."""
        step = min(size for _, size in self.t.sectors)
        size = (end - start) // slots // step * step
        while size > 0:
            starts = [start + n * size for n in range(slots)]
            if all(self.map.is_boundary(s) for s in starts):
                return size
            size -= step
        raise self.error(
            f"{where}.slots",
            f"{slots} slots do not fit in {hex32(start)}..{hex32(end)}",
            "give the earlier stages less room, or this stage fewer slots",
        )

    def check_image(self, where: str, path: Path, slot: Slot) -> None:
        segments = sorted(self.segments(path, slot.program_start))
        if not segments:
            raise self.error(f"{where}.image", f"{path.name} holds no bytes", "build it first")
        low, high = segments[0][0], max(e for _, e in segments)
        if low < slot.program_start or high > slot.end:
            raise self.error(
                f"{where}.image",
                f"{path.name} covers {hex32(low)}..{hex32(high)}, outside its slot "
                f"{hex32(slot.program_start)}..{hex32(slot.end)}",
                "give the stage a larger size, or an image linked for this slot",
            )
