"""Snapshots and findings are stored as JSON written by orjson where its text reads back as the
standard library's would: a value must come back from ``json.loads`` as ``json`` gives it back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pytest

from bot.sheets.values import Text
from bot.store.json_text import dumps


@dataclass
class Place:
    tab: str = "Bìa"


def standard(value):
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


@pytest.mark.parametrize(
    "value",
    [
        {"values": {"t_a/r/c": 12.5, "t_a/r/d": 1_000_000_000_000_000, "t_b": "Sở Tư pháp"}},
        [1.5, -0.0, 1e16, 1e-7, 0.1 + 0.2, 123456789.123],
        10**20,  # beyond 64 bits: orjson refuses, json writes it exactly
        2**64 - 1,
        {1: "một", None: "không"},  # keys that are not text
        date(2026, 3, 31),
        datetime(2026, 3, 31, 8, 30),  # orjson would write "2026-03-31T08:30:00"
        Decimal("12.5"),
        np.float64(12.5),  # a float subclass: json writes the number
        np.int64(3),  # not an int: json writes str(value)
        Text("=SUM(A1:A3)"),
        Place(),
        ("Lỗi", None, True),
        'Nội dung có "ngoặc kép", \\ và \u0000',
    ],
)
def test_it_gives_back_what_the_standard_library_gives_back(value):
    assert json.loads(dumps(value)) == standard(value)
    assert type(json.loads(dumps(value))) is type(standard(value))
