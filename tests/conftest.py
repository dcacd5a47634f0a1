"""Shared fixtures: the real schema, a provisioned workbook, and a way to type into it."""

from __future__ import annotations

import pytest

from bot.outline.layout import build_layout
from bot.outline.periods import parse_period
from bot.outline.schema import load_schema
from bot.outline.units import Unit
from bot.sheets.backends.workbook import WorkbookBackend
from tests.helpers import REPO


@pytest.fixture(scope="session")
def schema():
    return load_schema(REPO / "sheets_schema.json")


@pytest.fixture(scope="session")
def period(schema):  # a frozen dataclass: safe to share
    return parse_period("2026-Q1", schema)


@pytest.fixture
def unit():
    return Unit("STP", "Sở Tư pháp", "so_nganh", ("vanthu@stp.example.vn",), ("zalo:111",))


@pytest.fixture
def workbook(tmp_path, schema, unit, period):
    """A freshly provisioned workbook: (backend, ref, layout)."""
    backend = WorkbookBackend(tmp_path / "sheets")
    layout = build_layout(schema, unit, period)
    ref = backend.allocate(layout.title, {"unit": unit.code, "period": period.id})
    backend.lay_out(ref, layout)
    return backend, ref, layout


@pytest.fixture
def provisioned(tmp_path):
    """``provisioned(units_csv)``: a home folder with that unit list and Quarter I provisioned."""
    from bot.context import open_context
    from jobs.provision import provision

    opened = []

    def make(units_csv: str, period: str = "2026-Q1"):
        home = tmp_path / "home"
        home.mkdir()
        (home / "units.csv").write_text(units_csv, encoding="utf-8")
        ctx = open_context(home)
        provision(ctx, ctx.period(period))
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()
