"""The period frame: all reports of one period as units × cells arrays, computed cells included."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import numpy as np

from bot.checks.report import Report
from bot.outline.layout import build_layout
from bot.outline.periods import parse_period
from bot.outline.schema import Row, Schema, Table
from bot.outline.units import Unit

LABEL_COLUMN = "_label"
_NUMBER_TYPES = (int, float, bool)  # parsed numbers (bool: True counts 1 in "Có" totals)


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
        # list comprehensions and map over the 90,000 values of 200 reports: a generator a value
        # costs about twice as much
        keys = chain.from_iterable(r.values for r in self.reports)
        pos = np.fromiter(map(self.positions.__getitem__, keys), int, sum(sizes))
        raw = list(chain.from_iterable(r.values.values() for r in self.reports))
        number = np.array([float(v) if type(v) in _NUMBER_TYPES else math.nan for v in raw], float)
        typed = np.array([v is not None and v != "" for v in raw], bool)
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
        self.input = (
            np.stack([masks[k][0] for k in kinds])[index] if kinds else np.zeros((0, self.width), bool)
        )
        self.computed = (
            np.stack([masks[k][1] for k in kinds])[index] if kinds else np.zeros((0, self.width), bool)
        )

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
        return array[:, space.offset : space.offset + space.size].reshape(
            self.n, len(space.slots), len(space.columns)
        )

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
            parts = np.concatenate(
                [space.row_slots(r) for r in table.total_parts(row)] or [np.array([], int)]
            )
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
            out[self.reports[i].unit][key_of[p]] = None if np.isnan(value) or self.bad[i, p] else plain(value)
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


def round_half_up(x: np.ndarray, decimals: int) -> np.ndarray:
    """The spreadsheet's ROUND: halves away from zero, tolerant of binary noise (0.145 → 0.15)."""
    scale = 10.0**decimals
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5 + 1e-9) / scale


def ratio_values(num: np.ndarray, den: np.ndarray, scale: float, decimals: int) -> np.ndarray:
    """num / den × scale, rounded; NaN where either is empty or den is 0."""
    usable = ~np.isnan(num) & ~np.isnan(den) & (den != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(usable, round_half_up(num / np.where(usable, den, 1.0) * scale, decimals), np.nan)


def plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)
