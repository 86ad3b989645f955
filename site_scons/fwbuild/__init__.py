"""fwbuild: bootloader-ready Cortex-M firmware builds.

This package is the pure core: targets, layout, linker-script rendering, image assembly,
headers and signing. It never imports SCons; the SCons tool in ``site_tools/fwbuild.py``
turns it into builders, and ``fwbuild.cli`` into a command line.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def scons_toolpath() -> str:
    """The folder holding the SCons tool, for ``Environment(toolpath=[...])``."""
    return str(Path(__file__).resolve().parent.parent / "site_tools")
