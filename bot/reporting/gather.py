"""The master of a period gathered from the store, and the coordinator's files made of it.

The master is compiled from the latest snapshot of each unit and the last check; the files
(xlsx, docx, …) are rewritten only when that data changed since they were last written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.checks.report import Report, report_from_json
from bot.checks.rules import derived_values
from bot.context import Context
from bot.outline.periods import Period
from bot.outline.schema import Schema
from bot.reporting.master import Master, compile_master


class NothingPolled(Exception):
    """No unit's spreadsheet of the period has been read yet."""

    def __init__(self, period_id: str):
        super().__init__(period_id)
        self.period_id = period_id

    def user_message(self) -> str:
        return (
            f"Chưa có số liệu nào của kỳ {self.period_id}: chưa đọc bảng tính của đơn vị nào. "
            f"Hãy chạy trước: python -m bot poll --period {self.period_id}"
        )


def gather(ctx: Context, period: Period) -> Master:
    """The master of ``period`` from the latest snapshot of each unit and the last check."""
    rows = [r for r in ctx.store.latest_snapshots(period.id) if r["unit"] in ctx.unit_by_code]
    if not rows:
        raise NothingPolled(period.id)
    decoded = _decoded(ctx.schema, [r["report_json"] for r in rows])
    states = {r["unit"]: r for r in ctx.store.unit_states(period.id)}
    urls = {r.unit: r.url for r in ctx.store.sheets(period.id) if r.unit in ctx.unit_by_code}
    return compile_master(
        ctx.schema,
        ctx.units,
        [d.report for d in decoded],
        states,
        urls,
        period=period,
        province=province_of(ctx),
        derived={d.report.unit: d.derived for d in decoded},
    )


@dataclass(frozen=True)
class _Decoded:
    schema: Schema
    report: Report
    derived: dict  # the report's computed cells (rules.derived_values): a function of it alone


_DECODED: dict[bytes, _Decoded] = {}  # digest of a snapshot's text → what it decodes to (last gather's)


def _decoded(schema: Schema, texts: list[str]) -> list[_Decoded]:
    """Each snapshot's report and computed cells. A gather follows a poll that changed a few
    units of many: a snapshot whose text the last gather decoded is not decoded again (the
    reports are only read from here on). Texts are known by their digest, not kept."""
    digests = [hashlib.blake2b(text.encode("utf-8"), digest_size=20).digest() for text in texts]
    known = {d: _DECODED.get(d) for d in digests}
    new = {
        d: text
        for d, text in zip(digests, texts, strict=True)
        if known[d] is None or known[d].schema is not schema
    }
    reports = {d: report_from_json(text)[0] for d, text in new.items()}
    derived = derived_values(schema, list(reports.values())) if reports else {}
    for d, report in reports.items():
        known[d] = _Decoded(schema, report, derived.get(report.unit, {}))
    _DECODED.clear()
    _DECODED.update(known)
    return [known[d] for d in digests]


def province_of(ctx: Context) -> str:
    """The province's name, when the configuration has one."""
    return getattr(ctx.config, "province", None) or ""


SUFFIXES = {"xlsx": ".xlsx", "csv": ".zip", "json": ".json", "docx": ".docx"}


def export_path(ctx: Context, period: Period, fmt: str):
    """Where exports go unless told otherwise: <home>/exports/tong_hop_<period>.<ext>."""
    return ctx.config.exports_dir / f"tong_hop_{period.id}{SUFFIXES[fmt]}"


def export_files(ctx: Context, period: Period, formats=("xlsx", "docx"), *, force: bool = True) -> list:
    """The coordinator's files of the period (what /xuat sends), from the latest snapshots;
    without ``force``, files already written from the same data are left as they are."""
    from bot.reporting.export import export

    signature = ctx.store.period_signature(period.id)
    paths = [export_path(ctx, period, fmt) for fmt in formats]
    key = f"exports:{period.id}:{','.join(formats)}"
    if not force and ctx.store.setting(key) == signature and all(p.exists() for p in paths):
        return paths
    master = gather(ctx, period)
    written = [export(master, fmt, path) for fmt, path in zip(formats, paths, strict=True)]
    ctx.store.set_setting(key, signature)
    return written
