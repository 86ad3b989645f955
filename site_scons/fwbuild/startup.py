"""fwbuild's default Cortex-M start-up code: a C file rendered for a target.

A firmware repo needs no start-up code of its own: the build compiles this one into an
archive that the linker opens only when the program's own objects leave ``Reset_Handler``
undefined (docs/startup.md has the contract for bringing your own).
"""

from __future__ import annotations

import json
from typing import Any

from fwbuild.errors import ConfigError
from fwbuild.linker import DEFAULT_TEMPLATE
from fwbuild.targets import Target

STARTUP_TEMPLATE = DEFAULT_TEMPLATE.parent / "startup_cortexm.c.j2"
# The symbol whose absence makes the linker take the default start-up from its archive.
ENTRY_SYMBOL = "Reset_Handler"


def startup_context(target: Target) -> dict[str, Any]:
    """What the template sees: the vector table's size, each IRQ's handler name and whether
    the core has VTOR."""
    names = dict(target.irq_handlers)
    return {
        "target": target.name,
        "vector_count": target.vector_count,
        "irq_handlers": [names.get(irq) for irq in range(target.vector_count - 16)],
        "vtor": target.vtor,
    }


def startup_signature(context: dict[str, Any]) -> str:
    """Stable text of a context: the build dependency of the rendered file."""
    return json.dumps(context, sort_keys=True)


def render_startup(context: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(STARTUP_TEMPLATE.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        return env.get_template(STARTUP_TEMPLATE.name).render(**context)
    except jinja2.TemplateNotFound:
        raise ConfigError(
            STARTUP_TEMPLATE, None, "the default start-up template is missing", "reinstall fwbuild"
        ) from None
