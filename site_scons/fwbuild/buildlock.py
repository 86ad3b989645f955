"""One build at a time per build folder, as Cargo does: the second build waits, and says so.

A folder's lock is ``flock`` on a dot-file beside it (``build/.fwbuild-lock-K64F`` for
``build/K64F``, next to the graph facts). The kernel drops a ``flock`` when its holder exits,
however it exits (SIGKILL included), so a killed build's lock is taken over at once: no pid
file to judge, no timeout. The holder writes its pid into the file, only for the waiting
message. The file descriptor is close-on-exec: a compiler or emulator the build starts never
holds the lock after it.

A process may hold several folders' locks (``target=all``). It takes them in sorted order, and
when it must wait for one it first gives back those it holds that sort after it, and takes them
again afterwards; so two processes never wait for each other.

``locked_folder`` is a short lock on a folder itself (``flock`` on the directory), for a file
several builds update in turn, such as SCons' signature database at the project top.

Without ``fcntl`` (Windows) nothing is locked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_PREFIX = ".fwbuild-lock-"


def lock_file(folder: str | os.PathLike[str]) -> str:
    """The lock file of a build folder: a dot-file beside it."""
    parent, name = os.path.split(os.path.abspath(folder))
    return os.path.join(parent, LOCK_PREFIX + name)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class FolderLocks:
    """The build-folder locks one process holds, until it exits or calls ``release``."""

    def __init__(self, announce: Callable[[str], None] = _stderr):
        self.announce = announce
        self._held: dict[str, int] = {}  # lock file -> its open, locked descriptor
        self._labels: dict[str, str] = {}
        self._announced: set[str] = set()

    def held(self) -> list[str]:
        return sorted(self._held)

    def hold(self, folders: Iterable[tuple[str | os.PathLike[str], str]]) -> None:
        """Lock every folder of (folder, label): the label names it in the waiting message
        (``build/K64F``). Returns once all are held; folders already held are kept."""
        if fcntl is None:
            return
        wanted = {}
        for folder, label in folders:
            wanted[lock_file(folder)] = label
        for path in sorted(wanted):
            if path in self._held:
                continue
            self._labels[path] = wanted[path]
            fd = _open_locked(path, block=False)
            if fd is not None:
                self._own(path, fd)
                continue
            # We must wait: never while holding a lock that sorts after this one.
            later = [p for p in sorted(self._held) if p > path]
            for p in later:
                os.close(self._held.pop(p))
            for p in [path, *later]:
                self._wait(p)

    def _wait(self, path: str) -> None:
        fd = _open_locked(path, block=False)
        if fd is None:
            if path not in self._announced:
                self._announced.add(path)
                pid = holder(path)
                self.announce(
                    f"waiting for another build of {self._labels[path]} to finish"
                    + (f" (pid {pid})" if pid else "")
                    + "..."
                )
            fd = _open_locked(path, block=True)
        self._own(path, fd)

    def _own(self, path: str, fd: int) -> None:
        self._held[path] = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only for the message

    def release(self) -> None:
        for path in list(self._held):
            os.close(self._held.pop(path))


def _open_locked(path: str, block: bool) -> int | None:
    """An open descriptor of ``path`` holding its exclusive lock, or None if another process
    holds it and ``block`` is false."""
    assert fcntl is not None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # The lock is on the file we opened: if someone removed or replaced it meanwhile
        # (rm -rf build), a newcomer would lock another file, so start again with that one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def holder(path: str) -> int | None:
    """The pid the last holder of a lock file wrote (it may have exited since)."""
    try:
        with open(path, "rb") as f:
            return int(f.read(32).split()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def locked_folder(folder: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive lock on a folder for the length of a ``with`` block."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
