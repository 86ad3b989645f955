"""The layout engine: resolved target (with the project's overrides) -> one checked ``Layout``.

Everything downstream (linker script, generated header, signing, merge, reports) reads the
``Layout``; nothing else computes an offset. The rules are DESIGN.md's key table: offsets
and sizes are relative to the flash start, ``mbed_app_start`` is absolute; slot-like
regions start on sector boundaries, the application after a header only needs the
vector-table alignment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fwbuild.chain import Slot, Stage, plan_chain
from fwbuild.errors import ConfigError, LayoutError
from fwbuild.paths import not_a_file, real_path
from fwbuild.sectors import SectorMap
from fwbuild.targets import RamBank, Region, ReservedBytes, Sourced, Target
from fwbuild.values import ADDRESS_SPACE, ValueParseError, hex32, parse_int

MANAGED_KEYS = (
    "bootloader_img",
    "bootloader_size",
    "header_offset",
    "header_format",
    "candidate_offset",
    "candidate_size",
)
UNMANAGED_KEYS = ("mbed_app_start", "mbed_app_size")
CHAIN_KEY = "boot_chain"
BUILT_BOOTLOADER = "@bootloader"

MCUBOOT_HEADER_MIN, MCUBOOT_HEADER_MAX = 32, 0xFFFF
# Bytes taken off the start of the main RAM bank for the vector-forwarding word on a core
# without VTOR: one word, and a second so that .data and the stack keep 8-byte alignment.
VECTOR_FORWARD_SIZE = 8


@dataclass(frozen=True)
class Layout:
    target: str
    mode: str  # "managed" | "unmanaged" | "none"
    flash_start: int
    flash_size: int
    erased_value: int
    write_size: int
    sectors: tuple[tuple[int, int], ...]
    regions: tuple[Region, ...]
    ram: tuple[RamBank, ...]
    main_ram: str
    nvm: tuple[Region, ...]  # non-flash banks a bootloader .hex may carry records for
    vector_size: int
    vector_align: int
    stack_size: int
    heap_size: int
    reserved: tuple[ReservedBytes, ...]
    header_format: Any  # str preset, a tuple of entries, or None without a header
    bootloader_img: str | None  # "@bootloader", an absolute path, or None
    pad_to_region_end: bool
    post_build_hooks: tuple[str, ...]
    # The programs in boot order, each in its slots: in a boot chain every stage; in the Mbed
    # layouts the chain they amount to (bootloader -> application, or the application alone).
    stages: tuple[Stage, ...] = ()
    # A core without VTOR and a program after the first: the RAM address of the word through
    # which the first stage forwards every exception but reset (docs/layouts.md).
    vector_forward: int | None = None

    @property
    def flash_end(self) -> int:
        return self.flash_start + self.flash_size

    def region(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)

    @property
    def application(self) -> Region:
        """Where the application is linked (in a boot chain: its first slot, after the header)."""
        return self.program_region(self.stages[-1].slots[0].region)

    @property
    def has_headers(self) -> bool:
        """Whether any program of the layout is signed into a slot image."""
        return any(stage.header_size for stage in self.stages)

    def slot(self, region: str) -> Slot | None:
        """The slot a program linked into ``region`` runs from ("application", "bootloader",
        "bootloader.1", ...)."""
        return next((s for stage in self.stages for s in stage.slots if s.region == region), None)

    def stage_of(self, region: str) -> Stage | None:
        return next((st for st in self.stages if any(s.region == region for s in st.slots)), None)

    def program_region(self, name: str) -> Region:
        """The flash a program is linked into: a slot after its header, or a region by name."""
        slot = self.slot(name)
        if slot is not None:
            return Region(name, slot.program_start, slot.program_size)
        region = self.region(name)
        if region is None:
            raise ConfigError(None, name, f"the {self.target} layout has no '{name}' region")
        return region

    @property
    def bootloaders(self) -> tuple[Region, ...]:
        """A managed layout's bootloader segments: bootloader, bootloader_2, ..."""
        if self.mode != "managed":
            return ()
        return tuple(r for r in self.regions if r.name.startswith("bootloader"))

    @property
    def first_stage_regions(self) -> tuple[Region, ...]:
        """Where the first program of the layout may put bytes: a managed layout's
        bootloader segments, a chain's first slot, or the application."""
        if self.mode == "managed":
            return self.bootloaders
        first = self.region(self.stages[0].slots[0].region)
        return (first,) if first is not None else (self.application,)

    @property
    def main_ram_bank(self) -> RamBank:
        return next(b for b in self.ram if b.name == self.main_ram)

    @property
    def program_ram(self) -> tuple[RamBank, ...]:
        """The RAM banks programs are linked into: the banks, less the vector-forwarding
        word at the start of the main bank when there is one (no program's .data, .bss,
        heap or stack may cover it)."""
        if self.vector_forward is None:
            return self.ram
        return tuple(
            RamBank(b.name, b.start + VECTOR_FORWARD_SIZE, b.size - VECTOR_FORWARD_SIZE)
            if b.name == self.main_ram
            else b
            for b in self.ram
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``layout.json`` contract: regions that do not exist are absent."""
        return {
            "target": self.target,
            "mode": self.mode,
            "flash": {"start": self.flash_start, "size": self.flash_size, "erased_value": self.erased_value},
            "regions": [self._region_dict(r) for r in self.regions],
            "ram": [{"name": b.name, "start": b.start, "size": b.size} for b in self.ram],
        } | self._forward_dict()

    def _forward_dict(self) -> dict[str, Any]:
        if self.vector_forward is None:
            return {}
        return {
            "vector_forward": {
                "ram": self.main_ram,
                "start": self.vector_forward,
                "size": VECTOR_FORWARD_SIZE,
            }
        }

    def _region_dict(self, region: Region) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": region.name, "start": region.start, "size": region.size}
        slot = self.slot(region.name) if self.mode == "chain" else None
        if slot is not None:
            entry.update(stage=slot.stage, slot=slot.index, header_size=slot.header_size)
        return entry

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def signature(self) -> str:
        """Everything the layout holds, path-free, as stable text (a build dependency)."""
        return self._signature_text

    @cached_property  # several build nodes depend on it; asdict() is not cheap
    def _signature_text(self) -> str:
        data = asdict(self)
        data["reserved"] = [dict(r, data=r["data"].hex()) for r in data["reserved"]]
        if self.bootloader_img not in (None, BUILT_BOOTLOADER):
            data["bootloader_img"] = real_path(self.bootloader_img).name
        if self.mode != "chain":
            del data["stages"]  # derived from the regions and bootloader_img above
        if self.vector_forward is None:
            del data["vector_forward"]  # the text of every other layout stays as it was
        for stage in data.get("stages", ()):  # a prebuilt image by its name: the text is path-free
            if stage["image"] is not None and not stage["image"].startswith("@"):
                stage["image"] = real_path(stage["image"]).name
        return json.dumps(data, sort_keys=True, default=list)


ImageSegments = Callable[[Path, int], Sequence[tuple[int, int]]]


def vector_forward_note(layout: Layout) -> str | None:
    """What ``fwbuild layout`` and ``check-target`` say about a layout whose core has no
    VTOR and runs a program after the first (None for every other layout)."""
    if layout.vector_forward is None:
        return None
    first = layout.stages[0].slots[0].region
    return (
        f"{layout.target}: the core has no vector-table offset register (VTOR), so it takes every "
        f"exception from the {first}'s vector table at {hex32(layout.flash_start)}; the {first} "
        f"forwards every exception but reset to the table whose address is in the word at "
        f"{hex32(layout.vector_forward)} (VECTOR_FORWARD_ADDR in fwbuild_layout.h; the first "
        f"{VECTOR_FORWARD_SIZE} bytes of RAM bank {layout.main_ram}, which no program is linked "
        "over), and writes the next program's table address there before it hands over "
        "(docs/layouts.md)"
    )


def compute_layout(target: Target, image_segments: ImageSegments | None = None) -> Layout:
    """Compute and check the regions. ``image_segments(path, flash_start)`` gives a
    bootloader image's (start, end) extents (a .bin placed at the flash start); the default
    reads the file."""
    return _LayoutBuilder(target, image_segments or _read_image_segments).build()


def vector_alignment(vector_size: int) -> int:
    """VTOR needs a power of two at least the table's size, and at least 128 bytes."""
    align = 128
    while align < vector_size:
        align *= 2
    return align


class _LayoutBuilder:
    def __init__(self, target: Target, image_segments: ImageSegments):
        self.t = target
        self.keys: dict[str, Sourced] = target.layout
        self.segments = image_segments
        self.map = SectorMap(target.sectors, target.flash_end)
        self.vector_size = 4 * target.vector_count
        self.vector_align = vector_alignment(self.vector_size)

    # -- reading keys -------------------------------------------------------------
    def file(self, key: str) -> Path:
        return self.keys[key].file if key in self.keys else self.t.file

    def has(self, key: str) -> bool:
        return key in self.keys

    def error(self, key: str, problem: str, fix: str | None = None) -> ConfigError:
        return ConfigError(self.file(key), key, problem, fix)

    def offset(self, key: str) -> int:
        """A flash-relative offset or size key."""
        raw = self.keys[key].value
        try:
            value = parse_int(raw)
        except ValueParseError as exc:
            raise self.error(key, str(exc)) from None
        if value < 0:
            raise self.error(key, f"{raw!r} is negative")
        if value >= ADDRESS_SPACE:
            raise self.error(
                key,
                f"{value:#x} lies beyond the 32-bit address space of a Cortex-M (0..0xFFFFFFFF)",
                "offsets and sizes are relative to the flash start; give a value inside flash",
            )
        return value

    def absolute(self, key: str) -> int:
        return self.t.flash_start + self.offset(key)

    # -- the rules ----------------------------------------------------------------
    def build(self) -> Layout:
        if self.has(CHAIN_KEY):
            return self.chain_layout()
        managed = [k for k in MANAGED_KEYS if self.has(k)]
        unmanaged = [k for k in UNMANAGED_KEYS if self.has(k)]
        if unmanaged and (managed or self.has("app_offset") or self.has("restrict_size")):
            other = (managed or [k for k in ("app_offset", "restrict_size") if self.has(k)])[0]
            raise self.error(
                unmanaged[0],
                f"unmanaged key '{unmanaged[0]}' mixed with '{other}' (set in {self.file(other)})",
                "use mbed_app_start/mbed_app_size alone (unmanaged) or the bootloader keys alone (managed)",
            )
        if managed and not self.has("bootloader_img"):
            raise self.error(
                managed[0],
                f"'{managed[0]}' needs a bootloader",
                'set bootloader_img (a .bin/.hex file or "@bootloader")',
            )
        if unmanaged:
            mode, regions = "unmanaged", self.unmanaged_regions()
        elif managed:
            mode, regions = "managed", self.managed_regions()
        else:
            mode, regions = "none", self.plain_regions()
        app = next(r for r in regions if r.name == "application")
        if app.start != self.t.flash_start and not self.t.vtor and mode != "managed":
            # Managed: the bootloader at the flash start forwards exceptions (see forward_word).
            # Without one, nothing would: the core always takes its table at the flash start.
            key = next(k for k in ("mbed_app_start", "app_offset") if self.has(k))
            raise self.error(
                key,
                f"{self.t.core} has no vector-table offset register (VTOR), so an application "
                f"at {hex32(app.start)} would never get its exceptions: the core always reads the "
                f"table at the flash start {hex32(self.t.flash_start)}, and "
                + (
                    "a bootloader built elsewhere (unmanaged) is not known to forward them"
                    if mode == "unmanaged"
                    else "no bootloader is there to forward them"
                ),
                "start the application at the flash start, or use a managed layout (bootloader_img, e.g. "
                '"@bootloader") whose bootloader forwards exceptions through the word fwbuild reserves '
                "(docs/layouts.md)",
            )
        if app.size < self.vector_size:
            key = self.key_of("application", end=True)
            raise LayoutError(
                self.file(key),
                key,
                f"the application region {hex32(app.start)}..{hex32(app.end)} ({app.size} bytes) "
                f"cannot hold the {self.vector_size}-byte vector table of {self.t.name}",
                "give it more room (restrict_size, app_offset)",
            )
        regions = self.add_post_application(regions)
        self.check_regions(regions)
        fmt = self.header_format() if any(r.name == "header" for r in regions) else None
        bootloader_img = None
        if self.has("bootloader_img"):
            bootloader_img = self.bootloader_img()
            bootloader_img = str(bootloader_img) if isinstance(bootloader_img, Path) else bootloader_img
        return self.layout(
            mode, regions, _freeze(fmt), bootloader_img, self.mbed_stages(regions, bootloader_img)
        )

    def mbed_stages(self, regions: list[Region], bootloader_img: str | None) -> tuple[Stage, ...]:
        """The chain an Mbed layout amounts to: [bootloader ->] application, one slot each."""
        named = {r.name: r for r in regions}
        app, header = named["application"], named.get("header")
        start = header.start if header else app.start
        app_slot = Slot("application", 0, start, app.end - start, app.start - start, "application")
        stages = [Stage("application", "app", None, (app_slot,), app_slot.header_size, None)]
        if "bootloader" in named:
            boot = named["bootloader"]
            slot = Slot("bootloader", 0, boot.start, boot.size, 0, "bootloader")
            stages.insert(0, Stage("bootloader", "bootloader", bootloader_img, (slot,), 0, None))
        return tuple(stages)

    def chain_layout(self) -> Layout:
        mbed = [k for k in (*MANAGED_KEYS, *UNMANAGED_KEYS, "app_offset", "restrict_size") if self.has(k)]
        if mbed:
            raise self.error(
                CHAIN_KEY,
                f"boot_chain mixed with the Mbed layout key '{mbed[0]}' (set in {self.file(mbed[0])})",
                "describe the layout with boot_chain alone, or with the Mbed keys alone",
            )
        stages, state = plan_chain(self.t, self.keys[CHAIN_KEY], self.vector_align, self.segments)
        for stage in stages:
            for slot in stage.slots:
                if slot.program_size < self.vector_size:
                    raise self.error(
                        CHAIN_KEY,
                        f"{slot.region} holds {slot.program_size} bytes after its header, less than the "
                        f"{self.vector_size}-byte vector table",
                        f"give stage {stage.name} a larger size",
                    )
        regions = [Region(s.region, s.start, s.size) for stage in stages for s in stage.slots]
        if state is not None:
            regions.append(state)
        return self.layout("chain", regions, "mcuboot", None, stages)

    def layout(
        self,
        mode: str,
        regions: list[Region],
        header_format: Any,
        bootloader_img: str | None,
        stages: tuple[Stage, ...],
    ) -> Layout:
        pad = self.keys.get("pad_to_region_end")
        hooks = self.keys.get("post_build_hooks")
        return Layout(
            vector_forward=self.forward_word(stages),
            target=self.t.name,
            mode=mode,
            flash_start=self.t.flash_start,
            flash_size=self.t.flash_size,
            erased_value=self.t.erased_value,
            write_size=self.t.write_size,
            sectors=self.t.sectors,
            regions=tuple(regions),
            ram=self.t.ram,
            main_ram=self.t.main_ram,
            nvm=self.t.nvm,
            vector_size=self.vector_size,
            vector_align=self.vector_align,
            stack_size=self.t.stack_size,
            heap_size=self.t.heap_size,
            reserved=self.t.reserved,
            header_format=header_format,
            bootloader_img=bootloader_img,
            pad_to_region_end=bool(pad.value) if pad else False,
            post_build_hooks=tuple(hooks.value) if hooks else (),
            stages=stages,
        )

    def forward_word(self, stages: tuple[Stage, ...]) -> int | None:
        """Where the forwarding word lives, when the core has no VTOR and a program runs
        after the first: the core takes every exception from the first stage's table, which
        forwards it to the table whose address the stage that handed over wrote there."""
        if self.t.vtor or len(stages) < 2:
            return None
        bank = next(b for b in self.t.ram if b.name == self.t.main_ram)
        if bank.size < VECTOR_FORWARD_SIZE + self.t.stack_size + self.t.heap_size:
            raise ConfigError(
                self.t.file,
                "ram",
                f"the main RAM bank {bank.describe()} cannot hold the {VECTOR_FORWARD_SIZE}-byte "
                f"vector-forwarding word of a bootloader layout on {self.t.core} (no VTOR) besides the "
                f"stack ({self.t.stack_size} bytes) and heap ({self.t.heap_size} bytes)",
                "lower stack_size/heap_size in a target file of your own",
            )
        return bank.start

    def plain_regions(self) -> list[Region]:
        start = self.absolute("app_offset") if self.has("app_offset") else self.t.flash_start
        self.check_in_flash("app_offset", start)
        self.check_sector_aligned("app_offset", start, "the application (no header before it)")
        return [self.application_from("app_offset", start)]

    def unmanaged_regions(self) -> list[Region]:
        start = self.t.flash_start
        if self.has("mbed_app_start"):
            start = self.offset("mbed_app_start")  # absolute, as in Mbed
        self.check_in_flash("mbed_app_start", start)
        self.check_sector_aligned("mbed_app_start", start, "the application")
        self.check_vector_aligned("mbed_app_start", start)
        if self.has("mbed_app_size"):
            end = start + self.offset("mbed_app_size")
            if end > self.t.flash_end:
                raise self.error(
                    "mbed_app_size",
                    f"the application would end at {hex32(end)}, "
                    f"past the flash end {hex32(self.t.flash_end)}",
                    f"use at most {self.t.flash_end - start:#x}",
                )
        else:
            end = self.t.flash_end
        return [Region("application", start, end - start)]

    def managed_regions(self) -> list[Region]:
        regions = self.bootloader_regions()
        boot_end = regions[0].end
        has_header = self.has("header_offset") or self.has("header_format")
        if has_header:
            header_start = self.absolute("header_offset") if self.has("header_offset") else boot_end
            self.check_in_flash("header_offset", header_start)
            self.check_sector_aligned("header_offset", header_start, "the header (slot start)")
            need = self.header_bytes()
            if self.has("app_offset"):
                app_start = self.absolute("app_offset")
            else:
                app_start = header_start + max(self.vector_align, _round_up(need, self.vector_align))
            self.check_in_flash("app_offset", app_start)
            self.check_vector_aligned("app_offset", app_start)
            if app_start <= header_start:
                raise self.error(
                    "app_offset",
                    f"the application start {hex32(app_start)} is not "
                    f"above the header start {hex32(header_start)}",
                    "put app_offset after header_offset",
                )
            header = Region("header", header_start, app_start - header_start)
            self.check_header_size(header, need)
            regions.append(header)
        else:
            app_start = self.absolute("app_offset") if self.has("app_offset") else boot_end
            self.check_in_flash("app_offset", app_start)
            self.check_sector_aligned("app_offset", app_start, "the application (no header)")
        app = self.application_from("app_offset", app_start)
        regions.append(app)
        if self.has("candidate_offset") or self.has("candidate_size"):
            regions.append(self.candidate(regions))
        return regions

    def application_from(self, key: str, start: int) -> Region:
        if self.has("restrict_size"):
            wanted = start + self.offset("restrict_size")
            if wanted > self.t.flash_end:
                raise self.error(
                    "restrict_size",
                    f"the application would end at {hex32(wanted)}, "
                    f"past the flash end {hex32(self.t.flash_end)}",
                    f"use at most {self.t.flash_end - start:#x}",
                )
            end = self.map.floor(wanted)
            if end <= start:
                raise self.error(
                    "restrict_size",
                    f"{hex32(start)} + restrict_size ends in the same "
                    "sector, leaving no room for the application",
                    "give a larger restrict_size",
                )
        else:
            end = self.t.flash_end
        return Region("application", start, end - start)

    def bootloader_regions(self) -> list[Region]:
        image = self.bootloader_img()
        flash_start = self.t.flash_start
        if image == BUILT_BOOTLOADER:
            if not self.has("bootloader_size"):
                raise self.error(
                    "bootloader_size",
                    'is required with "@bootloader"',
                    "give the size of the region the bootloader is linked into",
                )
            size = self.offset("bootloader_size")
            if size == 0:
                raise self.error("bootloader_size", "is 0", "give the bootloader region's size")
            end = flash_start + size
            self.check_in_flash("bootloader_size", end - 1)
            self.check_sector_aligned("bootloader_size", end, "the end of the bootloader region")
            return [Region("bootloader", flash_start, size)]
        segments = self.flash_segments(real_path(image))
        if not segments:
            raise self.error("bootloader_img", f"{image} holds no bytes", "build the bootloader first")
        first_start, first_end = segments[0]
        if first_start != flash_start:
            raise self.error(
                "bootloader_img",
                f"the bootloader image starts at {hex32(first_start)}, "
                f"not at the flash start {hex32(flash_start)}",
                "use a .bin (placed at flash start) or fix the .hex addresses",
            )
        regions = []
        for i, (seg_start, seg_end) in enumerate(segments):
            name = "bootloader" if i == 0 else f"bootloader_{i + 1}"
            if seg_end > self.t.flash_end:
                raise self.error(
                    "bootloader_img",
                    f"{name} of {image.name} runs to "
                    f"{hex32(seg_end)}, past the flash end {hex32(self.t.flash_end)}",
                    "check the image against this target",
                )
            start = self.map.floor(seg_start)
            end = self.map.ceil(seg_end)
            if i == 0 and self.has("bootloader_size"):
                end = flash_start + self.offset("bootloader_size")
                if end < seg_end:
                    raise self.error(
                        "bootloader_size",
                        f"{end - flash_start:#x} cannot hold {image.name}, which ends at {hex32(seg_end)}",
                        f"use at least {self.map.ceil(seg_end) - flash_start:#x}",
                    )
                self.check_sector_aligned("bootloader_size", end, "the end of the bootloader region")
            regions.append(Region(name, start, end - start))
        for a, b in zip(regions, regions[1:]):
            if b.start < a.end:  # two segments sharing a sector would erase each other
                raise self.error(
                    "bootloader_img",
                    f"{a.name} and {b.name} of {image.name} share the sector at {hex32(b.start)}",
                    "keep segments in separate sectors",
                )
        return regions

    def flash_segments(self, image: Path) -> list[tuple[int, int]]:
        """The image's segments in flash; those in a declared non-flash bank (an nRF UICR)
        are left for combined.hex, any other outside flash is an error."""
        inside = []
        for start, end in sorted(self.segments(image, self.t.flash_start)):
            if self.t.flash_start <= start < self.t.flash_end:
                inside.append((start, end))
            elif not any(b.start <= start and end <= b.end for b in self.t.nvm):
                banks = ", ".join(b.describe() for b in self.t.nvm) or "none"
                raise self.error(
                    "bootloader_img",
                    f"{image.name} holds bytes at {hex32(start)}..{hex32(end)}, outside the flash "
                    f"{hex32(self.t.flash_start)}..{hex32(self.t.flash_end)} and outside every "
                    f"non-flash bank of {self.t.name} ({banks})",
                    "remove those records, or declare the bank in the target's nvm_banks "
                    "if a programmer really writes it",
                )
        return inside

    def bootloader_img(self) -> Path | str:
        value = self.keys["bootloader_img"].value
        if value == BUILT_BOOTLOADER:
            return BUILT_BOOTLOADER
        path = self.file("bootloader_img").parent / value  # as configured: see fwbuild.paths
        if real_path(path).suffix.lower() not in (".bin", ".hex"):
            raise self.error(
                "bootloader_img",
                f"'{value}' is neither a .bin nor a .hex file",
                'give a .bin, a .hex or "@bootloader"',
            )
        problem = not_a_file(path)
        if problem:
            raise self.error(
                "bootloader_img",
                f"file '{value}' not found (looked at {path})"
                if problem == "file not found"
                else f"'{value}' {problem} (looked at {path})",
                "the path is relative to the file that sets it",
            )
        return path

    def header_format(self) -> Any:
        if not self.has("header_format"):
            return "mcuboot"
        value = self.keys["header_format"].value
        if value == "mcuboot":
            return value
        # Imported for Mbed formats only: an MCUboot layout never needs the module.
        from fwbuild.mbed_header import PRESETS

        if isinstance(value, str) and value not in PRESETS:
            raise self.error(
                "header_format",
                f"unknown format '{value}'",
                'use "mcuboot", "mbed-v2", "pelion-v3" or an Mbed-style list',
            )
        return value

    def header_bytes(self) -> int:
        """What the header needs: MCUboot's 32-byte minimum, or the Mbed format's size."""
        fmt = self.header_format()
        if fmt == "mcuboot":
            return MCUBOOT_HEADER_MIN
        from fwbuild.mbed_header import HeaderFormatError, header_size

        try:
            return header_size(fmt)
        except HeaderFormatError as exc:
            raise self.error("header_format", str(exc), "see docs/target-format.md") from None

    def check_header_size(self, header: Region, need: int) -> None:
        fmt = self.header_format()
        key = "app_offset" if self.has("app_offset") else "header_offset"
        if fmt == "mcuboot" and not MCUBOOT_HEADER_MIN <= header.size <= MCUBOOT_HEADER_MAX:
            raise self.error(
                key,
                f"the MCUboot header region {hex32(header.start)}.."
                f"{hex32(header.end)} is {header.size:#x} bytes; MCUboot needs "
                f"{MCUBOOT_HEADER_MIN} to {MCUBOOT_HEADER_MAX:#x}",
                "move app_offset closer to header_offset",
            )
        if header.size < need:
            raise self.error(
                key,
                f"the header region is {header.size} bytes but the {fmt} header needs {need}",
                "move app_offset up",
            )

    def candidate(self, regions: list[Region]) -> Region:
        slot_start = regions[-2].start if regions[-2].name == "header" else regions[-1].start
        slot_size = regions[-1].end - slot_start
        if not self.has("candidate_offset"):
            raise self.error("candidate_size", "needs candidate_offset", "give the update slot's start")
        start = self.absolute("candidate_offset")
        self.check_in_flash("candidate_offset", start)
        self.check_sector_aligned("candidate_offset", start, "the candidate slot")
        if self.has("candidate_size"):
            size = self.offset("candidate_size")
        elif start + slot_size < self.t.flash_end:
            size = self.map.ceil(start + slot_size) - start
        else:
            size = slot_size
        if start + size > self.t.flash_end:
            raise self.error(
                "candidate_size" if self.has("candidate_size") else "candidate_offset",
                f"the candidate {hex32(start)}..{hex32(start + size)} runs past the "
                f"flash end {hex32(self.t.flash_end)}",
                "move or shrink it",
            )
        if size < slot_size:
            raise self.error(
                "candidate_size",
                f"{size:#x} is smaller than the slot it updates "
                f"({slot_size:#x} bytes from {hex32(slot_start)})",
                f"use at least {slot_size:#x}",
            )
        return Region("candidate", start, size)

    def add_post_application(self, regions: list[Region]) -> list[Region]:
        app = next(r for r in regions if r.name == "application")
        later = [r.start for r in regions if r.start >= app.end]
        end = min(later, default=self.t.flash_end)
        # Slot-like: it starts on a sector boundary (an application ending inside a sector,
        # as an unmanaged mbed_app_size may, owns the rest of that sector).
        start = self.map.ceil(app.end)
        if end > start:
            regions = regions + [Region("post_application", start, end - start)]
        return sorted(regions, key=lambda r: (r.start, r.name))

    # -- checks -------------------------------------------------------------------
    def check_in_flash(self, key: str, address: int) -> None:
        if not self.t.flash_start <= address < self.t.flash_end:
            raise self.error(
                key,
                f"{hex32(address)} is outside flash {hex32(self.t.flash_start)}..{hex32(self.t.flash_end)}",
                "offsets are relative to the flash start"
                + (" (mbed_app_start is absolute)" if key.startswith("mbed_") else ""),
            )

    def check_sector_aligned(self, key: str, address: int, what: str) -> None:
        if self.map.is_boundary(address):
            return
        below, above = self.map.floor(address), self.map.ceil(address)
        size = self.map.sector_size_at(address)
        rel = 0 if key.startswith("mbed_") else self.t.flash_start
        raise self.error(
            key,
            f"{what} at {hex32(address)} is not on a sector boundary ({size:#x}-byte sectors there)",
            f"the nearest valid values are {below - rel:#x} below and {above - rel:#x} above",
        )

    def check_vector_aligned(self, key: str, address: int) -> None:
        if address % self.vector_align == 0:
            return
        below = address - address % self.vector_align
        above = below + self.vector_align
        rel = 0 if key.startswith("mbed_") else self.t.flash_start
        raise self.error(
            key,
            f"the application start {hex32(address)} is not aligned to "
            f"{self.vector_align:#x}, which the {self.vector_size}-byte vector table "
            "needs (VTOR)",
            f"the nearest valid values are {below - rel:#x} below and {above - rel:#x} above",
        )

    def key_of(self, region: str, end: bool = False) -> str:
        """The key a user changes to move a region's start (or, with ``end``, its end)."""
        if region.startswith("bootloader"):
            keys = ("bootloader_size", "bootloader_img") if end else ("bootloader_img",)
        else:
            keys = {
                "header": ("app_offset", "header_offset") if end else ("header_offset",),
                "application": ("restrict_size", "candidate_offset") if end else ("app_offset",),
                "candidate": ("candidate_size", "candidate_offset") if end else ("candidate_offset",),
                "post_application": ("restrict_size",),
            }.get(region, ())
        return next((k for k in keys if self.has(k)), keys[0] if keys else "app_offset")

    def check_regions(self, regions: list[Region]) -> None:
        ordered = sorted(regions, key=lambda r: r.start)
        for region in ordered:
            if region.start < self.t.flash_start or region.end > self.t.flash_end:
                key = self.key_of(region.name)
                raise LayoutError(
                    self.file(key),
                    key,
                    f"{region.describe()} lies outside the {self.t.name} flash "
                    f"{hex32(self.t.flash_start)}..{hex32(self.t.flash_end)}",
                    "check the offsets and sizes",
                )
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.end:
                key = self.key_of(b.name)
                shrink = self.key_of(a.name, end=True)
                raise LayoutError(
                    self.file(key),
                    key,
                    f"{a.describe()} overlaps {b.describe()} from {hex32(b.start)}",
                    f"move {b.name} to {hex32(self.map.ceil(a.end))} or above, or shrink {a.name} "
                    f"({shrink}{', set in ' + str(self.file(shrink)) if shrink != key else ''})",
                )


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _read_image_segments(path: Path, flash_start: int) -> list[tuple[int, int]]:
    from fwbuild.image import read_parts

    return [(part.start, part.end) for part in read_parts(path, flash_start) if part.data]
