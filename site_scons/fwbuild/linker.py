"""Rendering GNU ld scripts from Jinja2 templates and the ``Layout``, and saying what an
``ld`` failure means in the layout's terms."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwbuild import shipped
from fwbuild.errors import ConfigError, FwbuildError, ImageError
from fwbuild.values import hex32

if TYPE_CHECKING:  # a Ninja build's render step reads its context from a file: no Layout
    from fwbuild.layout import Layout

DEFAULT_TEMPLATE = shipped.TEMPLATES.expected() / "gcc_arm.ld.j2"
VARIABLES_DOC = "the variables are listed in docs/linker-templates.md"


def linker_context(layout: Layout, program: str = "application") -> dict[str, Any]:
    """What a template sees. ``program`` is the region the program is linked into: a slot
    ("application", "bootloader", "bootloader.1", ...) or another flash region."""
    from fwbuild.chain import STATE_REGION

    rom = layout.program_region(program)
    app = layout.application
    reserved = [
        {"name": r.name, "offset": layout.flash_start + r.offset - rom.start, "data": list(r.data)}
        for r in layout.reserved
        if rom.start <= layout.flash_start + r.offset < rom.end
    ]
    # Without VTOR, the forwarding word at the start of the main bank is no program's RAM.
    ram = layout.program_ram
    context = {
        "target": layout.target,
        "program": program,
        "rom": _region(rom),
        "ram": [_region(b) for b in ram],
        "main_ram": _region(next(b for b in ram if b.name == layout.main_ram)),
        "vector_size": layout.vector_size,
        "reserved": reserved,
        "stack_size": layout.stack_size,
        "heap_size": layout.heap_size,
        "regions": [_region(r) for r in layout.regions],
        "app_start": app.start,
        "app_size": app.size,
        "slot": None,
    }
    slot = layout.slot(program) if layout.mode == "chain" else None
    if slot is not None:
        # A stage sees its own slots, the next stage's (which it checks and boots) and the
        # state region: a change elsewhere in the chain does not relink it.
        index = next(i for i, st in enumerate(layout.stages) if st.name == slot.stage)
        seen = {s.region for st in layout.stages[index : index + 2] for s in st.slots}
        context["regions"] = [_region(r) for r in layout.regions if r.name in seen or r.name == STATE_REGION]
        context["app_start"], context["app_size"] = rom.start, rom.size
        context["slot"] = {
            "stage": slot.stage,
            "index": slot.index,
            "start": slot.start,
            "size": slot.size,
            "header_size": slot.header_size,
        }
    return context


def context_signature(context: dict[str, Any]) -> str:
    """Stable, path-free text of a context: the build dependency of the rendered script."""
    return json.dumps(context, sort_keys=True)


@dataclass(frozen=True)
class Rendered:
    """A rendered script and every other file the template engine looked for while
    rendering it: ``{name: found}``, names relative to the template's folder (as Jinja2
    names them). The render depends on exactly these files, whether the names were literal
    (``{% include "x.ld" %}``) or computed (``{% include program ~ ".ld" %}``), and on the
    absence of those not found (``{% include ["board.ld", "default.ld"] %}`` takes the
    first that exists)."""

    text: str
    templates: dict[str, bool] = field(default_factory=dict)


def render_linker(context: dict[str, Any], template: Path | str = DEFAULT_TEMPLATE) -> str:
    """Render with StrictUndefined: a missing variable is an error, never an empty string."""
    return render_linker_templates(context, template).text


def render_linker_templates(
    context: dict[str, Any], template: Path | str = DEFAULT_TEMPLATE, cache: Path | str | None = None
) -> Rendered:
    """``render_linker`` that also tells which files the template loaded (``Rendered``).

    Every failure is one ConfigError naming the file at fault and its line: a missing
    include names the file that includes it; a syntax error in an included file names that
    file (and where it is included from); an error while rendering (an undefined variable,
    a filter given the wrong type, an exception from an expression) names the template line.

    ``cache``: a folder for Jinja2's compiled templates, keyed by each file's path and
    checked against its text (compiling the shipped template costs 20-30 ms a render;
    ``target=all`` renders 31 times, a Ninja build once per process).
    """
    import jinja2

    template = Path(template)
    loader = _recording_loader(template.parent, template.name)
    bytecode_cache = None
    if cache is not None:
        from jinja2 import FileSystemBytecodeCache

        os.makedirs(cache, exist_ok=True)
        bytecode_cache = FileSystemBytecodeCache(str(cache))
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=bytecode_cache,
    )
    env.filters["hex"] = _hex_filter
    try:
        text = env.get_template(template.name).render(**context)
    except FwbuildError:
        raise
    except Exception as exc:  # the template is user input: any failure is the template's
        raise _template_error(exc, template, loader) from None
    return Rendered(text, dict(sorted(loader.looked.items())))


def _hex_filter(value: Any) -> str:
    import jinja2
    from jinja2.exceptions import FilterArgumentError

    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # the message names the missing variable
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FilterArgumentError(
            f"the hex filter needs a non-negative integer, not the {type(value).__name__} {value!r}"
        )
    return f"0x{value:08X}"


def _recording_loader(folder: Path, top: str) -> Any:
    """Jinja2's FileSystemLoader on the template's folder that remembers every name it is
    asked for, found or not (``looked``), and the files it read (``files``)."""
    import jinja2
    from jinja2.loaders import split_template_path

    class RecordingLoader(jinja2.FileSystemLoader):
        def __init__(self) -> None:
            super().__init__(str(folder))
            self.folder = folder
            self.looked: dict[str, bool] = {}  # other templates, by their name in the folder
            self.files: dict[str, str] = {}  # file name as Jinja2 reports it -> template name

        def get_source(self, environment: Any, template: str) -> Any:
            relative = "/".join(split_template_path(template))  # refuses "..": nothing to record
            try:
                source, filename, uptodate = super().get_source(environment, template)
            except jinja2.TemplateNotFound:
                if relative != top:
                    self.looked.setdefault(relative, False)
                raise
            if relative != top:
                self.looked[relative] = True
            self.files[filename] = relative
            return source, filename, uptodate

    return RecordingLoader()


def _template_error(exc: Exception, template: Path, loader: Any) -> ConfigError:
    import jinja2

    frames = _template_frames(exc, loader)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or str(template)
        return ConfigError(
            where, f"line {exc.lineno}", f"template syntax error: {exc.message}{_via(frames, where)}"
        )
    if isinstance(exc, jinja2.TemplateNotFound):
        if not frames:  # the template named by linker_template itself
            return ConfigError(
                template, None, "linker template not found", "check linker_template in fwbuild.json"
            )
        names = exc.templates if isinstance(exc, jinja2.TemplatesNotFound) else [exc.name]
        shown = " or ".join(repr(str(n)) for n in names)
        file, line = frames[-1]
        return ConfigError(
            file,
            f"line {line}",
            f"includes {shown}, which is not in {loader.folder}{_via(frames, file)}",
            "create the file there, or correct the name (names are relative to the folder of the "
            "template named by linker_template; '..' is refused)",
        )
    file, line = frames[-1] if frames else (str(template), None)
    at = f" on line {line}" if line else ""
    context = _via(frames, file) if not isinstance(exc, RecursionError) else ""
    if isinstance(exc, jinja2.UndefinedError):
        return ConfigError(
            file, None, f"uses an undefined variable ({exc.message}){at}{context}", VARIABLES_DOC
        )
    if isinstance(exc, jinja2.TemplateError):
        problem = exc.message or type(exc).__name__
    elif isinstance(exc, RecursionError):
        problem = "includes or calls itself without end"
    else:
        problem = f"{type(exc).__name__}: {exc}"
    return ConfigError(
        file,
        f"line {line}" if line else None,
        f"{problem}{context}",
        "fix the template; docs/linker-templates.md lists the variables and filters",
    )


def _template_frames(exc: BaseException, loader: Any) -> list[tuple[str, int]]:
    """(file, line) of every template frame of the traceback, outermost first: Jinja2
    rewrites template code's frames to carry the template's file name and line."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in loader.files:
            frames.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _via(frames: list[tuple[str, int]], failing: str) -> str:
    """Where the failing file was reached from: the nearest line of each other file, up to
    three of them (a template that includes itself would list thousands)."""
    chain: list[tuple[str, int]] = []
    for file, line in frames:
        if file == failing:
            continue
        if chain and chain[-1][0] == file:
            chain[-1] = (file, line)  # a macro or block of the same file: keep the nearest
        else:
            chain.append((file, line))
    if not chain:
        return ""
    shown = ", ".join(f"{Path(file).name} line {line}" for file, line in reversed(chain[-3:]))
    return f" (reached from {shown}{', ...' if len(chain) > 3 else ''})"


