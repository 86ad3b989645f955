"""Numbers in config files: integers, or strings with hex/decimal and simple arithmetic.

Mbed configs write sizes as ``"0x8000"`` or ``"(40*1024)"``. We parse those with Python's
``ast`` and evaluate only integer literals, + - * / // % << >> and parentheses: never ``eval``.
A text longer than MAX_TEXT characters is refused before it is parsed, and so is an
expression nested deeper than MAX_DEPTH: neither the parser nor the evaluator can be made
to exhaust the stack or to work on numbers thousands of digits long.
"""

from __future__ import annotations

import operator
import re
from typing import Any

# Most values are plain literals; ast (~3 ms to import) is only needed for arithmetic.
_LITERAL = re.compile(r"(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0|[1-9][0-9_]*)\Z")
# Longer than any address expression a person writes; short enough that int() and ast stay cheap.
MAX_TEXT = 200
MAX_DEPTH = 64  # operations inside one another (a + b + c is two deep)
ADDRESS_SPACE = 1 << 32  # every Cortex-M address and size lies below it

_BINOPS = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mult": operator.mul,
    "FloorDiv": operator.floordiv,
    "Mod": operator.mod,
    "LShift": operator.lshift,
    "RShift": operator.rshift,
}


class ValueParseError(ValueError):
    """Not a number we accept; the message says why."""


def parse_int(value: object) -> int:
    """Return the integer a config value denotes, or raise ValueParseError."""
    if isinstance(value, bool):
        raise ValueParseError(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueParseError(f'expected a number or a string like "0x8000", got {value!r}')
    text = value.strip()
    if not text:
        raise ValueParseError("expected a number, got an empty string")
    if len(text) > MAX_TEXT:
        raise ValueParseError(
            f"a text of {len(text)} characters ({text[:20]!r}...) is not a number we read: "
            f"a number or expression has at most {MAX_TEXT} characters"
        )
    if _LITERAL.match(text):
        return int(text, 0)
    import ast

    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte
        raise ValueParseError(f"{value!r} is not a number or arithmetic expression") from None
    return _evaluate(tree.body, value, 0)


def _evaluate(node: Any, source: str, depth: int) -> int:
    import ast

    if depth > MAX_DEPTH:
        raise ValueParseError(
            f"{source!r} is too deep (more than {MAX_DEPTH} operations inside one another); simplify it"
        )
    depth += 1
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op).__name__ in _BINOPS:
        left = _evaluate(node.left, source, depth)
        right = _evaluate(node.right, source, depth)
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            raise ValueParseError(f"{source!r} divides by zero")
        if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right < 64:
            raise ValueParseError(f"{source!r} shifts by {right}")
        return _BINOPS[type(node.op).__name__](left, right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        # Mbed writes "(1024/4)"; accept true division only when it is exact.
        left = _evaluate(node.left, source, depth)
        right = _evaluate(node.right, source, depth)
        if right == 0 or left % right:
            raise ValueParseError(f"{source!r} does not divide exactly")
        return left // right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        operand = _evaluate(node.operand, source, depth)
        return operand if isinstance(node.op, ast.UAdd) else -operand
    raise ValueParseError(f"{source!r} is not a number: use integers, hex (0x...), + - * / and parentheses")


def hex32(value: int) -> str:
    """Format an address the way our messages and reports show it."""
    return f"0x{value:08X}"


def size_text(n: int) -> str:
    """A byte count as people write it: 2 MiB, 128 KiB, 512 B."""
    if n and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"
