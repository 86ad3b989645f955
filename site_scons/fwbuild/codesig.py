"""The signature of a build step written in Python: what its code does, as bytes.

A build tool reruns a step when its signature changes. This one covers the bytecode, the
names, the constants and nested functions' code, and leaves out what does not change the
step's result: the file, the line numbers, the docstring and the local variables' names.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable


def code_signature(function: Callable) -> bytes:
    """``b"<name> <sha256>"``, the same in every interpreter run and checkout folder."""
    digest = hashlib.sha256()
    _feed(digest, function.__code__, function.__doc__)
    return f"{function.__name__} {digest.hexdigest()}".encode()


def _feed(digest, code: types.CodeType, docstring: str | None = None) -> None:
    digest.update(repr((code.co_argcount, len(code.co_varnames), code.co_names)).encode())
    digest.update(code.co_code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed(digest, const)
        elif docstring is None or const is not docstring:
            digest.update(_const_text(const).encode())


def _const_text(const: object) -> str:
    """repr() with frozensets in sorted order: their iteration order changes with the
    interpreter's hash seed, and a signature must not."""
    if isinstance(const, frozenset):
        return "frozenset(" + ",".join(sorted(_const_text(c) for c in const)) + ")"
    if isinstance(const, tuple):
        return "(" + ",".join(_const_text(c) for c in const) + ")"
    return repr(const)
