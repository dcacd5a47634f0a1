"""A formula a clerk typed into an input cell: plain arithmetic on numbers ("=12+3",
"=(10-2)*1.5") is computed by a small parser (never ``eval``) and read as if the result had been
typed; anything else (cell references, functions) is a finding at its cell.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

from bot.sheets.parsed import Parsed, _shown
from bot.sheets.values import _EXPECTED, MAX_NUMBER, _typed_number, _Unreadable

_FORMULA_TOKEN = re.compile(r"\s*(?:([0-9]+(?:\.[0-9]+)?)|([-+*/()]))")
_MAX_FORMULA = 200  # characters: longer arithmetic is not what a clerk types into one cell


def parse_typed_formula(raw, col_type: str) -> Parsed:
    """A formula a clerk typed into an input cell: its result when it is plain arithmetic on
    numbers (``=12+3``), else a finding asking for a number (or for text, in a text cell)."""
    if col_type in _EXPECTED:
        number = evaluate_arithmetic(str(raw))
        if number is not None:
            return _typed_number(number, str(raw), col_type)
        return Parsed(None, f'Ô đang chứa công thức "{_shown(str(raw))}": hãy nhập số, không nhập công thức')
    return Parsed(
        None,
        f'Ô đang chứa công thức "{_shown(str(raw))}": hãy nhập nội dung, không nhập công thức '
        f"(nếu nội dung bắt đầu bằng dấu =, hãy gõ thêm dấu ' ở đầu)",
    )


def evaluate_arithmetic(formula: str) -> Decimal | None:
    """``=12+3*(4-1)/2`` → its value; None for anything but numbers, + - * / and parentheses,
    for a division by zero and for a result out of any sensible range. A recursive-descent
    parser over a bounded input: nothing is executed."""
    text = formula[1:] if formula.startswith("=") else formula
    if len(text) > _MAX_FORMULA:
        return None
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _FORMULA_TOKEN.match(text, pos)
        if not match:
            return None
        tokens.append(Decimal(match.group(1)) if match.group(1) else match.group(2))
        pos = match.end()
    try:
        with localcontext() as ctx:
            ctx.prec = 28
            value, rest = _sum(tokens, 0)
    except (ArithmeticError, _Unreadable, IndexError, RecursionError):
        return None
    return value if rest == len(tokens) and value.is_finite() and abs(value) <= MAX_NUMBER else None


def _sum(tokens: list, i: int) -> tuple[Decimal, int]:
    value, i = _product(tokens, i)
    while i < len(tokens) and tokens[i] in ("+", "-"):
        operator = tokens[i]
        right, i = _product(tokens, i + 1)
        value = value + right if operator == "+" else value - right
    return value, i


def _product(tokens: list, i: int) -> tuple[Decimal, int]:
    value, i = _factor(tokens, i)
    while i < len(tokens) and tokens[i] in ("*", "/"):
        operator = tokens[i]
        right, i = _factor(tokens, i + 1)
        value = value * right if operator == "*" else value / right  # x / 0 raises: not computable
    return value, i


def _factor(tokens: list, i: int) -> tuple[Decimal, int]:
    token = tokens[i]
    if isinstance(token, Decimal):
        return token, i + 1
    if token in ("+", "-"):
        value, i = _factor(tokens, i + 1)
        return (value if token == "+" else -value), i
    if token == "(":
        value, i = _sum(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != ")":
            raise _Unreadable
        return value, i + 1
    raise _Unreadable
