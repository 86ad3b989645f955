"""fwbuild: bootloader-ready Cortex-M firmware builds.

This package is the pure core: targets, layout, linker-script rendering, image assembly,
headers and signing. It never imports SCons; the SCons tool in ``site_tools/fwbuild.py``
turns it into builders, and ``fwbuild.cli`` into a command line.
"""

from __future__ import annotations

__version__ = "0.1.0"  # the only place: pyproject.toml reads it, build-info.json and --version print it


def scons_toolpath() -> str:
    """The folder holding the SCons tool, for ``Environment(toolpath=[...])``."""
    from fwbuild import shipped

    return str(shipped.tool_dir())
