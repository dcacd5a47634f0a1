"""Rules bound to columns ('*' expanded) and their operands over all units of a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.checks.rules.frame import PeriodFrame, TableSpace
from bot.outline.schema import Column, Rule, Schema, Table

_SUMMING_KINDS = ("sum", "le", "ge")


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
        rule,
        table,
        parse(rule.left),
        tuple(map(Ref.parse, rule.right or ())),
        parse(rule.numerator),
        parse(rule.denominator),
        tuple(map(Ref.parse, rule.sequence or ())),
    )
    wild = [r for r in base.refs() if r.col == "*"]
    if not wild:
        return [base]
    columns = [
        c for c in table.columns if _wildcard_fits(rule.kind, c) and all(_row_has(table, r, c) for r in wild)
    ]
    return [_with_col(base, c.id) for c in columns]


def _with_col(b: Binding, col: str) -> Binding:
    sub = lambda r: r.with_col(col) if r else None  # noqa: E731
    return Binding(
        b.rule,
        b.table,
        sub(b.left),
        tuple(map(sub, b.right)),
        sub(b.numerator),
        sub(b.denominator),
        tuple(map(sub, b.sequence)),
    )


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
        return Operand(
            pick(value), pick(filled), pick(cell), pick(bad), pick(formula), pick(inputs), slots, column
        )
    any_of = lambda a: a[:, slots].any(axis=1, keepdims=True)  # noqa: E731
    has = any_of(filled)
    total = (
        np.where(has, np.nansum(value[:, slots], axis=1, keepdims=True), np.nan)
        if column.is_numeric
        else value[:, slots[:1]]
    )
    return Operand(
        total, has, any_of(cell), any_of(bad), np.zeros_like(has), any_of(inputs), slots[:1], column
    )
