"""Compile the master of a period from the latest snapshots and write it as one spreadsheet.

The master spreadsheet is created once per period (tags ``{"unit": "_master", "period": P}``)
and recorded in the store's sheets table under the unit code ``_master``, which no unit list
holds, so polling and checking never see it. Later runs replace its tabs in one write call;
a run killed between creating and laying it out finds it again by its record or its tags and
finishes it, so there is never a second master for a period.
"""

from __future__ import annotations

import json

from bot.context import Context
from bot.outline.periods import Period
from bot.reporting.gather import gather
from bot.reporting.master_layout import MASTER_UNIT, master_layout, master_tabs, master_title, sheet_digest
from bot.sheets.backends.base import ReplaceTab, SheetRef


def compile(ctx: Context, period: Period, *, force: bool = False) -> str:
    """Compile the master and write it; returns where a person opens it. Nothing is rewritten
    when no snapshot, check outcome or decision changed since the last compile."""
    signature = ctx.store.period_signature(period.id)
    record = ctx.store.sheet(MASTER_UNIT, period.id)
    if not force and record and ctx.store.setting(f"master:{period.id}") == signature:
        return record.url
    url = _write_master(ctx, period, every_tab=force)
    ctx.store.set_setting(f"master:{period.id}", signature)
    return url


def _write_master(ctx: Context, period: Period, *, every_tab: bool = False) -> str:
    master = gather(ctx, period)
    tags = {"unit": MASTER_UNIT, "period": period.id}
    record = ctx.store.sheet(MASTER_UNIT, period.id)
    ref = SheetRef(record.sheet_id, record.url) if record else ctx.backend.find(tags)
    if ref is None:
        ref = ctx.backend.allocate(master_title(period), tags)
    if record is None or record.sheet_id != ref.id:
        ctx.store.record_sheet(MASTER_UNIT, period.id, ctx.backend.name, ref.id, ref.url, ctx.schema.version)
    digests = {sheet.name: sheet_digest(sheet) for sheet in master.sheets()}
    key = f"master_tabs:{period.id}"
    if ctx.backend.is_laid_out(ref):
        written = json.loads(ctx.store.setting(key) or "{}") if record and record.sheet_id == ref.id else {}
        if every_tab or list(written) != list(digests):
            written = {}  # other tabs (or none known): all of them are written
        changed = {name for name, digest in digests.items() if written.get(name) != digest}
        if changed:  # only the tabs whose frame changed are built and written
            ctx.backend.write(ref, [ReplaceTab(tab) for tab in master_tabs(master, period, changed)])
    else:
        ctx.backend.lay_out(ref, master_layout(master, period))
        ctx.store.mark_ready(MASTER_UNIT, period.id)
    ctx.store.set_setting(key, json.dumps(digests, ensure_ascii=False))
    return ref.url
