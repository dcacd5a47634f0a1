"""The consistency rules of ``sheets_schema.json``, evaluated for all reports of a period at once.

Semantics follow DHIS2's validation rules (left side, operator, right side; a missing-value
strategy per rule; severity):

* ``error`` keeps a report from being valid, ``warning`` does not.
* Missing values: ``skip_if_any`` (default) skips a rule when any operand is empty,
  ``skip_if_all`` only when all are empty (the empty ones count as 0), ``never_skip`` always
  evaluates (empty counts as 0). A missing value shown in a message reads "(để trống)".
* ``'*'`` as the row binds to every row of the table that has the operands' columns: fixed
  rows, total rows and each list line in use (a list line with nothing typed in it is an unused
  template line and is not checked). ``'*'`` as the column binds to each numeric column present
  in every operand's row; rates are never summed, so sum / le / ge skip rate columns.
  ``'items[]'`` sums all lines of list ``items`` (the sum is empty when no line has a value);
  for ``required`` it is one field, filled when any line has a value.
* Period columns not yet asked in this report's period (e.g. "Quí II" in the Q1 report) are
  not cells of the report: a rule whose checked cell is such a column is not evaluated, and as
  another operand it is empty. ``monotone`` leaves them out of its sequence.
* Kinds: sum (left = Σ right), ratio (left = numerator / denominator × scale, both rounded half
  up to ``decimals`` like the spreadsheet's ROUND), le / ge (left ≤ / ≥ Σ right), range
  (min ≤ left ≤ max), required (left filled), monotone (each non-missing operand ≥ the previous
  non-missing one). A filled rate whose denominator is 0 is a finding of the ratio rule; an
  empty rate with denominator 0 is fine.
* Computed cells (rate columns and total rows) are live formulas in the workbook. While a cell
  still holds its formula its value is computed here from its parts — totals are sums of the
  parts (bool totals count "Có"), rates are recomputed from the summed parts — and no finding
  is ever raised on it. A number typed over the formula is checked like any other value.
* Parts that could not be read (``report.unreadable``: a table, or "table/row") and cells whose
  content could not be parsed (the "parse" findings of reading, passed as ``read_findings``) are
  unknown: no rule that involves them is evaluated, so the one finding about them is the one
  the reader already made.
* One mistake, one finding: each cell gets at most one finding. When several rules find the
  same cell wrong, the error beats the warning, then the rule that names the cell's row beats
  a ``'*'`` rule (a total row's own sum rule beats a per-row sum that also lands on it), then a
  table rule beats a global one, then the rule declared first wins.
* Global rules (``schema.rules``) apply by column ``types`` to every cell of those columns in
  every table, typed or computed.

How: the values of a period are flattened into one long (unit, field, value) list, scattered
into one wide matrix of units × cells (each table a contiguous block laid out rows × columns;
numpy arrays, the engine under pandas). A table's block is viewed as a (unit, row, column)
array, so every rule is a handful of array operations over all units at once; Python only
loops over rules and over the cells actually found wrong. History uses pandas group-bys.

The computed values are exposed for the master sheet by :func:`derived_values` (or
:func:`check`, which returns findings and derived values from one pass).

:func:`evaluate_history` adds warnings that compare a report with the unit's earlier reports.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bot.checks.report import Finding, Report, row_label
from bot.outline.layout import build_layout
from bot.outline.periods import parse_period
from bot.outline.schema import Column, Row, Rule, Schema, Table
from bot.outline.units import Unit
from bot.sheets.values import format_number

LABEL_COLUMN = "_label"
EMPTY_SHOWN = "(để trống)"
_SUMMING_KINDS = ("sum", "le", "ge")
_NUMBER_TYPES = (int, float, bool)  # parsed numbers (bool: True counts 1 in "Có" totals)


# --- the period frame ---------------------------------------------------------------------


@dataclass
class TableSpace:
    """Where a table's cells sit in the wide matrix: ``slots`` (rows, list lines) × ``columns``."""

    table: Table
    offset: int
    slots: list[str]  # "cchc", "don_vi[1]", …, "tong" (heading rows carry no cells)
    slot_rows: list[Row]
    columns: list[str]  # column ids, then "_label" for tables with list rows

    @property
    def size(self) -> int:
        return len(self.slots) * len(self.columns)

    @cached_property
    def slot_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.slots)}

    @cached_property
    def col_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.columns)}

    @cached_property
    def list_slots(self) -> dict[str, np.ndarray]:
        lines: dict[str, list[int]] = {}
        for i, row in enumerate(self.slot_rows):
            if row.kind == "list":
                lines.setdefault(row.id, []).append(i)
        return {row_id: np.array(idx) for row_id, idx in lines.items()}

    @cached_property
    def is_list_slot(self) -> np.ndarray:
        return np.array([r.kind == "list" for r in self.slot_rows])

    def row_slots(self, row_id: str) -> np.ndarray:
        """The slots of a row id: one for a fixed or total row, every line for a list."""
        if row_id in self.list_slots:
            return self.list_slots[row_id]
        return np.array([self.slot_index[row_id]]) if row_id in self.slot_index else np.array([], int)

    def position(self, slot: int, col: int) -> int:
        return self.offset + slot * len(self.columns) + col


