"""Target files: find them, check them, resolve inheritance into one ``Target``.

A ``TargetSet`` indexes the target folders (the project's first, so they win over ours) and
resolves names depth-first, as Mbed's ``targets.json`` did: the target's own value, then
its first parent's chain, then the second's. Objects merge key by key; lists and plain
values are replaced. Every value keeps the file it came from, for messages and for paths
relative to that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwbuild import shipped
from fwbuild.errors import ConfigError
from fwbuild.jsonfile import read_json, validate
from fwbuild.values import ValueParseError, hex32, parse_int

if TYPE_CHECKING:
    from fwbuild.readcache import ReadCache

BUILTIN_TARGETS_DIR = shipped.TARGETS.expected()
SCHEMA_FILES = ("schema.json", "project-schema.json")

LAYOUT_KEYS = (
    "bootloader_img",
    "bootloader_size",
    "header_offset",
    "header_format",
    "app_offset",
    "restrict_size",
    "candidate_offset",
    "candidate_size",
    "mbed_app_start",
    "mbed_app_size",
    "post_build_hooks",
)

# -mcpu/-mfpu/-mfloat-abi per core, chosen so that each maps onto one of newlib's multilibs
# (arm-none-eabi-gcc -print-multi-lib): thumb/v6-m, v7-m, v7e-m(+fp/+dp)/hard, v8-m.main.
CORE_FLAGS: dict[str, tuple[str, ...]] = {
    "cortex-m0": ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m0plus": ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m3": ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m4": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m4f": ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
    "cortex-m7": ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m7f": ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
    "cortex-m33": ("-mcpu=cortex-m33+nofp", "-mthumb", "-mfloat-abi=soft"),
    "cortex-m33f": ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
}

PROFILES = ("debug", "release")


@dataclass(frozen=True)
class Sourced:
    """A config value and the file that set it."""

    value: Any
    file: Path


@dataclass(frozen=True)
class Region:
    """A named address range: a flash region of the layout, or a RAM bank."""

    name: str
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    def describe(self) -> str:
        return f"{self.name} {hex32(self.start)}..{hex32(self.end)}"


RamBank = Region


@dataclass(frozen=True)
class ReservedBytes:
    """Chip-defined bytes at a flash offset that whatever is linked over it must carry."""

    name: str
    offset: int
    data: bytes
    description: str = ""


@dataclass(frozen=True)
class Target:
    """A fully resolved, value-checked target."""

    name: str
    file: Path
    chain: tuple[str, ...]
    description: str
    core: str
    vtor: bool
    flash_start: int
    flash_size: int
    sectors: tuple[tuple[int, int], ...]
    write_size: int
    erased_value: int
    ram: tuple[RamBank, ...]
    main_ram: str
    nvm: tuple[Region, ...]
    vector_count: int
    # (IRQ number, handler name) the default start-up code puts in the vector table
    irq_handlers: tuple[tuple[int, str], ...]
    stack_size: int
    heap_size: int
    reserved: tuple[ReservedBytes, ...]
    macros: tuple[str, ...]
    include_dirs: tuple[Path, ...]
    source_dirs: tuple[Path, ...]
    emulator: str | None
    programmer: str | None
    profiles: dict[str, dict[str, tuple[str, ...]]] = field(hash=False, compare=False)
    layout: dict[str, Sourced] = field(hash=False, compare=False)

    @property
    def flash_end(self) -> int:
        return self.flash_start + self.flash_size

    @property
    def core_flags(self) -> tuple[str, ...]:
        return CORE_FLAGS[self.core]

    def flags(self, profile: str) -> dict[str, tuple[str, ...]]:
        """cflags/ldflags for a profile: the core's, then common, then the profile's."""
        out: dict[str, tuple[str, ...]] = {}
        for kind in ("cflags", "ldflags"):
            out[kind] = (
                self.core_flags
                + self.profiles.get("common", {}).get(kind, ())
                + self.profiles.get(profile, {}).get(kind, ())
            )
        return out


class TargetSet:
    """The targets visible to a project: its own folders first, then the shipped ones."""

    def __init__(self, dirs: list[Path] | tuple[Path, ...] = (), cache: ReadCache | None = None):
        # located now: missing shipped targets mean a broken install, not a wrong targets_dirs
        self.dirs = tuple(Path(d) for d in dirs) + (shipped.targets_dir(),)
        self.cache = cache
        self._files: dict[str, Path] = {}
        for folder in reversed(self.dirs):  # earlier folders win
            if not folder.is_dir():
                raise ConfigError(folder, None, "targets folder not found", "check targets_dirs")
            for path in sorted(folder.glob("*.json")):
                if path.name not in SCHEMA_FILES:
                    self._files[path.stem] = path
        self._raw: dict[str, dict[str, Any]] = {}
        self._resolved: dict[str, Target] = {}

    def file_of(self, name: str) -> Path:
        return self._files[name]

    def all_names(self) -> list[str]:
        return sorted(self._files)

    def public_names(self) -> list[str]:
        return [n for n in self.all_names() if self.raw(n).get("public", True)]

    def raw(self, name: str) -> dict[str, Any]:
        """The file's own content, schema-checked."""
        if name not in self._raw:
            path = self._files[name]
            data = read_json(path)
            validate(data, "schema.json", path, self.cache)
            self._raw[name] = data
        return self._raw[name]

    def unknown_target(self, name: str, context: str | None = None) -> ConfigError:
        public = self.public_names()
        import difflib  # only for the message

        close = difflib.get_close_matches(name, public, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(public)}"
        return ConfigError(None, context, f"unknown target '{name}'", hint)

    def chain(self, name: str) -> list[str]:
        """Depth-first resolution order, the target itself first."""
        order: list[str] = []

        def visit(current: str, path: tuple[str, ...]) -> None:
            if current in path:
                cycle = " -> ".join(path + (current,))
                raise ConfigError(
                    self._files[path[-1]],
                    "inherits",
                    f"inheritance cycle {cycle}",
                    "remove one of these parents",
                )
            if current not in self._files:
                via = " -> ".join(path + (current,))
                raise ConfigError(
                    self._files[path[-1]],
                    "inherits",
                    f"parent '{current}' not found (chain {via})",
                    "add targets/" + current + ".json or fix the name",
                )
            if current not in order:
                order.append(current)
            parents = self.raw(current).get("inherits", [])
            for parent in [parents] if isinstance(parents, str) else parents:
                visit(parent, path + (current,))

        visit(name, ())
        return order

    def resolve(self, name: str, overrides: dict[str, Sourced] | None = None) -> Target:
        """Merge the chain and check every value. ``overrides`` are layout keys only."""
        if name not in self._files:
            raise self.unknown_target(name)
        if not self.raw(name).get("public", True):
            raise ConfigError(
                self._files[name],
                None,
                f"'{name}' is a family, not a buildable target",
                f"build one of its boards: {', '.join(self._children(name)) or 'none yet'}",
            )
        if overrides is None and name in self._resolved:
            return self._resolved[name]
        chain = self.chain(name)
        merged: dict[str, Sourced] = {}
        for member in reversed(chain):
            _merge_into(merged, self.raw(member), self._files[member], "")
        target = _build_target(name, self._files[name], tuple(chain), merged, overrides or {})
        if overrides is None:
            self._resolved[name] = target
        return target

    def _children(self, family: str) -> list[str]:
        return [n for n in self.public_names() if family in self.chain(n)]


