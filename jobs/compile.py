"""Compile the master of a period from the latest snapshots and write it as one spreadsheet.

The master spreadsheet is created once per period (tags ``{"unit": "_master", "period": P}``)
and recorded in the store's sheets table under the unit code ``_master``, which no unit list
holds, so polling and checking never see it. Later runs replace its tabs in one write call;
a run killed between creating and laying it out finds it again by its record or its tags and
finishes it, so there is never a second master for a period.
"""

from __future__ import annotations

import hashlib
import json

from bot.backends.base import ReplaceTab, SheetRef
from bot.context import Context
from bot.master import MASTER_UNIT, Master, compile_master, master_layout
from bot.periods import Period
from bot.report import report_from_json


class NothingPolled(Exception):
    """No unit's spreadsheet of the period has been read yet."""

    def __init__(self, period_id: str):
        super().__init__(period_id)
        self.period_id = period_id

    def user_message(self) -> str:
        return (f"Chưa có số liệu nào của kỳ {self.period_id}: chưa đọc bảng tính của đơn vị nào. "
                f"Hãy chạy trước: python -m bot poll --period {self.period_id}")


def gather(ctx: Context, period: Period) -> Master:
    """The master of ``period`` from the latest snapshot of each unit and the last check."""
    rows = [r for r in ctx.store.latest_snapshots(period.id) if r["unit"] in ctx.unit_by_code]
    if not rows:
        raise NothingPolled(period.id)
    reports = [report_from_json(r["report_json"])[0] for r in rows]
    states = {r["unit"]: r for r in ctx.store.unit_states(period.id)}
    urls = {r.unit: r.url for r in ctx.store.sheets(period.id) if r.unit in ctx.unit_by_code}
    return compile_master(ctx.schema, ctx.units, reports, states, urls, period=period, province=province_of(ctx))


def province_of(ctx: Context) -> str:
    """The province's name, when the configuration has one."""
    return getattr(ctx.config, "province", None) or ""


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
    layout = master_layout(gather(ctx, period), period)
    tags = {"unit": MASTER_UNIT, "period": period.id}
    record = ctx.store.sheet(MASTER_UNIT, period.id)
    ref = SheetRef(record.sheet_id, record.url) if record else ctx.backend.find(tags)
    if ref is None:
        ref = ctx.backend.allocate(layout.title, tags)
    if record is None or record.sheet_id != ref.id:
        ctx.store.record_sheet(MASTER_UNIT, period.id, ctx.backend.name, ref.id, ref.url, ctx.schema.version)
    digests = {tab.name: tab_digest(tab) for tab in layout.tabs}
    key = f"master_tabs:{period.id}"
    if ctx.backend.is_laid_out(ref):
        written = json.loads(ctx.store.setting(key) or "{}") if record and record.sheet_id == ref.id else {}
        if every_tab or list(written) != list(digests):
            written = {}  # other tabs (or none known): all of them are written
        changed = [tab for tab in layout.tabs if written.get(tab.name) != digests[tab.name]]
        if changed:
            ctx.backend.write(ref, [ReplaceTab(tab) for tab in changed])
    else:
        ctx.backend.lay_out(ref, layout)
        ctx.store.mark_ready(MASTER_UNIT, period.id)
    ctx.store.set_setting(key, json.dumps(digests, ensure_ascii=False))
    return ref.url


def tab_digest(tab) -> str:
    """What a master tab shows, but the time it was compiled (its subtitle): a tab whose
    digest is unchanged is not rewritten."""
    cells = sorted((pos, repr(spec.value), spec.formula, spec.style, spec.link)
                   for pos, spec in tab.cells.items() if pos != SUBTITLE_CELL)
    shape = [sorted(tab.merges), sorted(tab.col_widths.items()), sorted(tab.row_heights.items()), tab.landscape]
    return hashlib.sha256(repr([cells, shape]).encode("utf-8")).hexdigest()


SUBTITLE_CELL = (2, 1)  # "<period> — tổng hợp lúc <time>" (bot.master.frame_tab)


SUFFIXES = {"xlsx": ".xlsx", "csv": ".zip", "json": ".json", "docx": ".docx"}


def export_path(ctx: Context, period: Period, fmt: str):
    """Where exports go unless told otherwise: <home>/exports/tong_hop_<period>.<ext>."""
    return ctx.config.exports_dir / f"tong_hop_{period.id}{SUFFIXES[fmt]}"


def export_files(ctx: Context, period: Period, formats=("xlsx", "docx"), *, force: bool = True) -> list:
    """The coordinator's files of the period (what /xuat sends), from the latest snapshots;
    without ``force``, files already written from the same data are left as they are."""
    from bot.export import export

    signature = ctx.store.period_signature(period.id)
    paths = [export_path(ctx, period, fmt) for fmt in formats]
    key = f"exports:{period.id}:{','.join(formats)}"
    if not force and ctx.store.setting(key) == signature and all(p.exists() for p in paths):
        return paths
    master = gather(ctx, period)
    written = [export(master, fmt, path) for fmt, path in zip(formats, paths, strict=True)]
    ctx.store.set_setting(key, signature)
    return written
