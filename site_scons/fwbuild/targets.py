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
from fwbuild.cores import CoreChoice, CoreError, choose
from fwbuild.errors import ConfigError
from fwbuild.jsonfile import read_json, validate
from fwbuild.paths import not_a_file
from fwbuild.values import ADDRESS_SPACE, ValueParseError, hex32, parse_int

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
    "boot_chain",
)

PROFILES = ("debug", "release")

MAX_INHERITANCE_DEPTH = 64  # levels of inherits from a target to its furthest ancestor
MAX_VECTORS = 16 + 496  # the architecture's limit (ARMv7-M / ARMv8-M): 16 core entries + 496 IRQs
MAX_WRITE_SIZE = 4096  # flash.write_size: a power of two up to a large flash page


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
    core: str  # the core's name in fwbuild.cores.CORES ("cortex-m4f" in a file is cortex-m4 + single)
    fpu: str  # "none" | "single" | "double"
    float_abi: str  # "soft" without an FPU, else "hard" | "softfp"
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
    def core_choice(self) -> CoreChoice:
        return choose(self.core, self.fpu, self.float_abi)

    @property
    def core_flags(self) -> tuple[str, ...]:
        """-mcpu, -mthumb, -mfpu, -mfloat-abi: the same for compile and link, GCC and clang."""
        return self.core_choice.flags

    @property
    def core_label(self) -> str:
        """The core in a word, as `fwbuild targets` lists it: "f" for an FPU (cortex-m4f), and
        its precision where the core may carry either (cortex-m7f-sp, cortex-m7f-dp)."""
        if self.fpu == "none":
            return self.core
        precision = f"-{self.fpu[0]}p" if len(self.core_choice.core.fpus) > 2 else ""
        return f"{self.core}f{precision}" + (",softfp" if self.float_abi == "softfp" else "")

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
    """The targets visible to a project: its own folders first, then the shipped ones.

    Files are read when a name needs them: a build reads the files of its target's chain and
    no other, so a broken file elsewhere in a folder fails only what inherits from it."""

    def __init__(self, dirs: list[Path] | tuple[Path, ...] = (), cache: ReadCache | None = None):
        # located now: missing shipped targets mean a broken install, not a wrong targets_dirs
        self.dirs = tuple(Path(d) for d in dirs) + (shipped.targets_dir(),)
        self.cache = cache
        self._files: dict[str, Path] = {}
        for folder in reversed(self.dirs):  # earlier folders win
            problem = not_a_file(folder, "folder")
            if problem:
                raise ConfigError(folder, None, f"targets {problem}", "check targets_dirs")
            for path in sorted(folder.glob("*.json")):
                if path.name not in SCHEMA_FILES:
                    self._files[path.stem] = path
        self._raw: dict[str, dict[str, Any]] = {}
        self._broken: dict[str, ConfigError] = {}
        self._chains: dict[str, tuple[str, ...]] = {}
        self._resolved: dict[str, Target] = {}

    def file_of(self, name: str) -> Path:
        return self._files[name]

    def all_names(self) -> list[str]:
        return sorted(self._files)

    def public_names(self, skip_broken: bool = False) -> list[str]:
        """Every target that can be built. A file that cannot be read raises its error, or
        with ``skip_broken`` is left out (``broken()`` lists them)."""
        names = self.all_names()
        if skip_broken:
            names = [n for n in names if self._readable(n)]
        return [n for n in names if self.raw(n).get("public", True)]

    def broken(self) -> list[ConfigError]:
        """The first problem of each target file that cannot be read or breaks the schema,
        in name order."""
        return [self._broken[n] for n in self.all_names() if not self._readable(n)]

    def _readable(self, name: str) -> bool:
        try:
            self.raw(name)
        except ConfigError:
            return False
        return True

    def raw(self, name: str) -> dict[str, Any]:
        """The file's own content, schema-checked."""
        if name in self._broken:
            raise self._broken[name]
        if name not in self._raw:
            path = self._files[name]
            try:
                data = read_json(path)
                validate(data, "schema.json", path, self.cache)
            except ConfigError as exc:
                self._broken[name] = exc
                raise
            self._raw[name] = data
        return self._raw[name]

    def unknown_target(self, name: str, context: str | None = None) -> ConfigError:
        public = self.public_names(skip_broken=True)
        import difflib  # only for the message

        close = difflib.get_close_matches(name, public, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(public)}"
        broken = self.broken()
        if broken:
            files = ", ".join(str(exc.file) for exc in broken[:3]) + (", ..." if len(broken) > 3 else "")
            hint += f" ({len(broken)} target file(s) cannot be read and are not listed: {files})"
        return ConfigError(None, context, f"unknown target '{name}'", hint)

    def parents(self, name: str) -> list[str]:
        parents = self.raw(name).get("inherits", [])
        return [parents] if isinstance(parents, str) else list(parents)

    def chain(self, name: str) -> list[str]:
        """Depth-first resolution order, the target itself first: each file once, where the
        walk first meets it. Linear in the files and parent links; at most
        MAX_INHERITANCE_DEPTH levels."""
        known = self._chains.get(name)
        if known is not None:
            return list(known)
        order: list[str] = []
        seen: set[str] = set()
        path: list[str] = []  # from ``name`` to the file being walked
        on_path: set[str] = set()
        pending: list[list[str]] = []  # per file on the path: parents still to walk, reversed

        def enter(current: str) -> None:
            if current in on_path:
                raise ConfigError(
                    self._files[path[-1]],
                    "inherits",
                    f"inheritance cycle {_abbreviate(path + [current])}",
                    "remove one of these parents",
                )
            if current not in self._files:
                raise ConfigError(
                    self._files[path[-1]],
                    "inherits",
                    f"parent '{current}' not found (chain {_abbreviate(path + [current])})",
                    "add targets/" + current + ".json or fix the name",
                )
            if len(path) >= MAX_INHERITANCE_DEPTH:
                raise ConfigError(
                    self._files[name],
                    "inherits",
                    f"the inheritance chain from '{name}' is more than {MAX_INHERITANCE_DEPTH} levels deep "
                    f"({_abbreviate(path + [current])})",
                    f"a target may have at most {MAX_INHERITANCE_DEPTH} levels of parents; "
                    "fold the families into fewer files",
                )
            seen.add(current)
            order.append(current)
            path.append(current)
            on_path.add(current)
            pending.append(list(reversed(self.parents(current))))

        if name not in self._files:
            raise self.unknown_target(name)
        enter(name)
        while pending:
            if not pending[-1]:
                pending.pop()
                on_path.discard(path.pop())
                continue
            parent = pending[-1].pop()
            if parent in seen and parent not in on_path:
                continue  # walked already, with all its ancestors
            enter(parent)
        self._chains[name] = tuple(order)
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
        children = []
        for board in self.public_names(skip_broken=True):
            try:
                if family in self.chain(board):
                    children.append(board)
            except ConfigError:
                continue  # a board with a broken chain is no suggestion
        return children


