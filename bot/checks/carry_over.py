"""The carry-over: values a unit's new report starts with, taken from its previous report.

"Năm (Quý) trước" columns take the previous report's "báo cáo" column (``prefill_from``); the
period columns of tables 10–12 take the same column of the previous report within a year, and
at a new year only "Năm trước" is carried, from last year's "Năm" column.
"""

from __future__ import annotations

from bot.checks.report import report_from_json
from bot.context import Context
from bot.outline.layout import cell_key, list_key
from bot.outline.periods import Period, previous_period


def carried_values(ctx: Context):
    """``prefill(unit, period)`` for ``provision``: the values carried from the unit's last report."""

    def prefill(unit, period: Period) -> dict:
        previous = previous_period(period, ctx.schema, ctx.config.period_overrides())
        rows = [r for r in ctx.store.latest_snapshots(previous.id) if r["unit"] == unit.code]
        if not rows:
            return {}
        report, _ = report_from_json(rows[0]["report_json"])
        new_year = previous.year != period.year
        last_kind = max(ctx.schema.periods, key=lambda p: p.order).id
        carried = {}
        for table in ctx.schema.tables_for(unit.kind):
            for column in table.columns:
                source = _source_column(table, column, new_year, last_kind)
                if source:
                    carried.update(_carry(table, column.id, source, report, period))
        return carried

    return prefill


def _source_column(table, column, new_year: bool, last_kind: str) -> str | None:
    if column.prefill_from is None:
        return None
    if column.period is None:
        return column.prefill_from
    if new_year:
        year_column = next((c.id for c in table.columns if c.period == last_kind), None)
        return year_column if column.period == "prev" else None
    return column.prefill_from


def _carry(table, target: str, source: str, report, period: Period) -> dict:
    carried = {}
    for row in table.rows:
        if row.kind == "fixed":
            value = report.values.get(cell_key(table.id, row.id, source))
            if value is not None:
                carried[cell_key(table.id, row.id, target)] = value
        elif row.kind == "list":
            # every line the previous report had, the ones the unit inserted included
            for i in range(1, report.list_lines.get((table.id, row.id), row.min_rows) + 1):
                value = report.values.get(list_key(table.id, row.id, i, source))
                label = report.values.get(list_key(table.id, row.id, i, "_label"))
                if value is not None:
                    carried[list_key(table.id, row.id, i, target)] = value
                    if label:
                        carried[list_key(table.id, row.id, i, "_label")] = label
    return carried