def _merge_into(merged: dict[str, Sourced], data: dict[str, Any], file: Path, prefix: str) -> None:
    """Flatten objects into dotted keys so that each leaf keeps the file that set it."""
    for key, value in data.items():
        if key in ("inherits", "public"):
            continue
        dotted = prefix + key
        if isinstance(value, dict) and value:
            _merge_into(merged, value, file, dotted + ".")
        else:
            for old in [k for k in merged if k.startswith(dotted + ".")]:
                del merged[old]
            merged[dotted] = Sourced(value, file)


class _Reader:
    """Typed access to merged values, raising ConfigError naming file and key."""

    def __init__(self, name: str, file: Path, merged: dict[str, Sourced]):
        self.name = name
        self.file = file
        self.merged = merged

    def has(self, key: str) -> bool:
        return key in self.merged

    def origin(self, key: str) -> Path:
        return self.merged[key].file if key in self.merged else self.file

    def raw(self, key: str, default: Any = ...) -> Any:
        if key in self.merged:
            return self.merged[key].value
        if default is ...:
            raise ConfigError(
                self.file,
                key,
                f"target '{self.name}' has no '{key}' (not in it or its parents)",
                "add it to the target or its family",
            )
        return default

    def number(self, key: str, default: Any = ..., value: Any = ...) -> int:
        raw = self.raw(key, default) if value is ... else value
        try:
            number = parse_int(raw)
        except ValueParseError as exc:
            raise ConfigError(self.origin(key), key, str(exc)) from None
        if number < 0:
            raise ConfigError(self.origin(key), key, f"{raw!r} is negative")
        return number


