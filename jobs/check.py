"""Check every unit's latest snapshot of a period, store the outcome, and write feedback.

Rules run over all units at once; findings and states are replaced in one transaction; then
each unit whose feedback changed gets it written into its own workbook. A workbook that is
busy (open in another program, quota) keeps its feedback pending for the next check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot import clock
from bot.checks.completeness import STATE_LABELS, Completeness, completeness, completeness_many, state_of
from bot.checks.feedback import feedback_edits, feedback_hash
from bot.checks.findings import check_reports
from bot.checks.report import Finding, Report, report_from_json
from bot.checks.rules import evaluate_history
from bot.context import Context
from bot.outline.layout import build_layout
from bot.outline.periods import Period, previous_period
from bot.outline.schema import section_title
from bot.sheets.backends.base import Protect, SheetRef, Written, input_cells

HISTORY_DEPTH = 4  # earlier periods compared for outliers and decreasing cumulative figures


@dataclass
class UnitOutcome:
    unit: str
    state: str
    completeness: Completeness
    findings: list[Finding] = field(default_factory=list)
    last_change: str | None = None
    submitted_at: str | None = None
    snapshot_id: int | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)


@dataclass
class CheckResult:
    outcomes: list[UnitOutcome]
    feedback_written: list[str] = field(default_factory=list)
    feedback_pending: dict[str, str] = field(default_factory=dict)  # unit → why it could not be written


def check(
    ctx: Context, period: Period, *, write_feedback: bool = True, units: list[str] | None = None
) -> CheckResult:
    """Check the period; with ``units``, only those (the rules are per unit: a handed-in workbook
    is checked at once without the rest of the period, which the scheduler's next check covers)."""
    wanted = _provisioned_units(ctx, period, units)
    snapshots = {row["unit"]: row for row in ctx.store.latest_snapshots(period.id) if row["unit"] in wanted}
    reports, read_findings = {}, {}
    for code, row in snapshots.items():
        reports[code], read_findings[code] = report_from_json(row["report_json"])
    findings = _all_findings(ctx, period, reports, read_findings, wanted)
    filled = completeness_many(ctx.schema, list(reports.values()))
    outcomes = [
        _outcome(
            ctx,
            period,
            code,
            reports.get(code),
            filled.get(code),
            snapshots.get(code),
            findings.get(code, []),
        )
        for code in wanted
    ]
    _save(ctx, period, outcomes, units)
    result = CheckResult(outcomes)
    if write_feedback:
        _write_feedback(ctx, period, result)
    return result


def _all_findings(
    ctx: Context, period: Period, reports: dict, read_findings: dict, wanted: list[str]
) -> dict[str, list[Finding]]:
    by_unit = check_reports(ctx.schema, list(reports.values()), read_findings)
    for f in evaluate_history(ctx.schema, list(reports.values()), _history(ctx, period)):
        by_unit.setdefault(f.unit, []).append(f)
    for code in wanted:
        mark = ctx.store.poll_mark(code, period.id)
        if mark and mark["error"]:
            by_unit.setdefault(code, []).append(
                Finding(code, "poll", "error", f"Không đọc được bảng tính: {mark['error']}")
            )
    return by_unit


def _history(ctx: Context, period: Period) -> dict[str, list[Report]]:
    """Each unit's reports of earlier periods, oldest first."""
    history: dict[str, list[Report]] = {}
    earlier = period
    for _ in range(HISTORY_DEPTH):
        earlier = previous_period(earlier, ctx.schema, ctx.config.period_overrides())
        for row in ctx.store.latest_snapshots(earlier.id):
            history.setdefault(row["unit"], []).insert(0, report_from_json(row["report_json"])[0])
    return history


def _provisioned_units(ctx: Context, period: Period, units: list[str] | None = None) -> list[str]:
    return [
        r.unit
        for r in ctx.store.sheets(period.id)
        if r.unit in ctx.unit_by_code and (units is None or r.unit in units)
    ]


def _outcome(
    ctx: Context, period: Period, code: str, report: Report | None, comp, snapshot, findings
) -> UnitOutcome:
    unit = ctx.unit_by_code[code]
    if comp is None:
        comp = completeness(ctx.schema, report or Report(code, unit.kind, period.id))
    prior = ctx.store.unit_state(code, period.id)
    approval = prior["approval"] if prior else None
    errors = sum(f.severity == "error" for f in findings)
    last_change = (snapshot["taken_at"]) if snapshot else None
    # a returned report stays "trả lại" until the unit changes something after the return
    returned = approval == "returned" and not (last_change and last_change > (prior["approval_at"] or ""))
    state = state_of(
        report,
        comp,
        errors,
        opened=_opened(ctx, code, period, report),
        approved=approval == "approved",
        returned=returned,
    )
    submitted_at = None
    if report is not None and report.submitted:
        submitted_at = (prior["submitted_at"] if prior and prior["submitted_at"] else None) or last_change
    return UnitOutcome(
        code, state, comp, findings, last_change, submitted_at, snapshot["id"] if snapshot else None
    )


def _opened(ctx: Context, code: str, period: Period, report: Report | None) -> bool:
    """Whether the unit touched its workbook: anything other than the values carried into it."""
    if report is None:
        return False
    if report.submitted or report.unparsed:
        return True
    carried = ctx.store.carried(code, period.id)
    return any(
        value not in (None, "") and carried.get(key) != _jsonable(value)
        for key, value in report.values.items()
    )


def _jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _save(ctx: Context, period: Period, outcomes: list[UnitOutcome], units: list[str] | None) -> None:
    rows, finding_rows = [], []
    for o in outcomes:
        comment = _comment(ctx, o.unit, period)
        rows.append({
            "unit": o.unit, "state": o.state, "filled": o.completeness.filled, "required": o.completeness.required,
            "errors": o.errors, "warnings": o.warnings,
            "incomplete_sections": json.dumps(list(o.completeness.incomplete_sections), ensure_ascii=False),
            "last_change": o.last_change, "submitted_at": o.submitted_at, "checked_at": clock.now().isoformat(),
            "snapshot_id": o.snapshot_id,
            "feedback_hash": feedback_hash(STATE_LABELS[o.state], o.completeness, o.findings, comment),
        })  # fmt: skip
        finding_rows += [
            (
                o.unit,
                period.id,
                f.rule,
                f.severity,
                f.cell,
                f.message,
                json.dumps(f.as_dict(), ensure_ascii=False, default=str),
            )
            for f in o.findings
        ]
    ctx.store.save_check(period.id, rows, finding_rows, units)


def _comment(ctx: Context, code: str, period: Period) -> str | None:
    row = ctx.store.unit_state(code, period.id)
    return row["approval_comment"] if row and row["approval"] == "returned" else None


def _write_feedback(ctx: Context, period: Period, result: CheckResult) -> None:
    """Every unit whose feedback changed, in one batch (one change-time listing before and after)."""
    titles = {s.id: section_title(s) for s in ctx.schema.sections}
    batch, hashes = [], {}
    for o in result.outcomes:
        row = ctx.store.unit_state(o.unit, period.id)
        if row["feedback_hash"] == row["feedback_written_hash"]:
            continue
        if o.state == "chua_mo" and row["feedback_written_hash"] is None:
            continue  # a workbook nobody opened yet: its blank template says all there is to say
        record = ctx.store.sheet(o.unit, period.id)
        ref = SheetRef(record.sheet_id, record.url)
        batch.append((ref, _feedback_for(ctx, period, o, row, titles)))
        hashes[ref.id] = (o.unit, row["feedback_hash"])
    if not batch:
        return
    refs = [ref for ref, _ in batch]
    before = ctx.backend.modified_times(refs)
    failed = ctx.backend.write_many(batch)
    written = ctx.backend.written()
    after = ctx.backend.modified_times(refs) if len(written) < len(refs) else {}
    for ref in refs:
        unit, feedback = hashes[ref.id]
        if failed.get(ref.id):
            result.feedback_pending[unit] = str(failed[ref.id])
            continue
        # The poll mark moves over our own write only: from the version the write loaded to the
        # one it left (when the backend can tell), so a clerk's save on either side is still read.
        stamps = written.get(ref.id) or Written(before.get(ref.id), after.get(ref.id))
        ctx.store.mark_feedback_written(
            unit, period.id, feedback, _stamp(stamps.before), _stamp(stamps.after)
        )
        result.feedback_written.append(unit)


def _feedback_for(ctx: Context, period: Period, o: UnitOutcome, row, titles) -> list:
    layout = build_layout(ctx.schema, ctx.unit_by_code[o.unit], period)
    edits = feedback_edits(
        layout,
        STATE_LABELS[o.state],
        o.completeness,
        o.findings,
        titles,
        clock.now(),
        _comment(ctx, o.unit, period),
    )
    if row["approval"] == "approved":
        edits.append(Protect(whole=True))
    elif row["approval"] == "returned":
        edits.append(Protect(whole=False, input_cells=input_cells(layout)))
    return edits


def _stamp(moment) -> str | None:
    return moment.isoformat() if moment else None