def _abbreviate(names: list[str], keep: int = 4) -> str:
    """``A -> B -> ... -> Y -> Z`` for a long chain: its start and its end."""
    if len(names) <= 2 * keep + 1:
        return " -> ".join(names)
    skipped = f" -> ... ({len(names) - 2 * keep} more) -> "
    return " -> ".join(names[:keep]) + skipped + " -> ".join(names[-keep:])


# Objects a child target replaces whole instead of key by key: a boot chain is one design.
WHOLE_OBJECTS = frozenset({"boot_chain"})


def _merge_into(merged: dict[str, Sourced], data: dict[str, Any], file: Path, prefix: str) -> None:
    """Flatten objects into dotted keys so that each leaf keeps the file that set it."""
    for key, value in data.items():
        if key in ("inherits", "public"):
            continue
        dotted = prefix + key
        if isinstance(value, dict) and value and dotted not in WHOLE_OBJECTS:
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

    def number(self, key: str, default: Any = ..., value: Any = ..., shown: str | None = None) -> int:
        """The number at ``key`` (or ``value``, found under ``key``), named ``shown`` in
        messages: a non-negative integer below 2**32."""
        raw = self.raw(key, default) if value is ... else value
        shown = shown or key
        try:
            number = parse_int(raw)
        except ValueParseError as exc:
            raise ConfigError(self.origin(key), shown, str(exc)) from None
        if number < 0:
            raise ConfigError(self.origin(key), shown, f"{raw!r} is negative")
        if number >= ADDRESS_SPACE:
            raise ConfigError(
                self.origin(key),
                shown,
                f"{number:#x} lies beyond the 32-bit address space of a Cortex-M (0..0xFFFFFFFF)",
                "give an address or size below 4 GiB",
            )
        return number

    def span(self, key: str, name: str, start: int, size: int, start_key: str, size_key: str) -> Region:
        """A memory range: not empty, and ending inside the 32-bit address space."""
        if size == 0:
            raise ConfigError(self.origin(key), size_key, "is 0", f"give the size of {name}")
        region = Region(name, start, size)
        if region.end > ADDRESS_SPACE:
            raise ConfigError(
                self.origin(key),
                size_key,
                f"{name} {hex32(start)} + {size:#x} bytes ends at {region.end:#x}, beyond the 32-bit "
                "address space of a Cortex-M (its last address is 0xFFFFFFFF)",
                f"check {start_key} and {size_key}",
            )
        return region


