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