def _table_spaces(schema: Schema, reports: list[Report]) -> dict[str, TableSpace]:
    longest: dict[tuple[str, str], int] = {}
    for report in reports:
        for list_row, lines in report.list_lines.items():
            longest[list_row] = max(longest.get(list_row, 0), lines)
    spaces, offset = {}, 0
    for table in schema.tables:
        slots, slot_rows = [], []
        for row in table.rows:
            if row.kind == "heading":
                continue
            if row.kind == "list":
                for n in range(1, max(row.min_rows, longest.get((table.id, row.id), 0)) + 1):
                    slots.append(f"{row.id}[{n}]")
                    slot_rows.append(row)
            else:
                slots.append(row.id)
                slot_rows.append(row)
        columns = [c.id for c in table.columns]
        if any(r.kind == "list" for r in table.rows):
            columns.append(LABEL_COLUMN)
        space = TableSpace(table, offset, slots, slot_rows, columns)
        spaces[table.id] = space
        offset += space.size
    return spaces


class _Positions(dict):
    """Field key → position in the wide matrix (-1: not a table cell), parsed on first use."""

    def __init__(self, spaces: dict[str, TableSpace]):
        super().__init__()
        self.spaces = spaces

    def __missing__(self, key: str) -> int:
        table_id, _, rest = key.partition("/")
        slot, _, col = rest.rpartition("/")
        space = self.spaces.get(table_id)
        pos = -1
        if space and slot in space.slot_index and col in space.col_index:
            pos = space.position(space.slot_index[slot], space.col_index[col])
        self[key] = pos
        return pos


