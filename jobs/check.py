"""Check every unit's latest snapshot of a period, store the outcome, and write feedback.

Rules run over all units at once; findings and states are replaced in one transaction; then
each unit whose feedback changed gets it written into its own workbook. A workbook that is
busy (open in another program, quota) keeps its feedback pending for the next check.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bot.checks as checks_package
from bot import clock
from bot.checks.completeness import STATE_LABELS, Completeness, completeness, state_of
from bot.checks.feedback import feedback_edits, feedback_hash
from bot.checks.findings import assess_reports
from bot.checks.report import Finding, Report, finding_from_dict, report_from_json
from bot.checks.rules import evaluate_history
from bot.context import Context
from bot.outline.layout import WorkbookLayout, build_layout
from bot.outline.periods import Period, previous_period
from bot.outline.schema import section_title
from bot.sheets.backends.base import Protect, SheetRef, Written, input_cells

HISTORY_DEPTH = 4  # earlier periods compared for outliers and decreasing cumulative figures


@dataclass
class UnitOutcome:
    unit: str
    state: str
    completeness: Completeness
    findings: Sequence[Finding] = field(default_factory=list)  # LazyFindings when kept as stored
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
    evaluated: list[str] = field(default_factory=list)  # the units whose rules ran (the rest kept theirs)


def check(
    ctx: Context, period: Period, *, write_feedback: bool = True, units: list[str] | None = None
) -> CheckResult:
    """Check the period; with ``units``, only those (the rules are per unit: a handed-in workbook
    is checked at once without the rest of the period, which the scheduler's next check covers).

    Without ``units``, a unit is checked again only when something its outcome depends on
    changed (:func:`_inputs_keys`) or its feedback is still to be written; every other unit
    keeps its stored outcome, so a check with nothing changed evaluates no rule."""
    wanted = _provisioned_units(ctx, period, units)
    states = {row["unit"]: row for row in ctx.store.unit_states(period.id)}  # as the last check left them
    keys = _inputs_keys(ctx, period, wanted, states)
    stale = wanted if units is not None else _stale(wanted, states, keys, write_feedback)
    checked = set(stale)
    kept = [code for code in wanted if code not in checked]
    fresh = _evaluate(ctx, period, stale) if stale else []
    if fresh or units is None:
        _save(ctx, period, fresh, keys, None if units is not None else kept)
    by_unit = {o.unit: o for o in fresh + _stored_outcomes(ctx, period, kept, states)}
    result = CheckResult([by_unit[code] for code in wanted], evaluated=[o.unit for o in fresh])
    if write_feedback and fresh:
        _write_feedback(ctx, period, result, fresh)
    return result


def _evaluate(ctx: Context, period: Period, codes: list[str]) -> list[UnitOutcome]:
    """Read the latest snapshots of ``codes`` and run the rules over them."""
    snapshots = {row["unit"]: row for row in ctx.store.latest_snapshots(period.id) if row["unit"] in codes}
    reports, read_findings = {}, {}
    for code, row in snapshots.items():
        reports[code], read_findings[code] = report_from_json(row["report_json"])
    findings, filled = _all_findings(ctx, period, reports, read_findings, codes)
    return [
        _outcome(
            ctx,
            period,
            code,
            reports.get(code),
            filled.get(code),
            snapshots.get(code),
            findings.get(code, []),
        )
        for code in codes
    ]


def _all_findings(
    ctx: Context, period: Period, reports: dict, read_findings: dict, wanted: list[str]
) -> tuple[dict[str, list[Finding]], dict[str, Completeness]]:
    """Each unit's findings (reading, rules, history, the poll) and its completeness."""
    by_unit, filled = assess_reports(ctx.schema, list(reports.values()), read_findings)
    for f in evaluate_history(ctx.schema, list(reports.values()), _history(ctx, period, set(reports))):
        by_unit.setdefault(f.unit, []).append(f)
    for code in wanted:
        mark = ctx.store.poll_mark(code, period.id)
        if mark and mark["error"]:
            by_unit.setdefault(code, []).append(
                Finding(code, "poll", "error", f"Không đọc được bảng tính: {mark['error']}")
            )
    return by_unit, filled


def _earlier_periods(ctx: Context, period: Period) -> list[Period]:
    earlier, found = period, []
    for _ in range(HISTORY_DEPTH):
        earlier = previous_period(earlier, ctx.schema, ctx.config.period_overrides())
        found.append(earlier)
    return found


def _history(ctx: Context, period: Period, units: set[str]) -> dict[str, list[Report]]:
    """Each of ``units``' reports of earlier periods, oldest first."""
    history: dict[str, list[Report]] = {}
    for earlier in _earlier_periods(ctx, period):
        for row in ctx.store.latest_snapshots(earlier.id):
            if row["unit"] in units:
                history.setdefault(row["unit"], []).insert(0, report_from_json(row["report_json"])[0])
    return history


def _inputs_keys(ctx: Context, period: Period, codes: list[str], states: dict) -> dict[str, str]:
    """unit → a hash of everything its outcome is computed from: its latest snapshot and those
    of its earlier periods (snapshots are only ever added, never changed), the poll's error,
    the coordinator's decision, the values carried into it, its kind, the schema and the code
    of the checks."""
    current = ctx.store.latest_snapshot_ids(period.id)
    earlier = [ctx.store.latest_snapshot_ids(p.id) for p in _earlier_periods(ctx, period)]
    common = hashlib.sha256(f"{ctx.schema.model_dump_json()}{_checks_code()}".encode()).hexdigest()
    keys = {}
    for code in codes:
        mark, state = ctx.store.poll_mark(code, period.id), states.get(code)
        decision = [state[k] if state else None for k in ("approval", "approval_at", "approval_comment")]
        inputs = [
            ctx.unit_by_code[code].kind,
            current.get(code),
            [ids.get(code) for ids in earlier],
            mark["error"] if mark else None,
            decision,
            ctx.store.carried(code, period.id),
        ]
        digest = hashlib.sha256(json.dumps([common, inputs], ensure_ascii=False, default=str).encode())
        keys[code] = digest.hexdigest()
    return keys


@functools.cache
def _checks_code() -> str:
    """A hash of the code that turns a report into findings and a state (``bot/checks``): after
    an upgrade of the rules, every unit is checked again."""
    digest = hashlib.sha256()
    for path in sorted(Path(checks_package.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stale(wanted: list[str], states: dict, keys: dict, write_feedback: bool) -> list[str]:
    return [
        code
        for code in wanted
        if code not in states
        or states[code]["inputs_key"] != keys[code]
        or (write_feedback and feedback_due(states[code]))
    ]


def feedback_due(state) -> bool:
    """Whether the unit's workbook does not show its last check yet. A workbook nobody opened
    gets none: its blank template says all there is to say."""
    if state["feedback_hash"] == state["feedback_written_hash"]:
        return False
    return not (state["state"] == "chua_mo" and state["feedback_written_hash"] is None)


def _stored_outcomes(ctx: Context, period: Period, codes: list[str], states: dict) -> list[UnitOutcome]:
    """The outcomes of the last check of ``codes``, as stored. Their completeness has no
    per-section figures: only a feedback write needs those, and these units need none. Their
    findings are read from the database only when asked for (a check with nothing changed
    has every unit's counts in ``states`` and needs no finding)."""
    if not codes:
        return []
    stored = _StoredFindings(ctx, period, codes)
    return [
        UnitOutcome(
            row["unit"],
            row["state"],
            Completeness(row["filled"], row["required"], {}, tuple(json.loads(row["incomplete_sections"]))),
            LazyFindings(functools.partial(stored.of, row["unit"])),
            row["last_change"],
            row["submitted_at"],
            row["snapshot_id"],
        )
        for row in (states[code] for code in codes)
    ]


class _StoredFindings:
    """The stored findings of the units a check kept, all read at the first that is asked for."""

    def __init__(self, ctx: Context, period: Period, codes: list[str]):
        self._read = lambda: ctx.store.findings(period.id)
        self._wanted = set(codes)
        self._by_unit: dict[str, list[Finding]] | None = None

    def of(self, code: str) -> list[Finding]:
        if self._by_unit is None:
            self._by_unit = {}
            for row in self._read():
                if row["unit"] in self._wanted:
                    self._by_unit.setdefault(row["unit"], []).append(finding_from_dict(row))
        return self._by_unit.get(code, [])


class LazyFindings(Sequence):
    """A unit's findings, read when first used (iterated, counted, indexed)."""

    def __init__(self, load):
        self._load, self._items = load, None

    def _list(self) -> list[Finding]:
        if self._items is None:
            self._items = list(self._load())
        return self._items

    def __getitem__(self, index):
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Sequence)) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._list())


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


