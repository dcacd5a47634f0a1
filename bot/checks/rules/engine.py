"""The rule engine: which cells each bound rule finds wrong, and one finding per wrong cell."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from bot.checks.report import Finding, Report
from bot.checks.rules.bindings import Binding, Operand, bindings, global_bindings, operand
from bot.checks.rules.frame import PeriodFrame, plain, ratio_values, round_half_up
from bot.checks.rules.labels import cell_labels, format_value
from bot.outline.schema import Schema


@dataclass
class Wrong:
    """Cells found wrong by one binding: a (unit, k) mask and what to say about them."""

    mask: np.ndarray
    anchor: Operand
    shown: dict[str, np.ndarray] = field(default_factory=dict)  # placeholder → numbers
    expected: np.ndarray | None = None
    message: str | None = None  # replaces the rule's template (e.g. a zero denominator)


def _any(arrays: list[np.ndarray]) -> np.ndarray:
    return functools.reduce(np.logical_or, arrays)


def _all(arrays: list[np.ndarray]) -> np.ndarray:
    return functools.reduce(np.logical_and, arrays)


def _tolerance(x: np.ndarray) -> np.ndarray:
    return 1e-6 * np.maximum(1.0, np.abs(x))


def _gate(b: Binding, anchor: Operand, ops: list[Operand]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Where the binding is evaluated, and the operand values with missing ones as 0."""
    unknown = _any([op.bad for op in ops])
    gate = anchor.exists & ~anchor.formula & ~unknown
    have = [op.filled for op in ops]
    if b.rule.missing == "skip_if_any":
        gate = gate & _all(have)
    elif b.rule.missing == "skip_if_all":
        gate = gate & _any(have)
    return gate, [np.where(op.filled, op.value, 0.0) for op in ops]


def _check_sum_like(b: Binding, ops: list[Operand]) -> list[Wrong]:
    left, right = ops[0], ops[1:]
    gate, values = _gate(b, left, ops)
    value, bound = values[0], functools.reduce(np.add, values[1:])
    if b.rule.kind == "sum":
        wrong = np.abs(value - bound) > _tolerance(bound)
        return [Wrong(gate & wrong, left, {"value": _shown(left, value), "expected": bound}, expected=bound)]
    wrong = value > bound + _tolerance(bound) if b.rule.kind == "le" else value < bound - _tolerance(bound)
    bound_shown = np.where(_any([op.filled for op in right]), bound, np.nan)
    return [Wrong(gate & wrong, left, {"value": _shown(left, value), "bound": bound_shown}, expected=bound)]


def _check_ratio(b: Binding, ops: list[Operand]) -> list[Wrong]:
    left, num, den = ops
    rule = b.rule
    unknown = left.bad | num.bad | den.bad
    typed = left.exists & ~left.formula & ~unknown & left.filled
    zero = typed & den.filled & (den.value == 0)
    gate, (value, n, d) = _gate(b, left, ops)
    gate = gate & ~zero & (d != 0)
    expected = ratio_values(n, d, rule.scale, rule.decimals)
    step = 0.5 / 10.0**rule.decimals
    wrong = gate & (np.abs(round_half_up(value, rule.decimals) - expected) >= step - 1e-9)
    shown = {"value": value, "expected": expected, "numerator": n, "denominator": d}
    den_label = f'"{den.column.label}"'
    zero_message = (
        f"{{label}} đang là {{value}} nhưng {den_label} bằng 0 nên không tính được tỷ lệ; "
        f"hãy để trống ô tỷ lệ hoặc sửa lại số liệu"
    )
    return [
        Wrong(wrong, left, shown, expected=expected),
        Wrong(zero, left, {"value": left.value, "denominator": den.value}, message=zero_message),
    ]


def _check_range(b: Binding, ops: list[Operand]) -> list[Wrong]:
    left = ops[0]
    gate, (value,) = _gate(b, left, ops)
    low = -np.inf if b.rule.min is None else b.rule.min
    high = np.inf if b.rule.max is None else b.rule.max
    wrong = gate & ((value < low - _tolerance(value)) | (value > high + _tolerance(value)))
    return [Wrong(wrong, left, {"value": _shown(left, value)})]


def _check_required(b: Binding, ops: list[Operand]) -> list[Wrong]:
    left = ops[0]
    missing = left.exists & left.input & ~left.filled & ~left.bad
    return [Wrong(missing, left)]


