"""Rendering GNU ld scripts from Jinja2 templates and the ``Layout``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fwbuild import shipped
from fwbuild.errors import ConfigError
from fwbuild.layout import Layout, Region

DEFAULT_TEMPLATE = shipped.TEMPLATES.expected() / "gcc_arm.ld.j2"


def linker_context(layout: Layout, program: str = "application") -> dict[str, Any]:
    """What a template sees. ``program`` is the region the program is linked into."""
    rom = layout.application if program == "application" else layout.region(program)
    if rom is None:
        raise ConfigError(None, program, f"the {layout.target} layout has no '{program}' region")
    app = layout.application
    reserved = [
        {"name": r.name, "offset": layout.flash_start + r.offset - rom.start, "data": list(r.data)}
        for r in layout.reserved
        if rom.start <= layout.flash_start + r.offset < rom.end
    ]
    return {
        "target": layout.target,
        "program": program,
        "rom": _region(rom),
        "ram": [_region(b) for b in layout.ram],
        "main_ram": _region(layout.main_ram_bank),
        "vector_size": layout.vector_size,
        "reserved": reserved,
        "stack_size": layout.stack_size,
        "heap_size": layout.heap_size,
        "regions": [_region(r) for r in layout.regions],
        "app_start": app.start,
        "app_size": app.size,
    }


def context_signature(context: dict[str, Any]) -> str:
    """Stable, path-free text of a context: the build dependency of the rendered script."""
    return json.dumps(context, sort_keys=True)


def render_linker(context: dict[str, Any], template: Path | str = DEFAULT_TEMPLATE) -> str:
    """Render with StrictUndefined: a missing variable is an error, never an empty string."""
    import jinja2

    template = Path(template)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )

    def hex_filter(value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()  # the message names the missing variable
        return f"0x{value:08X}"

    env.filters["hex"] = hex_filter
    try:
        return env.get_template(template.name).render(**context)
    except jinja2.TemplateNotFound:
        raise ConfigError(
            template, None, "linker template not found", "check linker_template in fwbuild.json"
        ) from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            template,
            None,
            f"uses an undefined variable ({exc.message})",
            "the variables are listed in docs/linker-templates.md",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(template, f"line {exc.lineno}", f"template syntax error: {exc.message}") from None


def _region(region: Any) -> dict[str, Any]:
    return {"name": region.name, "start": region.start, "size": region.size}


__all__ = ["DEFAULT_TEMPLATE", "Region", "context_signature", "linker_context", "render_linker"]