# -- ld's own messages -----------------------------------------------------------------
_OVERFLOW_RE = re.compile(r"region [`'\"]?(?P<region>[\w.$]+)[`'\"]? overflowed by (?P<bytes>\d+) bytes?")
_NO_FIT_RE = re.compile(
    r"section [`'\"]?(?P<section>[\w.$]+)[`'\"]? will not fit in region [`'\"]?(?P<region>[\w.$]+)"
)
# lld (toolchain=llvm) says both on one line, the total so far growing with each section:
# "section '.data' will not fit in region 'FLASH': overflowed by 6564 bytes".
_LLD_NO_FIT_RE = re.compile(
    r"section '(?P<section>[\w.$]+)' will not fit in region '(?P<region>[\w.$]+)': "
    r"overflowed by (?P<bytes>\d+) bytes?"
)
_LD_SUMMARY_RE = re.compile(
    r"collect2(?:\.exe)?: error: ld returned \d+ exit status|"
    r"clang(?:-\d+)?: error: ld\.lld command failed|ld\.lld: error: too many errors emitted"
)


def memory_region_name(bank: str) -> str:
    """The MEMORY name the shipped template gives a RAM bank: upper case, other characters
    than letters, digits and ``_`` become ``_``, never starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", bank).upper()
    return f"_{name}" if name[:1].isdigit() else name


@dataclass(frozen=True)
class Overflow:
    region: str  # the MEMORY region, as ld names it
    bytes: int
    sections: tuple[str, ...]


def ld_overflows(text: str) -> tuple[list[Overflow], list[str]]:
    """ld's "region `FLASH' overflowed by N bytes" (with the sections that did not fit), or
    lld's "section ... will not fit in region ...: overflowed by N bytes", and the lines of
    ``text`` that say something else."""
    sections: dict[str, list[str]] = {}
    found: dict[str, int] = {}
    other = []
    for line in text.splitlines():
        lld = _LLD_NO_FIT_RE.search(line)
        if lld:
            found[lld["region"]] = max(found.get(lld["region"], 0), int(lld["bytes"]))
            names = sections.setdefault(lld["region"], [])
            if lld["section"] not in names:
                names.append(lld["section"])
            continue
        overflow, no_fit = _OVERFLOW_RE.search(line), _NO_FIT_RE.search(line)
        if overflow:
            found[overflow["region"]] = max(found.get(overflow["region"], 0), int(overflow["bytes"]))
        elif no_fit:
            names = sections.setdefault(no_fit["region"], [])
            if no_fit["section"] not in names:
                names.append(no_fit["section"])
        elif line.strip() and not _LD_SUMMARY_RE.search(line):
            other.append(line)
    overflows = [Overflow(name, size, tuple(sections.get(name, ()))) for name, size in found.items()]
    return overflows, other


def overflow_error(
    elf: str, overflow: Overflow, layout: Layout, program: str, keys: dict[str, Any] | None = None
) -> FwbuildError:
    """The error for one overflowed region, in the layout's terms: the region, the size the
    program needs, the key that sets its size (``keys``: the target's layout keys, each
    with ``.value`` and ``.file``) and what to change it to."""
    from fwbuild.sectors import SectorMap

    keys = keys or {}
    what = f" ({', '.join(overflow.sections)} did not fit)" if overflow.sections else ""
    ram = next((b for b in layout.program_ram if memory_region_name(b.name) == overflow.region), None)
    if ram is not None:
        return ImageError(
            f"{elf}: the {program} needs {overflow.bytes} bytes more RAM than RAM bank {ram.describe()} "
            f"({ram.size} bytes) holds: .data, .bss, .noinit, the heap ({layout.heap_size} bytes) and "
            f"the stack ({layout.stack_size} bytes) together need {ram.size + overflow.bytes}{what}; "
            "shrink static data, or lower heap_size/stack_size in a target file of your own "
            "(docs/adding-a-target.md)"
        )
    rom = layout.application if program == "application" else layout.region(program)
    if rom is None or overflow.region != "FLASH":
        return ImageError(
            f"{elf}: the linker's region {overflow.region} overflowed by {overflow.bytes} bytes{what}; "
            "it is not a region of the layout: check the linker template's MEMORY"
        )
    need = rom.size + overflow.bytes
    head = (
        f"{elf}: the {program} needs {need} bytes ({need:#x}) of flash but its region "
        f"{rom.describe()} holds {rom.size} ({rom.size:#x}): {overflow.bytes} bytes too many{what}"
    )
    shrink = "or shrink the code (profile=release builds with -Os)"
    end = SectorMap(layout.sectors, layout.flash_end).ceil(rom.start + need)  # sector-aligned
    if program == "bootloader":
        return _key_error(
            head, keys, "bootloader_size", f"set it to at least {end - layout.flash_start:#x}, {shrink}"
        )
    if program != "application":
        return ImageError(f"{head}; give the {program} region more room in the layout, {shrink}")
    if layout.mode == "unmanaged":
        size_key, start_key, size = "mbed_app_size", "mbed_app_start", need
    else:
        size_key, size = "restrict_size", end - rom.start
        start_key = next(
            (k for k in ("app_offset", "header_offset", "bootloader_size") if k in keys), "app_offset"
        )
    if rom.start + need > layout.flash_end or size_key not in keys:
        if rom.start == layout.flash_start:
            return ImageError(
                f"{head}; that is more than the whole flash of {layout.target} "
                f"({layout.flash_size} bytes): shrink the code (profile=release builds with -Os)"
            )
        return _key_error(
            head,
            keys,
            start_key,
            f"the flash from {hex32(rom.start)} to its end holds only {layout.flash_end - rom.start} "
            f"bytes: start the application lower, {shrink}",
        )
    fix = f"set it to at least {size:#x}"
    later = [r for r in layout.regions if r.start >= rom.end and r.name != "post_application"]
    if later and rom.start + size > later[0].start:
        nxt = later[0]
        if nxt.name == "candidate":
            offset = rom.start + size - layout.flash_start
            fix += (
                f" and candidate_offset to at least {offset:#x} (the candidate starts at {hex32(nxt.start)})"
            )
        else:
            fix += f", which reaches into {nxt.describe()}: move that region or start the application lower"
    return _key_error(head, keys, size_key, f"{fix}, {shrink}")


def _key_error(head: str, keys: dict[str, Any], key: str, fix: str) -> ImageError:
    """``head``, then the key to change (with its value and file when it is set) and how."""
    source = keys.get(key)
    where = f"{key} (now {source.value!r}, set in {source.file})" if source is not None else key
    return ImageError(f"{head}; {where}: {fix}")


def _region(region: Any) -> dict[str, Any]:
    return {"name": region.name, "start": region.start, "size": region.size}


__all__ = [
    "DEFAULT_TEMPLATE",
    "Rendered",
    "context_signature",
    "ld_overflows",
    "linker_context",
    "overflow_error",
    "render_linker",
    "render_linker_templates",
]