def _build_target(
    name: str,
    file: Path,
    chain: tuple[str, ...],
    merged: dict[str, Sourced],
    overrides: dict[str, Sourced],
) -> Target:
    r = _Reader(name, file, merged)
    core = r.raw("core")
    flash_start = r.number("flash.start")
    flash_size = r.number("flash.size")
    if flash_size == 0:
        raise ConfigError(r.origin("flash.size"), "flash.size", "is 0", "give the flash size")
    sectors = _sectors(r, flash_start, flash_start + flash_size)
    ram = []
    for i, bank in enumerate(r.raw("ram")):
        key = f"ram[{i}]"
        ram.append(
            RamBank(bank["name"], r.number(key, value=bank["start"]), r.number(key, value=bank["size"]))
        )
    if not ram:
        raise ConfigError(r.origin("ram"), "ram", "no RAM bank", "add one {name, start, size}")
    names = [b.name for b in ram]
    if len(set(names)) != len(names):
        raise ConfigError(r.origin("ram"), "ram", "two RAM banks share a name", "rename one")
    main_ram = r.raw("main_ram", max(ram, key=lambda b: b.size).name)
    if main_ram not in names:
        raise ConfigError(
            r.origin("main_ram"), "main_ram", f"no RAM bank '{main_ram}'", f"use one of {', '.join(names)}"
        )
    nvm = _nvm_banks(r, flash_start, flash_start + flash_size)
    vector_count = r.number("vector_count")
    if vector_count < 16:
        raise ConfigError(
            r.origin("vector_count"),
            "vector_count",
            f"{vector_count} < 16",
            "count the 16 core entries plus the IRQs",
        )
    irq_handlers = _irq_handlers(r, vector_count)
    erased = r.number("flash.erased_value", 0xFF)
    if erased > 0xFF:
        raise ConfigError(
            r.origin("flash.erased_value"),
            "flash.erased_value",
            f"{erased} is not a byte",
            "use 0xFF or 0x00",
        )
    reserved = []
    for i, item in enumerate(r.raw("reserved", [])):
        key = f"reserved[{i}]"
        res = ReservedBytes(
            item["name"],
            r.number(key, value=item["offset"]),
            bytes.fromhex(item["bytes"]),
            item.get("description", ""),
        )
        if res.offset + len(res.data) > flash_size:
            raise ConfigError(r.origin("reserved"), key, f"{res.name} lies past the end of flash")
        reserved.append(res)
    profiles: dict[str, dict[str, tuple[str, ...]]] = {}
    for key, src in merged.items():
        if key.startswith("profiles."):
            _, profile, kind = key.split(".")
            profiles.setdefault(profile, {})[kind] = tuple(src.value)
    layout = {k: v for k, v in merged.items() if k in LAYOUT_KEYS}
    layout.update(overrides)
    return Target(
        name=name,
        file=file,
        chain=chain,
        description=r.raw("description", ""),
        core=core,
        vtor=bool(r.raw("vtor", core != "cortex-m0")),
        flash_start=flash_start,
        flash_size=flash_size,
        sectors=sectors,
        write_size=r.number("flash.write_size", 4),
        erased_value=erased,
        ram=tuple(sorted(ram, key=lambda b: b.start)),
        main_ram=main_ram,
        nvm=nvm,
        vector_count=vector_count,
        irq_handlers=irq_handlers,
        stack_size=r.number("stack_size", 0x1000),
        heap_size=r.number("heap_size", 0),
        reserved=tuple(reserved),
        macros=tuple(r.raw("macros", [])),
        include_dirs=tuple((r.origin("include_dirs").parent / d) for d in r.raw("include_dirs", [])),
        source_dirs=tuple((r.origin("source_dirs").parent / d) for d in r.raw("source_dirs", [])),
        emulator=r.raw("emulator", None),
        programmer=r.raw("programmer", None),
        profiles=profiles,
        layout=layout,
    )