class PeriodFrame:
    """All reports of one period as units × cells arrays (see the module docstring).

    ``value``: the typed number (NaN when empty or not a number); ``filled``: something typed
    (text too); ``present``: the cell was read; ``formula``: the cell still holds its formula;
    ``bad``: unknown (unreadable part, unparseable content, or computed from such);
    ``input`` / ``computed``: what the template makes of the cell for the unit's kind and period;
    ``effective``: ``value`` with formula cells replaced by their computed value.
    """

    def __init__(self, schema: Schema, reports: list[Report], bad_keys: dict[str, set[str]] | None = None):
        self.schema = schema
        self.reports = reports
        self.n = len(reports)
        self.spaces = _table_spaces(schema, reports)
        self.width = sum(s.size for s in self.spaces.values())
        self.positions = _Positions(self.spaces)
        self._lines_used: dict[str, np.ndarray] = {}
        self._scatter_values()
        self._scatter_flags(bad_keys or {})
        self._template_masks()
        self.bad |= self.formula & ~self.computed  # a formula typed into an input: value unknown here
        self.effective = self.value.copy()
        for space in self.spaces.values():
            self._derive(space)

    # building

    def _scatter_values(self) -> None:
        sizes = [len(r.values) for r in self.reports]
        rows = np.repeat(np.arange(self.n), sizes)
        pos = np.fromiter((self.positions[k] for r in self.reports for k in r.values), int, sum(sizes))
        raw = [v for r in self.reports for v in r.values.values()]
        number = np.fromiter((float(v) if type(v) in _NUMBER_TYPES else math.nan for v in raw), float, len(raw))
        typed = np.fromiter((v is not None and v != "" for v in raw), bool, len(raw))
        keep = pos >= 0
        rows, pos = rows[keep], pos[keep]
        self.value = np.full((self.n, self.width), np.nan)
        self.filled = np.zeros((self.n, self.width), bool)
        self.present = np.zeros((self.n, self.width), bool)
        self.value[rows, pos] = number[keep]
        self.filled[rows, pos] = typed[keep]
        self.present[rows, pos] = True

    def _scatter_flags(self, bad_keys: dict[str, set[str]]) -> None:
        self.formula = np.zeros((self.n, self.width), bool)
        self.bad = np.zeros((self.n, self.width), bool)
        for i, report in enumerate(self.reports):
            where = [self.positions[k] for k in report.formulas]
            self.formula[i, [p for p in where if p >= 0]] = True
            bad = [self.positions[k] for k in bad_keys.get(report.unit, ())]
            self.bad[i, [p for p in bad if p >= 0]] = True
            for part in report.unreadable:
                self.bad[i, self._region(part)] = True

    def _region(self, part: str) -> np.ndarray:
        table_id, _, row_id = part.partition("/")
        space = self.spaces.get(table_id)
        if space is None:
            return np.array([], int)
        slots = space.row_slots(row_id) if row_id else np.arange(len(space.slots))
        cols = np.arange(len(space.columns))
        return (space.offset + slots[:, None] * len(space.columns) + cols[None, :]).ravel()

    def _template_masks(self) -> None:
        kinds = sorted({(r.period, r.kind) for r in self.reports})
        masks = {key: self._kind_masks(*key) for key in kinds}
        index = np.array([kinds.index((r.period, r.kind)) for r in self.reports], int)
        self.input = np.stack([masks[k][0] for k in kinds])[index] if kinds else np.zeros((0, self.width), bool)
        self.computed = np.stack([masks[k][1] for k in kinds])[index] if kinds else np.zeros((0, self.width), bool)

    def _kind_masks(self, period_id: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Which cells the template makes inputs / formulas for a unit of ``kind`` in the period."""
        inputs, computed = np.zeros(self.width, bool), np.zeros(self.width, bool)
        for table_id, row_id, col_id, is_input, is_computed in template_cells(self.schema, period_id, kind):
            space = self.spaces[table_id]
            where = [space.position(s, space.col_index[col_id]) for s in space.row_slots(row_id)]
            inputs[where] = is_input
            computed[where] = is_computed
        return inputs, computed

    def view(self, array: np.ndarray, space: TableSpace) -> np.ndarray:
        """The (unit, slot, column) view of ``array`` over one table (writes go through)."""
        return array[:, space.offset : space.offset + space.size].reshape(self.n, len(space.slots), len(space.columns))

    @cached_property
    def cell(self) -> np.ndarray:
        """A cell the rules may look at: read, part of the template, and not unknown."""
        return self.present & (self.input | self.computed) & ~self.bad

    def line_used(self, space: TableSpace) -> np.ndarray:
        """(unit, slot): False for a list line with nothing typed in it, True for other rows."""
        if space.table.id not in self._lines_used:
            typed = self.view(self.filled, space).any(axis=2)
            self._lines_used[space.table.id] = typed | ~space.is_list_slot[None, :]
        return self._lines_used[space.table.id]

    # computed cells

    def _derive(self, space: TableSpace) -> None:
        table = space.table
        effective, formula, bad = (self.view(a, space) for a in (self.effective, self.formula, self.bad))
        for s, row in enumerate(space.slot_rows):
            if row.kind != "total":
                continue
            parts = np.concatenate([space.row_slots(r) for r in _total_parts(table, row)] or [np.array([], int)])
            for c, col in enumerate(table.columns):
                live = formula[:, s, c]
                if col.ratio_of or not live.any() or parts.size == 0:
                    continue
                values = effective[:, parts, c]
                unknown = bad[:, parts, c].any(axis=1)
                total = np.where(~np.isnan(values).all(axis=1) & ~unknown, np.nansum(values, axis=1), np.nan)
                effective[:, s, c] = np.where(live, total, effective[:, s, c])
                bad[:, s, c] |= live & unknown
        for c, col in enumerate(table.columns):
            if not col.ratio_of or not formula[:, :, c].any():
                continue
            num, den = (space.col_index[x] for x in col.ratio_of)
            rate = ratio_values(effective[:, :, num], effective[:, :, den], col.scale, col.decimals)
            live = formula[:, :, c]
            effective[:, :, c] = np.where(live, rate, effective[:, :, c])
            bad[:, :, c] |= live & (bad[:, :, num] | bad[:, :, den])

    def derived(self) -> dict[str, dict[str, object]]:
        """unit → {field key: computed value} for every cell that still holds its formula."""
        out: dict[str, dict[str, object]] = {r.unit: {} for r in self.reports}
        live = self.formula & self.computed
        key_of = {p: k for k, p in self.positions.items() if p >= 0}
        for i, p in zip(*np.nonzero(live), strict=True):
            value = self.effective[i, p]
            out[self.reports[i].unit][key_of[p]] = None if np.isnan(value) or self.bad[i, p] else _plain(value)
        return out


_TEMPLATES: dict[tuple[int, str, str], tuple[Schema, list]] = {}


def template_cells(schema: Schema, period_id: str, kind: str) -> list[tuple[str, str, str, bool, bool]]:
    """(table, row, column, input, computed) of every table cell the layout gives ``kind`` in
    the period (a list row once, for all its lines). Layouts are deterministic, so this is
    cached per schema object."""
    key = (id(schema), period_id, kind)
    cached = _TEMPLATES.get(key)
    if cached is None or cached[0] is not schema:
        if len(_TEMPLATES) > 64:
            _TEMPLATES.clear()
        layout = build_layout(schema, Unit("_", "_", kind), parse_period(period_id, schema))
        cells = {
            (spec.table, spec.row_id, spec.col_id): (spec.input, spec.computed)
            for spec in layout.fields.values()
            if spec.table is not None
        }
        cached = _TEMPLATES[key] = (schema, [(*where, *flags) for where, flags in cells.items()])
    return cached[1]


def _total_parts(table: Table, total: Row) -> list[str]:
    if total.of:
        return list(total.of)
    above = table.rows[: table.rows.index(total)]
    return [r.id for r in above if r.kind in ("fixed", "list")]


def round_half_up(x: np.ndarray, decimals: int) -> np.ndarray:
    """The spreadsheet's ROUND: halves away from zero, tolerant of binary noise (0.145 → 0.15)."""
    scale = 10.0**decimals
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5 + 1e-9) / scale