def _check_monotone(b: Binding, ops: list[Operand]) -> list[Wrong]:
    unknown = _any([op.bad for op in ops])
    counted = [op.exists | op.bad for op in ops]  # a period not asked yet is not in the sequence
    missing = [c & ~op.filled for c, op in zip(counted, ops, strict=True)]
    if b.rule.missing == "skip_if_any":
        skip = unknown | _any(missing)
    elif b.rule.missing == "skip_if_all":
        skip = unknown | ~_any([op.filled for op in ops])
    else:
        skip = unknown
    present = [op.filled | (b.rule.missing == "never_skip") & c for op, c in zip(ops, counted, strict=True)]
    values = [np.where(op.filled, op.value, 0.0) for op in ops]
    previous = np.where(present[0], values[0], np.nan)
    out = []
    for op, has, value in zip(ops[1:], present[1:], values[1:], strict=True):
        wrong = ~skip & has & op.exists & ~op.formula & (value < previous - _tolerance(previous))
        out.append(Wrong(wrong, op, {"value": value, "bound": previous}))
        previous = np.where(has, value, previous)
    return out


_CHECKS = {
    "sum": _check_sum_like,
    "le": _check_sum_like,
    "ge": _check_sum_like,
    "ratio": _check_ratio,
    "range": _check_range,
    "required": _check_required,
    "monotone": _check_monotone,
}


def _shown(op: Operand, value: np.ndarray) -> np.ndarray:
    """The value as a message shows it: NaN ("(để trống)") where the cell is empty."""
    return np.where(op.filled, value, np.nan)


def wrong_cells(frame: PeriodFrame, b: Binding) -> list[Wrong]:
    space = frame.spaces[b.table.id]
    ops = [operand(frame, space, r) for r in b.refs()]
    return _CHECKS[b.rule.kind](b, ops)


# --- findings -----------------------------------------------------------------------------