def _save(
    ctx: Context, period: Period, outcomes: list[UnitOutcome], keys: dict, kept: list[str] | None
) -> None:
    rows, finding_rows = [], {}
    states = {row["unit"]: row for row in ctx.store.unit_states(period.id)}
    for o in outcomes:
        comment = _returned_comment(states.get(o.unit))
        rows.append(
            {
                "unit": o.unit,
                "state": o.state,
                "filled": o.completeness.filled,
                "required": o.completeness.required,
                "errors": o.errors,
                "warnings": o.warnings,
                "incomplete_sections": json.dumps(
                    list(o.completeness.incomplete_sections), ensure_ascii=False
                ),
                "last_change": o.last_change,
                "submitted_at": o.submitted_at,
                "checked_at": clock.now().isoformat(),
                "snapshot_id": o.snapshot_id,
                "feedback_hash": feedback_hash(STATE_LABELS[o.state], o.completeness, o.findings, comment),
                "inputs_key": keys[o.unit],
            }
        )
        finding_rows[o.unit] = [f.as_dict() for f in o.findings]
    ctx.store.save_check(period.id, rows, finding_rows, [o.unit for o in outcomes], kept)


def _returned_comment(state) -> str | None:
    """The coordinator's comment on a report returned to the unit (shown on its cover)."""
    return state["approval_comment"] if state and state["approval"] == "returned" else None