def ratio_values(num: np.ndarray, den: np.ndarray, scale: float, decimals: int) -> np.ndarray:
    """num / den × scale, rounded; NaN where either is empty or den is 0."""
    usable = ~np.isnan(num) & ~np.isnan(den) & (den != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(usable, round_half_up(num / np.where(usable, den, 1.0) * scale, decimals), np.nan)


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


# --- operands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """One parsed operand: ``row`` is '*', a row id, or a list id (``is_list``) for 'items[]'."""

    row: str
    col: str
    is_list: bool = False

    @classmethod
    def parse(cls, text: str) -> Ref:
        row, _, col = text.partition(".")
        if row.endswith("[]"):
            return cls(row[:-2], col, True)
        return cls(row, col)

    @property
    def wide(self) -> bool:
        return self.row == "*"

    def with_col(self, col: str) -> Ref:
        return Ref(self.row, col, self.is_list) if self.col == "*" else self


@dataclass(frozen=True)
class Binding:
    """A rule with every operand naming one column: what is compared, cell by cell."""

    rule: Rule
    table: Table
    left: Ref | None
    right: tuple[Ref, ...] = ()
    numerator: Ref | None = None
    denominator: Ref | None = None
    sequence: tuple[Ref, ...] = ()

    def refs(self) -> list[Ref]:
        refs = [self.left, self.numerator, self.denominator, *self.right, *self.sequence]
        return [r for r in refs if r is not None]


def bindings(rule: Rule, table: Table) -> list[Binding]:
    """The rule once per column its '*' columns stand for (once if it names its columns)."""
    parse = lambda text: Ref.parse(text) if text else None  # noqa: E731
    base = Binding(
        rule, table, parse(rule.left), tuple(map(Ref.parse, rule.right or ())),
        parse(rule.numerator), parse(rule.denominator), tuple(map(Ref.parse, rule.sequence or ())),
    )  # fmt: skip
    wild = [r for r in base.refs() if r.col == "*"]
    if not wild:
        return [base]
    columns = [c for c in table.columns if _wildcard_fits(rule.kind, c) and all(_row_has(table, r, c) for r in wild)]
    return [_with_col(base, c.id) for c in columns]


def _with_col(b: Binding, col: str) -> Binding:
    sub = lambda r: r.with_col(col) if r else None  # noqa: E731
    return Binding(b.rule, b.table, sub(b.left), tuple(map(sub, b.right)), sub(b.numerator), sub(b.denominator),
                   tuple(map(sub, b.sequence)))  # fmt: skip


def _wildcard_fits(kind: str, column: Column) -> bool:
    if not column.is_numeric:
        return False
    return kind not in _SUMMING_KINDS or (column.ratio_of is None and column.type != "percent")


def _row_has(table: Table, ref: Ref, column: Column) -> bool:
    if ref.wide:
        return True
    row = table.row_by_id[ref.row]
    if row.kind == "heading" or column.id in row.no_input:
        return False
    return row.kind != "total" or column.ratio_of is not None or column.type in ("count", "decimal", "bool")


def global_bindings(rule: Rule, schema: Schema) -> list[Binding]:
    """A global rule, bound to every column of its types in every table."""
    out = []
    for table in schema.tables:
        for column in table.columns:
            if column.type in (rule.types or ()):
                out.append(Binding(rule, table, Ref("*", column.id)))
    return out


@dataclass
class Operand:
    """One operand over all units: (unit, k) arrays, k = slots of the table for '*', else 1."""

    value: np.ndarray
    filled: np.ndarray
    exists: np.ndarray  # the cell is there to check (read, in the template, not unknown)
    bad: np.ndarray
    formula: np.ndarray
    input: np.ndarray
    slots: np.ndarray  # anchor slot per k (a list's first line for 'items[]')
    column: Column


def operand(frame: PeriodFrame, space: TableSpace, ref: Ref) -> Operand:
    column = space.table.column_by_id[ref.col]
    c = space.col_index[ref.col]
    grab = lambda a: frame.view(a, space)[:, :, c]  # noqa: E731
    value, bad, formula, cell = grab(frame.effective), grab(frame.bad), grab(frame.formula), grab(frame.cell)
    filled = ~np.isnan(value) if column.is_numeric else grab(frame.filled)
    inputs = grab(frame.input)
    if ref.wide:
        cell = cell & frame.line_used(space)
        return Operand(value, filled, cell, bad, formula, inputs, np.arange(len(space.slots)), column)
    slots = space.row_slots(ref.row)
    if not ref.is_list:
        pick = lambda a: a[:, slots]  # noqa: E731
        return Operand(pick(value), pick(filled), pick(cell), pick(bad), pick(formula), pick(inputs), slots, column)
    any_of = lambda a: a[:, slots].any(axis=1, keepdims=True)  # noqa: E731
    has = any_of(filled)
    total = np.where(has, np.nansum(value[:, slots], axis=1, keepdims=True), np.nan) if column.is_numeric else value[:, slots[:1]]
    return Operand(total, has, any_of(cell), any_of(bad), np.zeros_like(has), any_of(inputs), slots[:1], column)


# --- checking -----------------------------------------------------------------------------


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
    zero_message = (f"{{label}} đang là {{value}} nhưng {den_label} bằng 0 nên không tính được tỷ lệ; "
                    f"hãy để trống ô tỷ lệ hoặc sửa lại số liệu")  # fmt: skip
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
    "sum": _check_sum_like, "le": _check_sum_like, "ge": _check_sum_like, "ratio": _check_ratio,
    "range": _check_range, "required": _check_required, "monotone": _check_monotone,
}  # fmt: skip


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


