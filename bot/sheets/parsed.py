"""What reading a cell gives back, and how a finding writes the input it is about.

:class:`Parsed` is the result of every cell parser (:mod:`bot.sheets.values`,
:mod:`bot.sheets.dates`, :mod:`bot.sheets.arithmetic`); :func:`format_number` writes a number the
Vietnamese way, in findings and in everything the bot writes for a person.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext


@dataclass(frozen=True)
class Parsed:
    """A parsed cell: ``value`` None means missing; ``problem`` explains an unusable input."""

    value: object | None
    problem: str | None = None
    warning: str | None = None  # the value is kept, but the clerk should look at it again


MISSING = Parsed(None)


@functools.lru_cache(maxsize=8192, typed=True)  # findings show the same few numbers again and again
def format_number(value, decimals: int = 1) -> str:
    """A number the Vietnamese way: "." between thousands, decimal comma, no trailing zeros.

    Rounded half up to ``decimals`` places: 45.5 → "45,5", 1234 → "1.234", 50.0 → "50".
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    with localcontext() as ctx:
        ctx.prec = 100
        rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""  # Decimal("-0.0") is not below 0: no "-0"
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    fraction = fraction.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + ("," + fraction if fraction else "")


def _shown(raw) -> str:
    """``raw`` as a clerk would recognise it inside a finding."""
    if isinstance(raw, bool):
        return "Có" if raw else "Không"
    if isinstance(raw, int) and raw.bit_length() > 128:
        return "một số có hàng trăm chữ số"  # str() of a huge int is slow, and refused past 4300 digits
    if isinstance(raw, int):
        return str(raw)  # plain: a year typed into a date cell reads "2026", not "2.026"
    if isinstance(raw, float | Decimal):
        return format_number(raw, decimals=6)
    if isinstance(raw, datetime | date):
        return f"{raw:%d/%m/%Y}"
    text = str(raw)
    return text if len(text) <= 60 else text[:59] + "…"