def _write_feedback(ctx: Context, period: Period, result: CheckResult, fresh: list[UnitOutcome]) -> None:
    """Every unit of ``fresh`` whose feedback changed, in one batch (one change-time listing
    before and after)."""
    titles = {s.id: section_title(s) for s in ctx.schema.sections}
    due, hashes = [], {}
    states = {row["unit"]: row for row in ctx.store.unit_states(period.id)}  # as this check left them
    sheets = {record.unit: record for record in ctx.store.sheets(period.id)}
    for o in fresh:
        row = states[o.unit]
        if not feedback_due(row):
            continue
        record = sheets[o.unit]
        ref = SheetRef(record.sheet_id, record.url)
        due.append((ref, o, row))
        hashes[ref.id] = (o.unit, row["feedback_hash"])
    if not due:
        return
    refs = [ref for ref, _, _ in due]
    before = ctx.backend.modified_times(refs)
    # Each unit's edits are built as its write comes, and dropped after it: the "Kiểm tra" tabs
    # of 200 units are never all held at once (less memory, and less for the garbage collector).
    places = _KindLayouts(ctx, period)
    failed = ctx.backend.write_many(
        (ref, _feedback_for(places.of(o.unit), o, row, titles)) for ref, o, row in due
    )
    written = ctx.backend.written()
    after = ctx.backend.modified_times(refs) if len(written) < len(refs) else {}
    with ctx.store.transaction():  # one commit for the batch, not one a unit
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


class _KindLayouts:
    """A layout per unit kind for the feedback edits, which need its places only (the cover's
    status cells, the input cells): those are the same for every unit of the kind, whose
    workbooks differ in the cover's words alone. One layout a kind, not one a unit."""

    def __init__(self, ctx: Context, period: Period):
        self._ctx, self._period, self._layouts = ctx, period, {}

    def of(self, code: str) -> WorkbookLayout:
        unit = self._ctx.unit_by_code[code]
        if unit.kind not in self._layouts:
            self._layouts[unit.kind] = build_layout(self._ctx.schema, unit, self._period)
        return self._layouts[unit.kind]


def _feedback_for(layout: WorkbookLayout, o: UnitOutcome, row, titles) -> list:
    edits = feedback_edits(
        layout,
        STATE_LABELS[o.state],
        o.completeness,
        o.findings,
        titles,
        clock.now(),
        _returned_comment(row),
    )
    if row["approval"] == "approved":
        edits.append(Protect(whole=True))
    elif row["approval"] == "returned":
        edits.append(Protect(whole=False, input_cells=input_cells(layout)))
    return edits


def _stamp(moment) -> str | None:
    return moment.isoformat() if moment else None