def _format(x: float, decimals: int = 6) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return EMPTY_SHOWN
    return format_number(_plain(x), decimals)


def cell_labels(schema: Schema, table: Table, slot: str, column_id: str, report: Report) -> tuple[str, str, str]:
    """(label for messages, row label, column label) of one cell, in Vietnamese."""
    r_label = row_label(schema, table.id, slot)
    typed = report.values.get(f"{table.id}/{slot}/{LABEL_COLUMN}") if "[" in slot else None
    if typed:
        r_label = f"{r_label} ({typed})"
    c_label = "tên dòng" if column_id == LABEL_COLUMN else table.column_by_id[column_id].label
    return f'Bảng {table.number}, dòng "{r_label}", cột "{c_label}"', r_label, c_label


@dataclass(frozen=True)
class _Ranked:
    finding: Finding
    rank: tuple  # lower wins a cell: severity, specificity, declaration order
    order: tuple  # where the finding sorts: unit, table, slot, column


def _findings(frame: PeriodFrame, b: Binding, wrong: Wrong, specificity: int, declared: int) -> list[_Ranked]:
    rows, ks = np.nonzero(wrong.mask)
    if rows.size == 0:
        return []
    rule, table, space = b.rule, b.table, frame.spaces[b.table.id]
    shape = wrong.mask.shape
    shown = {name: np.broadcast_to(a, shape) for name, a in wrong.shown.items()}
    expected = np.broadcast_to(wrong.expected, shape) if wrong.expected is not None else None
    decimals = rule.decimals if rule.kind == "ratio" else 6
    out = []
    for i, k in zip(rows.tolist(), ks.tolist(), strict=True):
        report = frame.reports[i]
        slot_i = int(wrong.anchor.slots[k if wrong.anchor.slots.size > 1 else 0])
        slot, column_id = space.slots[slot_i], wrong.anchor.column.id
        label, r_label, c_label = cell_labels(frame.schema, table, slot, column_id, report)
        numbers = {name: a[i, k] for name, a in shown.items()}
        texts = {name: _format(x, decimals if name == "expected" else 6) for name, x in numbers.items()}
        texts.update(label=label, min=_format(rule.min), max=_format(rule.max))
        cell = report.cells.get(f"{table.id}/{slot}/{column_id}")
        finding = Finding(
            report.unit, rule.id, rule.severity, (wrong.message or rule.message).format_map(_Placeholders(texts)),
            table=table.id, row=slot, column=column_id, cell=cell,
            table_label=f"Bảng {table.number}. {table.title}", row_label=r_label, column_label=c_label,
            values=tuple((name, None if math.isnan(x) else _plain(x)) for name, x in numbers.items()),
            expected=None if expected is None or math.isnan(expected[i, k]) else _plain(expected[i, k]),
        )  # fmt: skip
        rank = (0 if rule.severity == "error" else 1, specificity, declared)
        out.append(_Ranked(finding, rank, (i, table.number, slot_i, space.col_index[column_id])))
    return out


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


