"""The error family. ``str(e)`` is the whole message a user sees: what, where, how to fix."""

from __future__ import annotations


class FwbuildError(Exception):
    """A user error: bad input, not a bug. Reported as one paragraph, exit status 2."""


class ConfigError(FwbuildError):
    """A target file or project config is wrong: names the file and the key."""

    def __init__(self, file: object, key: str | None, problem: str, fix: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.problem = problem
        self.fix = fix
        where = ": ".join(part for part in (self.file, key) if part)
        text = f"{where}: {problem}" if where else problem
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class LayoutError(ConfigError):
    """The regions computed from a valid config do not fit the chip (names the key to move)."""


class ToolchainError(FwbuildError):
    """The cross compiler or another tool is missing or failed."""


class ImageError(FwbuildError):
    """A built or given image is misplaced, too big or malformed."""


class HookError(FwbuildError):
    """A post-build hook failed; names the hook."""
