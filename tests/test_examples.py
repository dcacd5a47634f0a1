"""The sample unit lists: what a province reports with in 2026, and before July 2025."""

from __future__ import annotations

from collections import Counter

from bot.outline.units import load_units
from tests.helpers import REPO


def kinds_in(name: str, schema) -> Counter:
    return Counter(u.kind for u in load_units(REPO / "examples" / name, schema))


def test_it_ships_a_2026_list_of_departments_communes_and_vertical_agencies_without_districts(schema):
    kinds = kinds_in("units.csv", schema)
    assert set(kinds) == {"so_nganh", "xa", "nganh_doc"}  # districts ended in July 2025
    assert 40 <= sum(kinds.values()) <= 56  # near 48, so the demo stays comparable


def test_it_keeps_districts_in_a_separate_list_for_periods_before_july_2025(schema):
    kinds = kinds_in("units-2024.csv", schema)
    assert set(kinds) == {"so_nganh", "huyen", "nganh_doc"}
    assert kinds["huyen"] >= 1
