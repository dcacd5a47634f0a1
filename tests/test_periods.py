"""Reporting periods: their data cut-off comes from the schema's days of the year."""

from __future__ import annotations

import json
from datetime import date

from bot.outline.periods import parse_period
from bot.outline.schema import parse_schema
from tests.helpers import REPO


def schema_with_periods(**changes):
    raw = json.loads((REPO / "sheets_schema.json").read_text(encoding="utf-8"))
    for period in raw["periods"]:
        period.update(changes)
    return parse_schema(raw)


def test_it_starts_the_data_cut_off_on_15_december_of_the_previous_year(schema):
    periods = [parse_period(f"2026-{p}", schema) for p in ("Q1", "6T", "9T", "N")]
    assert {p.cutoff_start for p in periods} == {date(2025, 12, 15)}
    assert [p.cutoff_end for p in periods] == [
        date(2026, 3, 14),
        date(2026, 6, 14),
        date(2026, 9, 14),
        date(2026, 12, 14),
    ]


def test_it_takes_the_first_day_of_the_cut_off_from_the_schema():
    assert parse_period("2026-Q1", schema_with_periods(cutoff_start="12-01")).cutoff_start == date(
        2025, 12, 1
    )
    calendar_year = schema_with_periods(cutoff_start="01-01", cutoff_end="12-31")
    period = parse_period("2026-N", calendar_year)
    assert (period.cutoff_start, period.cutoff_end) == (date(2026, 1, 1), date(2026, 12, 31))