def check(schema: Schema, reports: list[Report], read_findings: Iterable[Finding] = (), *, derive: bool = True) -> PeriodCheck:
    """Findings of every rule for ``reports`` (grouped by period), and the computed cells."""
    bad_keys = _parse_problems(read_findings)
    findings: list[Finding] = []
    derived: dict[str, dict[str, object]] = {}
    for group in _by_period(reports):
        frame = PeriodFrame(schema, group, bad_keys)
        ranked = []
        for b, specificity, declared in _all_bindings(schema):
            for wrong in wrong_cells(frame, b):
                ranked += _findings(frame, b, wrong, specificity, declared)
        findings += _one_per_cell(ranked)
        if derive:
            derived.update(frame.derived())
    return PeriodCheck(findings, derived)


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


# --- history ------------------------------------------------------------------------------

Z_LIMIT = 3.0  # standard deviations from the unit's own mean
MIN_HISTORY_FOR_Z = 3
FACTOR_LIMIT = 10.0  # with fewer values: more than 10× the largest or under 1/10 of the smallest


def evaluate_history(schema: Schema, current: list[Report], previous: dict[str, list[Report]]) -> list[Finding]:
    """Warnings from comparing each report with the same unit's earlier reports.

    * A period column of tables 10–12 (``Column.period``) that an earlier report of the same
      year already gave and that is now smaller: figures already reported went down.
    * A count or decimal typed in a fixed row that is far outside the unit's own history, after
      DHIS2's outlier analysis (per unit and field, over the unit's earlier values): with at
      least 3 earlier values, a z-score above 3 (|x − mean| / standard deviation, when the values
      vary); with 1–2 earlier values, or values that never varied, more than 10× the largest or
      less than 1/10 of the smallest. Period columns are left out (they re-report one figure).
      See https://docs.dhis2.org/2.29/en/user/html/standard_deviation_analysis.html
    """
    fields = _history_fields(schema)
    order = {p.id: p.order for p in schema.periods}
    now = _history_frame(current, fields, order)
    before = _history_frame([r for rs in previous.values() for r in rs], fields, order)
    if now.empty or before.empty:
        return []
    by_unit = {r.unit: r for r in current}
    findings = _decreases(schema, now, before, by_unit) + _outliers(schema, now, before, by_unit)
    return sorted(findings, key=lambda f: (f.unit, f.table or "", f.cell or ""))