def _build_target(
    name: str,
    file: Path,
    chain: tuple[str, ...],
    merged: dict[str, Sourced],
    overrides: dict[str, Sourced],
) -> Target:
    r = _Reader(name, file, merged)
    try:
        cpu = choose(r.raw("core"), r.raw("fpu", None), r.raw("float_abi", None))
    except CoreError as exc:
        raise ConfigError(
            r.origin(exc.key if r.has(exc.key) else "core"), exc.key, exc.problem, exc.fix
        ) from None
    flash_start = r.number("flash.start")
    flash_size = r.number("flash.size")
    flash = r.span("flash.size", "flash", flash_start, flash_size, "flash.start", "flash.size")
    sectors = _sectors(r, flash_start, flash.end)
    ram = []
    for i, bank in enumerate(r.raw("ram")):
        key = f"ram[{i}]"
        start = r.number("ram", value=bank["start"], shown=f"{key}.start")
        size = r.number("ram", value=bank["size"], shown=f"{key}.size")
        ram.append(r.span("ram", bank["name"], start, size, f"{key}.start", f"{key}.size"))
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
    nvm = _nvm_banks(r, flash)
    _no_overlaps(r, flash, ram, nvm)
    write_size = r.number("flash.write_size", 4)
    smallest_sector = min(size for _, size in sectors)
    if write_size & (write_size - 1) or not 1 <= write_size <= min(MAX_WRITE_SIZE, smallest_sector):
        raise ConfigError(
            r.origin("flash.write_size"),
            "flash.write_size",
            f"{write_size} is not a write granularity: it must be a power of two from 1 to "
            f"{min(MAX_WRITE_SIZE, smallest_sector)} (at most {MAX_WRITE_SIZE}, and no larger than the "
            "smallest sector)",
            "give the chip's program unit in bytes, e.g. 4, 8, 16 or 256",
        )
    vector_count = r.number("vector_count")
    if not 16 <= vector_count <= MAX_VECTORS:
        problem = "< 16" if vector_count < 16 else f"> {MAX_VECTORS}, the architecture's maximum"
        raise ConfigError(
            r.origin("vector_count"),
            "vector_count",
            f"{vector_count} {problem} (ARMv7-M/ARMv8-M: 16 core entries + at most {MAX_VECTORS - 16} IRQs)",
            "count the 16 core entries plus the chip's IRQs",
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
            r.number("reserved", value=item["offset"], shown=f"{key}.offset"),
            bytes.fromhex(item["bytes"]),
            item.get("description", ""),
        )
        if res.offset + len(res.data) > flash_size:
            raise ConfigError(r.origin("reserved"), key, f"{res.name} lies past the end of flash")
        reserved.append(res)
    stack_size, heap_size = r.number("stack_size", 0x1000), r.number("heap_size", 0)
    main = next(b for b in ram if b.name == main_ram)
    if stack_size + heap_size > main.size:
        key = "heap_size" if r.has("heap_size") and heap_size else "stack_size"
        raise ConfigError(
            r.origin(key),
            key,
            f"stack_size + heap_size ({stack_size + heap_size} bytes) exceed the main RAM bank "
            f"{main.describe()} ({main.size} bytes)",
            "shrink them or pick a larger main_ram",
        )
    profiles: dict[str, dict[str, tuple[str, ...]]] = {}
    for key, src in merged.items():
        parts = key.split(".")
        if parts[0] == "profiles" and len(parts) == 3:  # an empty {} profile sets no flags
            profiles.setdefault(parts[1], {})[parts[2]] = tuple(src.value)
    layout = {k: v for k, v in merged.items() if k in LAYOUT_KEYS}
    layout.update(overrides)
    return Target(
        name=name,
        file=file,
        chain=chain,
        description=r.raw("description", ""),
        core=cpu.core.name,
        fpu=cpu.fpu,
        float_abi=cpu.float_abi,
        vtor=bool(r.raw("vtor", cpu.core.vtor)),
        flash_start=flash_start,
        flash_size=flash_size,
        sectors=sectors,
        write_size=write_size,
        erased_value=erased,
        ram=tuple(sorted(ram, key=lambda b: b.start)),
        main_ram=main_ram,
        nvm=tuple(sorted(nvm, key=lambda b: b.start)),
        vector_count=vector_count,
        irq_handlers=irq_handlers,
        stack_size=stack_size,
        heap_size=heap_size,
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


def _nvm_banks(r: _Reader, flash: Region) -> list[Region]:
    """Non-flash banks an image may carry records for (nRF UICR); never inside flash."""
    banks = []
    for i, bank in enumerate(r.raw("nvm_banks", [])):
        key = f"nvm_banks[{i}]"
        start = r.number("nvm_banks", value=bank["start"], shown=f"{key}.start")
        size = r.number("nvm_banks", value=bank["size"], shown=f"{key}.size")
        region = r.span("nvm_banks", bank["name"], start, size, f"{key}.start", f"{key}.size")
        if region.start < flash.end and flash.start < region.end:
            raise ConfigError(
                r.origin("nvm_banks"),
                key,
                f"{region.describe()} overlaps the main flash {hex32(flash.start)}..{hex32(flash.end)}",
                "list only memory outside the main flash here",
            )
        banks.append(region)
    return banks


def _no_overlaps(r: _Reader, flash: Region, ram: list[Region], nvm: list[Region]) -> None:
    """The flash, the RAM banks and the non-flash banks each have addresses of their own."""
    # (the key that set it, the key to name, what it is, the range); banks in file order
    spans = [("flash.start", "flash.start", "the flash", flash)]
    spans += [("ram", f"ram[{i}]", "RAM bank", bank) for i, bank in enumerate(ram)]
    spans += [("nvm_banks", f"nvm_banks[{i}]", "non-flash bank", bank) for i, bank in enumerate(nvm)]
    spans.sort(key=lambda span: span[3].start)
    reach = None  # of the spans so far, the one that ends last
    for span in spans:
        if reach is not None and span[3].start < reach[3].end:
            blamed, other = (reach, span) if span[2] == "the flash" else (span, reach)
            raise ConfigError(
                r.origin(blamed[0]),
                blamed[1],
                f"{blamed[2]} {blamed[3].describe()} overlaps {other[2]} {other[3].describe()}",
                "give the flash, every RAM bank and every non-flash bank addresses of their own",
            )
        if reach is None or span[3].end > reach[3].end:
            reach = span


def _sectors(r: _Reader, flash_start: int, flash_end: int) -> tuple[tuple[int, int], ...]:
    """The sector map: runs in address order inside flash, each a whole number of sectors,
    the first at the flash start and the last ending at the flash end."""
    key = "flash.sectors"
    runs = []
    for i, (start, size) in enumerate(r.raw(key)):
        runs.append(
            (
                r.number(key, value=start, shown=f"{key}[{i}][0]"),
                r.number(key, value=size, shown=f"{key}[{i}][1]"),
            )
        )
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
        last = i + 1 == len(runs)
        end = flash_end if last else runs[i + 1][0]
        if size == 0:
            raise ConfigError(file, f"{key}[{i}]", "sector size 0", "give the sector size in bytes")
        if start >= flash_end:
            raise ConfigError(
                file,
                f"{key}[{i}]",
                f"{hex32(start)} is not below the next entry or the flash end {hex32(flash_end)} "
                "(flash.start + flash.size)",
                "list only runs inside flash, or fix flash.size",
            )
        if end <= start:
            raise ConfigError(
                file,
                f"{key}[{i}]",
                f"{hex32(start)} is not below the next entry or the flash end ({hex32(end)})",
                "list the runs in address order",
            )
        if (end - start) % size == 0:
            continue
        below = start + (end - start) // size * size
        above = below + size
        if last:
            raise ConfigError(
                file,
                key,
                f"the sector map does not add up to flash.size: its last run ({size:#x}-byte sectors from "
                f"{hex32(start)}) covers {below - flash_start:#x} or {above - flash_start:#x} bytes of flash "
                f"in whole sectors, but flash.size is {flash_end - flash_start:#x}",
                f"fix flash.size (set in {r.origin('flash.size')}) or the sector sizes",
            )
        raise ConfigError(
            file,
            f"{key}[{i}]",
            f"{hex32(start)}..{hex32(end)} is not a whole number of {size:#x}-byte sectors: the next run "
            f"starts inside a sector",
            f"start the next run at {hex32(below)} or {hex32(above)}, or fix this run's sector size",
        )
    return tuple(runs)
