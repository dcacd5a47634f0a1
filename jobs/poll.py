"""Poll every provisioned spreadsheet of a period; read only those that changed.

A spreadsheet is skipped when the backend's change time equals the one recorded at the last
read; when the time moved but the unit-owned content is the same (our own feedback write, a
formatting change) no snapshot is added. A spreadsheet that cannot be read is recorded as a
poll error for that unit, and the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.checks.reading import read_report
from bot.checks.report import report_to_json
from bot.context import Context
from bot.intake.google_forms import FormsConfigError, FormsResult, intake_forms, load_form_settings
from bot.outline.periods import Period
from bot.sheets.backends.base import BackendError, SheetRef
from bot.sheets.document import content_hash

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    read: list[str] = field(default_factory=list)  # units with a new snapshot
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # unit → Vietnamese reason
    reads: int = 0  # spreadsheets actually read
    forms: FormsResult | None = None  # Google Forms answers written into units' narratives


def poll(ctx: Context, period: Period) -> PollResult:
    result = PollResult()
    records = [r for r in ctx.store.sheets(period.id) if r.status == "ready" and r.unit in ctx.unit_by_code]
    refs = {r.unit: SheetRef(r.sheet_id, r.url) for r in records}
    times = ctx.backend.modified_times(list(refs.values()))
    for code, ref in refs.items():
        _poll_unit(ctx, period, code, ref, times.get(ref.id), result)
    _take_form_answers(ctx, period, result)
    return result


def _take_form_answers(ctx: Context, period: Period, result: PollResult) -> None:
    """Answers given through a Google Form go into the units' narrative fields; the workbooks
    written are read (and snapshotted) by the next poll."""
    try:
        forms = load_form_settings(ctx.config.home)
        if forms:
            result.forms = intake_forms(ctx, period, forms)
    except FormsConfigError as e:
        result.failed["_forms"] = e.user_message()


def _poll_unit(ctx: Context, period: Period, code: str, ref: SheetRef, modified, result: PollResult) -> None:
    modified_at = modified.isoformat() if modified else None
    mark = ctx.store.poll_mark(code, period.id)
    if mark and modified_at and mark["modified_at"] == modified_at and not mark["error"]:
        result.unchanged.append(code)
        return
    try:
        reading = read_report(ctx.backend, ref, ctx.schema, ctx.unit_by_code[code], period, check_tags=True)
        result.reads += 1
        digest = content_hash(reading.document)
        report_json = report_to_json(reading.report, reading.findings)
    except BackendError as e:
        _failed(ctx, period, code, modified_at, str(e), result)
        return
    except Exception as e:  # noqa: BLE001 — one unit's workbook, however odd, never stops the others
        log.warning("Không đọc được bảng tính của %s: %s", code, type(e).__name__)
        _failed(
            ctx,
            period,
            code,
            modified_at,
            f"nội dung tệp không đọc được ({type(e).__name__}); "
            "hãy kiểm tra các ô vừa nhập hoặc liên hệ đầu mối phụ trách",
            result,
        )
        return
    if mark and mark["content_hash"] == digest:
        ctx.store.set_poll_mark(code, period.id, modified_at, digest)
        result.unchanged.append(code)
        return
    ctx.store.add_snapshot(code, period.id, modified_at, digest, report_json)
    result.read.append(code)


def _failed(
    ctx: Context, period: Period, code: str, modified_at: str | None, reason: str, result: PollResult
) -> None:
    """Recorded as this unit's poll error: ``check`` shows it as a finding, the next poll retries."""
    ctx.store.set_poll_mark(code, period.id, modified_at, None, error=reason)
    result.failed[code] = reason
