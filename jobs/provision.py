"""Provision one spreadsheet per unit for a period; safe to re-run or kill at any point.

Order of work per unit: find or allocate the spreadsheet, record its id in the state, then
lay out the template. A run killed after allocation finds the recorded (or tagged)
spreadsheet next time and finishes it; a spreadsheet already laid out is never touched,
so nothing a unit typed is ever overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context
from bot.outline.layout import build_layout
from bot.outline.periods import Period
from bot.sheets.backends.base import BackendError, SheetRef
from bot.sheets.sharing import record_sharing, share_again


@dataclass(frozen=True)
class Provisioned:
    unit: str
    period: str
    location: str
    action: str  # "created", "resumed", "existing", "failed"
    error: str | None = None


def provision(ctx: Context, period: Period, prefill=None) -> list[Provisioned]:
    """Provision every unit; ``prefill(unit, period)`` gives values carried from its last report."""
    results = []
    for unit in ctx.units:
        try:
            results.append(_provision_unit(ctx, unit, period, prefill))
        except BackendError as e:
            results.append(Provisioned(unit.code, period.id, "", "failed", str(e)))
    return results


def _provision_unit(ctx: Context, unit, period: Period, prefill) -> Provisioned:
    tags = {"unit": unit.code, "period": period.id, "schema_version": ctx.schema.version}
    record = ctx.store.sheet(unit.code, period.id)
    ref = SheetRef(record.sheet_id, record.url) if record else ctx.backend.find(tags)
    if record and record.status == "ready" and ctx.backend.is_laid_out(ref):
        share_again(ctx, unit.code, period.id, ref)
        return Provisioned(unit.code, period.id, ref.url, "existing")
    action = "resumed" if ref else "created"
    carried = prefill(unit, period) if prefill else {}
    layout = build_layout(ctx.schema, unit, period, prefill=carried)
    if ref is None:
        ref = ctx.backend.allocate(layout.title, tags)
    ctx.store.record_sheet(unit.code, period.id, ctx.backend.name, ref.id, ref.url, ctx.schema.version)
    if not ctx.backend.is_laid_out(ref):
        ctx.backend.lay_out(ref, layout)
        record_sharing(ctx, unit.code, period.id, ref)
    else:
        action = "existing"
        carried = ctx.store.carried(unit.code, period.id)
    ctx.store.mark_ready(unit.code, period.id, carried)
    return Provisioned(unit.code, period.id, ref.url, action)


def carried_values(ctx: Context):
    """``prefill(unit, period)``: values carried into a new report from the unit's previous one.

    "Năm (Quý) trước" columns take the previous report's "báo cáo" column (``prefill_from``);
    the period columns of tables 10–12 take the same column of the previous report within a
    year, and at a new year only "Năm trước" is carried, from last year's "Năm" column.
    """
    from bot.checks.report import report_from_json
    from bot.outline.periods import previous_period

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
    from bot.outline.layout import cell_key, list_key

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