# The core's own handlers in the default start-up code: an IRQ may not take their names.
CORE_HANDLERS = frozenset(
    ("Reset_Handler", "Default_Handler", "NMI_Handler", "HardFault_Handler", "MemManage_Handler",
     "BusFault_Handler", "UsageFault_Handler", "SecureFault_Handler", "SVC_Handler",
     "DebugMon_Handler", "PendSV_Handler", "SysTick_Handler")
)  # fmt: skip


def _irq_handlers(r: _Reader, vector_count: int) -> tuple[tuple[int, str], ...]:
    """``irq_handlers``: handler names in IRQ order (null for an unused IRQ), as a CMSIS
    start-up file lists them."""
    key = "irq_handlers"
    names = r.raw(key, [])
    if len(names) > vector_count - 16:
        raise ConfigError(
            r.origin(key),
            key,
            f"names {len(names)} IRQs but vector_count {vector_count} leaves room for {vector_count - 16}",
            "raise vector_count to 16 + the number of IRQs, or drop the extra names",
        )
    seen: dict[str, int] = {}
    for irq, name in enumerate(names):
        if name is None:
            continue
        if name in CORE_HANDLERS:
            raise ConfigError(
                r.origin(key), f"{key}[{irq}]", f"{name} is a core exception handler", "name the IRQ's own"
            )
        if name in seen:
            raise ConfigError(
                r.origin(key),
                f"{key}[{irq}]",
                f"{name} is already the handler of IRQ {seen[name]}",
                "give every IRQ its own handler name, or null",
            )
        seen[name] = irq
    return tuple((irq, name) for irq, name in enumerate(names) if name is not None)


def _nvm_banks(r: _Reader, flash_start: int, flash_end: int) -> tuple[Region, ...]:
    """Non-flash banks an image may carry records for (nRF UICR); never inside flash."""
    banks = []
    for i, bank in enumerate(r.raw("nvm_banks", [])):
        key = f"nvm_banks[{i}]"
        region = Region(bank["name"], r.number(key, value=bank["start"]), r.number(key, value=bank["size"]))
        if region.start < flash_end and flash_start < region.end:
            raise ConfigError(
                r.origin("nvm_banks"),
                key,
                f"{region.describe()} overlaps the main flash {hex32(flash_start)}..{hex32(flash_end)}",
                "list only memory outside the main flash here",
            )
        banks.append(region)
    return tuple(sorted(banks, key=lambda b: b.start))


def _sectors(r: _Reader, flash_start: int, flash_end: int) -> tuple[tuple[int, int], ...]:
    key = "flash.sectors"
    runs = [(r.number(key, value=s), r.number(key, value=z)) for s, z in r.raw(key)]
    file = r.origin(key)
    if not runs:
        raise ConfigError(file, key, "is empty", "give at least [[flash start, sector size]]")
    if runs[0][0] != flash_start:
        raise ConfigError(
            file,
            key,
            f"starts at {hex32(runs[0][0])}, not at the flash start {hex32(flash_start)}",
            "the first entry must be the flash start",
        )
    for i, (start, size) in enumerate(runs):
        end = runs[i + 1][0] if i + 1 < len(runs) else flash_end
        if size == 0:
            raise ConfigError(file, f"{key}[{i}]", "sector size 0")
        if end <= start:
            raise ConfigError(
                file,
                f"{key}[{i}]",
                f"{hex32(start)} is not below the next entry or the flash end",
                "list entries in address order inside flash",
            )
        if (end - start) % size:
            raise ConfigError(
                file,
                f"{key}[{i}]",
                f"{hex32(start)}..{hex32(end)} is not a whole number of {size:#x}-byte sectors",
                "fix the start of the next run",
            )
    return tuple(runs)