def _history_fields(schema: Schema) -> dict[str, tuple[Table, Row, Column]]:
    fields = {}
    for table in schema.tables:
        for row in table.rows:
            if row.kind != "fixed":
                continue
            for col in table.columns:
                if col.type in ("count", "decimal") and not col.ratio_of and col.id not in row.no_input:
                    fields[f"{table.id}/{row.id}/{col.id}"] = (table, row, col)
    return fields


def _history_frame(reports: list[Report], fields: dict, order: dict[str, int]) -> pd.DataFrame:
    """One row per (unit, period, field) with a typed number; ``rank`` orders periods in time."""
    rows = [
        (r.unit, r.period, r.period[:4], int(r.period[:4]) * 10 + order.get(r.period[5:], 0), k, float(v))
        for r in reports
        for k, v in r.values.items()
        if k in fields and type(v) in (int, float)
    ]
    return pd.DataFrame(rows, columns=["unit", "period", "year", "rank", "key", "value"])


def _decreases(schema: Schema, now: pd.DataFrame, before: pd.DataFrame, by_unit: dict) -> list[Finding]:
    periodic = {k for k in now["key"].unique() if _column_of(schema, k).period not in (None, "prev")}
    earlier = before[before["key"].isin(periodic)]
    joined = now.merge(earlier, on=["unit", "year", "key"], suffixes=("", "_before"))
    joined = joined[joined["rank_before"] < joined["rank"]]
    latest = joined.sort_values("rank_before").groupby(["unit", "key"], as_index=False).last()
    down = latest[latest["value"] < latest["value_before"] - 1e-9]
    out = []
    for row in down.itertuples():
        report = by_unit[row.unit]
        label = _history_label(schema, row.key, report)
        message = (f"{label}: kỳ này báo cáo {_format(row.value)}, nhỏ hơn số đã báo cáo ở kỳ trước "
                   f"({_format(row.value_before)}); số liệu lũy kế không giảm, đề nghị kiểm tra lại")  # fmt: skip
        out.append(_history_finding(schema, report, row.key, "history_decrease", message,
                                    (("value", _plain(row.value)), ("before", _plain(row.value_before)))))  # fmt: skip
    return out