class _Placeholders(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class _Ranked(NamedTuple):
    finding: Finding
    rank: tuple  # lower wins a cell: severity, specificity, declaration order
    order: tuple  # where the finding sorts: unit, table, slot, column


def _findings(frame: PeriodFrame, b: Binding, wrong: Wrong, specificity: int, declared: int) -> list[_Ranked]:
    rows, ks = np.nonzero(wrong.mask)
    if rows.size == 0:
        return []
    rule, table, space = b.rule, b.table, frame.spaces[b.table.id]
    shape = wrong.mask.shape
    # the values each finding shows, picked for all wrong cells at once: one tuple a cell
    names = tuple(wrong.shown)
    picked = [np.broadcast_to(a, shape)[rows, ks].tolist() for a in wrong.shown.values()]
    shown = list(zip(*picked, strict=True)) if names else [()] * rows.size
    expected = (
        np.broadcast_to(wrong.expected, shape)[rows, ks].tolist() if wrong.expected is not None else None
    )
    anchors = wrong.anchor.slots.tolist()
    column_id = wrong.anchor.column.id
    words = _Words(frame.schema, b, wrong, names)
    # a blank required cell ("missing") outranks a warning on its cell, as an error does
    rank = (0 if rule.severity in ("error", "missing") else 1, specificity, declared)
    out = []
    for j, (i, k) in enumerate(zip(rows.tolist(), ks.tolist(), strict=True)):
        report = frame.reports[i]
        slot_i = anchors[k if len(anchors) > 1 else 0]
        slot = space.slots[slot_i]
        message, r_label, c_label, values = words.of(slot, shown[j], report)
        finding = Finding(
            report.unit,
            rule.id,
            rule.severity,
            message,
            table=table.id,
            row=slot,
            column=column_id,
            cell=report.cells.get(f"{table.id}/{slot}/{column_id}"),
            table_label=words.table_label,
            row_label=r_label,
            column_label=c_label,
            values=values,
            expected=None if expected is None else _kept(expected[j]),
        )
        out.append(_Ranked(finding, rank, (i, table.number, slot_i, space.col_index[column_id])))
    return out


class _Words:
    """What a finding of one binding says about a cell: its message, row and column labels and
    shown values. A fixed row's words depend only on the values shown, so units with the same
    values in the same cell (a blank required cell, above all) share them."""

    def __init__(self, schema: Schema, b: Binding, wrong: Wrong, names: tuple):
        rule, self.table = b.rule, b.table
        self.schema, self.names, self.column_id = schema, names, wrong.anchor.column.id
        decimals = rule.decimals if rule.kind == "ratio" else 6
        self.digits = tuple(decimals if name == "expected" else 6 for name in names)
        self.message, self.bounds = wrong.message or rule.message, _bounds(rule)
        self.table_label = f"Bảng {self.table.number}. {self.table.title}"
        self._fixed: dict[tuple, tuple] = {}

    def of(self, slot: str, numbers: tuple, report: Report) -> tuple[str, str, str, tuple]:
        if "[" in slot:  # a list line: its label is what the unit typed
            return self._said(slot, numbers, report)
        key = (slot, numbers)  # NaN is never equal to itself: an empty cell shown is not shared
        if key not in self._fixed:
            self._fixed[key] = self._said(slot, numbers, report)
        return self._fixed[key]

    def _said(self, slot: str, numbers: tuple, report: Report) -> tuple[str, str, str, tuple]:
        label, r_label, c_label = cell_labels(self.schema, self.table, slot, self.column_id, report)
        texts = dict(zip(self.names, map(format_value, numbers, self.digits), strict=True))
        texts.update(self.bounds, label=label)
        values = tuple(zip(self.names, map(_kept, numbers), strict=True))
        return self.message.format_map(_Placeholders(texts)), r_label, c_label, values


def _kept(x: float):
    """A shown value as a finding keeps it: None for an empty cell (NaN)."""
    return None if math.isnan(x) else plain(x)


def _bounds(rule) -> dict[str, str]:
    return {"min": format_value(rule.min), "max": format_value(rule.max)}


def _one_per_cell(ranked: list[_Ranked]) -> list[Finding]:
    best: dict[tuple, _Ranked] = {}
    for r in ranked:
        f = r.finding
        key = (f.unit, f.table, f.row, f.column)
        if key not in best or r.rank < best[key].rank:
            best[key] = r
    return [r.finding for r in sorted(best.values(), key=lambda r: (r.order, r.rank))]


def _all_bindings(schema: Schema) -> list[tuple[Binding, int, int]]:
    """(binding, specificity, declaration order) of every table and global rule."""
    out, declared = [], 0
    for table in schema.tables:
        for rule in table.rules:
            for b in bindings(rule, table):
                out.append((b, 1 if b.refs()[0].wide else 0, declared))
            declared += 1
    for rule in schema.rules:
        for b in global_bindings(rule, schema):
            out.append((b, 2, declared))
        declared += 1
    return out


def _parse_problems(read_findings: Iterable[Finding]) -> dict[str, set[str]]:
    """unit → field keys whose content could not be read (the reader already said so)."""
    keys: dict[str, set[str]] = {}
    for f in read_findings:
        if f.rule == "parse" and f.table and f.row and f.column:
            keys.setdefault(f.unit, set()).add(f"{f.table}/{f.row}/{f.column}")
    return keys


@dataclass
class PeriodCheck:
    findings: list[Finding]
    derived: dict[str, dict[str, object]]  # unit → {field key: computed value of a formula cell}
    frames: dict[str, PeriodFrame] = field(default_factory=dict)  # period id → the frame checked


def check(
    schema: Schema, reports: list[Report], read_findings: Iterable[Finding] = (), *, derive: bool = True
) -> PeriodCheck:
    """Findings of every rule for ``reports`` (grouped by period), and the computed cells."""
    bad_keys = _parse_problems(read_findings)
    findings: list[Finding] = []
    derived: dict[str, dict[str, object]] = {}
    frames: dict[str, PeriodFrame] = {}
    for group in _by_period(reports):
        frame = frames[group[0].period] = PeriodFrame(schema, group, bad_keys)
        ranked = []
        for b, specificity, declared in _all_bindings(schema):
            for wrong in wrong_cells(frame, b):
                ranked += _findings(frame, b, wrong, specificity, declared)
        findings += _one_per_cell(ranked)
        if derive:
            derived.update(frame.derived())
    return PeriodCheck(findings, derived, frames)


def _by_period(reports: list[Report]) -> list[list[Report]]:
    groups: dict[str, list[Report]] = {}
    for r in reports:
        groups.setdefault(r.period, []).append(r)
    return list(groups.values())


def evaluate(schema: Schema, reports: list[Report], read_findings: Iterable[Finding] = ()) -> list[Finding]:
    """Every rule of the schema for all ``reports`` at once; one finding per wrong cell.

    ``read_findings`` (optional): the findings of reading the same reports; cells they say
    could not be parsed are left to them instead of also being reported as empty.
    """
    return check(schema, reports, read_findings, derive=False).findings


def derived_values(schema: Schema, reports: list[Report]) -> dict[str, dict[str, object]]:
    """unit → {field key: value} for every computed cell that still holds its formula.

    Totals are sums of their parts (a count of "Có" for yes/no columns); rates are
    numerator / denominator × scale rounded like the spreadsheet, computed from the summed parts
    on total rows. None where nothing can be computed: no part filled, an empty or zero
    denominator, or a part that could not be read (a spreadsheet shows 0 or "" there).
    """
    out: dict[str, dict[str, object]] = {}
    for group in _by_period(reports):
        out.update(PeriodFrame(schema, group).derived())
    return out
