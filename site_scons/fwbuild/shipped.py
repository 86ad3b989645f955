"""Where the files fwbuild ships live: target files and schemas, linker templates, the SCons
tool, the example firmware sources.

An installed fwbuild carries them inside the package (``fwbuild/targets``,
``fwbuild/templates``, ``fwbuild/site_tools``, ``fwbuild/example``; pyproject.toml maps them
there). A checkout used in place (an editable install, or SCons putting the checkout's
``site_scons/`` on sys.path) has them at the checkout's top instead (``targets/``,
``templates/``, ``site_scons/site_tools/``, ``example_project/``). No other module knows
either place.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from fwbuild.errors import FwbuildError

PACKAGE_DIR = Path(__file__).resolve().parent


class ShippedFileMissing(FwbuildError):
    """A file fwbuild ships is in neither place: the install is broken or incomplete."""


class Shipped(NamedTuple):
    """One folder fwbuild ships: ``installed`` below the package, ``checkout`` below a
    checkout's top, and a ``marker`` file that every complete copy of it holds. (A
    NamedTuple: every SCons run imports this module, and a frozen dataclass costs 0.7 ms
    to create, a NamedTuple 0.1 ms.)"""

    what: str
    installed: str
    checkout: str
    marker: str

    def places(self, package_dir: Path | None = None) -> tuple[Path, ...]:
        """Where to look, in order, for the package in ``package_dir`` (default: this one).
        The checkout's place counts only for a package that sits in a checkout's
        site_scons/: above an installed package lies no checkout."""
        package = package_dir or PACKAGE_DIR
        places = [package / self.installed]
        if package.parent.name == "site_scons":
            places.append(package.parent.parent / self.checkout)
        return tuple(places)

    def find(self, package_dir: Path | None = None) -> Path | None:
        """The first place that holds the marker, or None."""
        return next((p for p in self.places(package_dir) if (p / self.marker).is_file()), None)

    def locate(self, package_dir: Path | None = None) -> Path:
        """The folder; raises ShippedFileMissing when no place holds it."""
        found = self.find(package_dir)
        if found is None:
            raise self._missing(self.marker, package_dir)
        return found

    def file(self, name: str, package_dir: Path | None = None) -> Path:
        """A file in the folder; raises ShippedFileMissing when it is not there."""
        path = self.locate(package_dir) / name
        if not path.is_file():
            raise self._missing(name, package_dir)
        return path

    def expected(self, package_dir: Path | None = None) -> Path:
        """The folder if it is somewhere, else where an installed fwbuild keeps it. For
        module constants, which must not fail on import: reading through locate() or file()
        then reports what is missing."""
        return self.find(package_dir) or self.places(package_dir)[0]

    def _missing(self, name: str, package_dir: Path | None) -> ShippedFileMissing:
        looked = " and ".join(str(p / name) for p in self.places(package_dir))
        return ShippedFileMissing(
            f"fwbuild's {self.what} are missing (looked for {looked}); the installation is "
            "incomplete: reinstall fwbuild (pip install --force-reinstall fwbuild)"
        )


TARGETS = Shipped("target files and JSON schemas", "targets", "targets", "schema.json")
TEMPLATES = Shipped("linker-script templates", "templates", "templates", "gcc_arm.ld.j2")
TOOL = Shipped("SCons tool files", "site_tools", "site_scons/site_tools", "fwbuild.py")
EXAMPLE = Shipped("example firmware sources", "example", "example_project", "app/main.c")


def targets_dir() -> Path:
    """The shipped targets folder (target and family files, schema.json, project-schema.json)."""
    return TARGETS.locate()


def templates_dir() -> Path:
    """The folder of the shipped Jinja2 linker-script templates."""
    return TEMPLATES.locate()


def tool_dir() -> Path:
    """The folder holding the SCons tool module fwbuild.py, for ``toolpath=[...]``."""
    return TOOL.locate()


def example_dir() -> Path:
    """The folder holding the example firmware's app/, bootloader/ and common/ sources."""
    return EXAMPLE.locate()