def _outliers(schema: Schema, now: pd.DataFrame, before: pd.DataFrame, by_unit: dict) -> list[Finding]:
    steady = {k for k in now["key"].unique() if _column_of(schema, k).period is None}
    earlier = now[["unit", "key", "rank"]].merge(before, on=["unit", "key"], suffixes=("", "_before"))
    earlier = earlier[earlier["rank_before"] < earlier["rank"]]
    history = earlier[earlier["key"].isin(steady)].groupby(["unit", "key"])["value"]
    stats = history.agg(["count", "mean", "std", "min", "max"]).reset_index()
    joined = now.merge(stats, on=["unit", "key"])
    x = joined["value"]
    use_z = (joined["count"] >= MIN_HISTORY_FOR_Z) & (joined["std"] > 0)
    z = (x - joined["mean"]).abs() / joined["std"].where(use_z)
    far = ((joined["max"] > 0) & (x > FACTOR_LIMIT * joined["max"])) | (
        (joined["min"] > 0) & (x < joined["min"] / FACTOR_LIMIT)
    )
    joined = joined[(use_z & (z > Z_LIMIT)) | (~use_z & far)]
    out = []
    for row in joined.itertuples():
        report = by_unit[row.unit]
        label = _history_label(schema, row.key, report)
        message = (f"{label}: {_format(row.value)} khác xa số liệu các kỳ trước của đơn vị "
                   f"(từ {_format(row.min)} đến {_format(row.max)}); đề nghị kiểm tra lại")  # fmt: skip
        values = (("value", _plain(row.value)), ("min", _plain(row.min)), ("max", _plain(row.max)))
        out.append(_history_finding(schema, report, row.key, "history_outlier", message, values))
    return out


def _column_of(schema: Schema, key: str) -> Column:
    table_id, _, col_id = key.split("/")
    return schema.table_by_id[table_id].column_by_id[col_id]


def _history_label(schema: Schema, key: str, report: Report) -> str:
    table_id, row_id, col_id = key.split("/")
    return cell_labels(schema, schema.table_by_id[table_id], row_id, col_id, report)[0]


def _history_finding(schema: Schema, report: Report, key: str, rule: str, message: str, values: tuple) -> Finding:
    table_id, row_id, col_id = key.split("/")
    table = schema.table_by_id[table_id]
    _, r_label, c_label = cell_labels(schema, table, row_id, col_id, report)
    return Finding(report.unit, rule, "warning", message, table=table_id, row=row_id, column=col_id,
                   cell=report.cells.get(key), table_label=f"Bảng {table.number}. {table.title}",
                   row_label=r_label, column_label=c_label, values=values)  # fmt: skip


__all__ = [
    "PeriodCheck", "PeriodFrame", "check", "derived_values", "evaluate", "evaluate_history",
    "ratio_values", "round_half_up",
]  # fmt: skip
