"""The master sheet: every unit's report of a period in one set of tables, with province totals.

:func:`compile_master` turns the latest reports into pandas frames:

* one frame per table: one row per unit and table row (list tables: one row per line a unit
  filled, with the unit beside it), then the province rows. Province rows sum counts, decimals
  and "Có" answers across units; rates (``ratio_of`` columns) are recomputed from the summed
  numerator and denominator, never averaged; text, and rates that have no parts to recompute
  from, are left blank. A list covered by a total row is summed by that row; a list without
  one gets its own province row. Its label carries the number of lines;
* a status frame: where each unit stands (state, completeness, findings, link to its sheet);
* a narrative frame: each narrative field with every unit's text.

Computed cells that still hold their formula (rates, total rows) take the values the rules
engine computes (:func:`bot.checks.rules.derived_values`), so the master shows what the unit's own
spreadsheet shows. Frames are indexed by (unit code, row key): the row key is the row id, or
``row[n]`` for a list line; province rows have the unit code :data:`PROVINCE`. Exports drop
the index; the Word report and tests use it to find rows.

:func:`bot.reporting.master_layout.master_layout` renders the frames as tabs any backend can
write.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from bot import clock
from bot.checks.completeness import STATE_LABELS
from bot.checks.report import Report
from bot.checks.rules import derived_values, ratio_values
from bot.outline.schema import Row, Schema, Table
from bot.sheets.values import (  # noqa: F401  (the one guard every writer uses; export.py takes them from here)
    is_formula_like,
    quote_formula_like,
)

PROVINCE = "_tinh"  # the unit code of province rows in a frame's index
PROVINCE_NAME = "Toàn tỉnh"
APPROVED_STATE = "da_duyet"
# Rows whose label says they are rates hold a percentage in every column (table 12's
# "Tỷ lệ đạt chuẩn"): summing them across units is meaningless, and the schema gives no
# parts to recompute them from, so their province row is left blank.
RATE_ROW_PREFIXES = ("tỷ lệ", "tỉ lệ")

CODE, NAME, KIND, LINE, APPROVED = "Mã đơn vị", "Tên đơn vị", "Loại đơn vị", "Dòng", "Đã duyệt"
STATUS_COLUMNS = (
    CODE,
    NAME,
    KIND,
    "Tình trạng",
    "Hoàn thành (%)",
    "Số lỗi",
    "Số cảnh báo",
    "Thay đổi gần nhất",
    "Thời điểm nộp",
    APPROVED,
    "Liên kết bảng tính",
)
NARRATIVE_COLUMNS = ("Mục", "Nội dung đề cương", CODE, NAME, KIND, "Nội dung báo cáo", APPROVED)
SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\']")


@dataclass(frozen=True)
class Sheet:
    """One frame of the master as a tab or an exported sheet."""

    key: str  # "status", "narratives" or a table id
    name: str  # tab / sheet name, at most 31 characters
    title: str  # the heading written above the frame
    frame: pd.DataFrame


@dataclass
class Master:
    schema: Schema
    tables: dict[str, pd.DataFrame]  # table id → frame
    status: pd.DataFrame
    narratives: pd.DataFrame
    period_id: str = ""
    period_label: str = ""
    province: str = ""
    compiled_at: datetime | None = None
    units_reporting: int = 0
    units_approved: int = 0
    _sheets: list[Sheet] = field(default_factory=list, repr=False)

    def sheets(self) -> list[Sheet]:
        """Every frame in the order the master shows them: status, narratives, tables."""
        if not self._sheets:
            self._sheets = [
                Sheet("status", "Tình trạng", "Tình trạng báo cáo của các đơn vị", self.status),
                Sheet("narratives", "Nội dung", "Nội dung báo cáo của các đơn vị", self.narratives),
            ] + [
                Sheet(t.id, sheet_name(t), f"Bảng {t.number} ({t.ref}). {t.title}", self.tables[t.id])
                for t in self.schema.tables
            ]
        return self._sheets

    def province_row(self, table_id: str, row_id: str) -> pd.Series:
        return self.tables[table_id].loc[(PROVINCE, row_id)]


def sheet_name(table: Table) -> str:
    """ "Bảng 14. Kết quả sử dụng phần" — cut at a word, within Excel's 31 characters."""
    name = _SHEET_NAME_FORBIDDEN.sub("-", f"Bảng {table.number}. {table.title}")
    if len(name) <= SHEET_NAME_MAX:
        return name
    return name[: SHEET_NAME_MAX + 1].rsplit(" ", 1)[0].rstrip(" ,.;-")


# --- compiling -------------------------------------------------------------------------------


def compile_master(
    schema: Schema,
    units: Iterable,
    reports: Mapping[str, Report] | Iterable[Report],
    states: Mapping[str, Mapping] | Iterable[Mapping],
    urls: Mapping[str, str],
    *,
    period=None,
    province: str = "",
    now: datetime | None = None,
    derived: Mapping[str, dict] | None = None,
) -> Master:
    """The master of one period. ``units`` in the order the master lists them; ``reports`` and
    ``states`` (rows of the store's unit_states) by unit code or as iterables; ``urls``: unit
    code → link to the unit's spreadsheet. Units without a report appear in the status frame only.
    ``derived``: the reports' computed cells when known already (``rules.derived_values``)."""
    units = list(units)
    reports = _by_unit(reports, lambda r: r.unit)
    states = _by_unit(states, lambda s: s["unit"])
    if derived is None:
        derived = derived_values(schema, [reports[u.code] for u in units if u.code in reports])
    approved = {u.code for u in units if _is_approved(states.get(u.code))}
    reporting = [u for u in units if u.code in reports]
    values = {u.code: _values_with_derived(reports[u.code], derived.get(u.code, {})) for u in reporting}
    return Master(
        schema=schema,
        tables={t.id: table_frame(schema, t, reporting, reports, values, approved) for t in schema.tables},
        status=status_frame(schema, units, states, urls, approved),
        narratives=narrative_frame(schema, reporting, values, approved),
        period_id=getattr(period, "id", "") or "",
        period_label=getattr(period, "label", "") or "",
        province=province,
        compiled_at=now or clock.now(),
        units_reporting=len(reporting),
        units_approved=len(approved & {u.code for u in reporting}),
    )


def _by_unit(items, unit_of) -> dict:
    if isinstance(items, Mapping):
        return dict(items)
    return {unit_of(item): item for item in items}


def _is_approved(state: Mapping | None) -> bool:
    if state is None:
        return False
    return state["state"] == APPROVED_STATE or _get(state, "approval") == "approved"


def _get(row: Mapping, key: str):
    """A column of a store row (sqlite3.Row has no ``get``) or of a dict."""
    try:
        return row[key]
    except (KeyError, IndexError):
        return None


def _values_with_derived(report: Report, derived: dict) -> dict:
    if not derived:
        return report.values
    return {**report.values, **derived}


# --- table frames ----------------------------------------------------------------------------


_FRAMES: dict[str, tuple] = {}  # table id → (table, digest of its rows, frame): the last one made


def table_frame(
    schema: Schema, table: Table, units: list, reports: dict, values: dict, approved: set
) -> pd.DataFrame:
    """One table for every unit it applies to, then its province rows. A frame is a function
    of its table and its rows: the last one made for the table is reused while they are the
    same (between two compiles, most tables of a period do not change)."""
    records, index = _table_rows(schema, table, units, reports, values, approved)
    digest = hashlib.sha256(repr((records, index)).encode("utf-8")).hexdigest()
    last = _FRAMES.get(table.id)
    if last is not None and last[0] is table and last[1] == digest:
        return last[2]
    frame = _frame_of(table, records, index)
    _FRAMES[table.id] = (table, digest, frame)
    return frame


def _frame_of(table: Table, records: list, index: list) -> pd.DataFrame:
    """The frame built column by column: the units' rows, then the province rows summed from
    them. Built as plain lists and arrays, not by pandas operations row by row: a table's
    frame costs a few pandas calls whatever its size."""
    width = 4 + len(table.columns) + 1
    unit_columns = [list(column) for column in zip(*records, strict=True)] if records else [[]] * width
    numbers = {c.id: _floats(unit_columns[4 + i]) for i, c in enumerate(table.columns) if _summable(c)}
    province, province_index = _province_rows(table, index, numbers)
    province_columns = [list(column) for column in zip(*province, strict=True)] if province else [[]] * width
    arrays = [_object_array(unit_columns[j] + province_columns[j]) for j in range(4)]
    for i, column in enumerate(table.columns):
        cells = unit_columns[4 + i]
        if column.type == "bool":  # yes/no answers as the unit chose them; province rows count "Có"
            cells = _yes_no(cells)
        arrays.append(_typed(column, cells + province_columns[4 + i]))
    arrays.append(_object_array(unit_columns[-1] + province_columns[-1]))
    # Series of their own dtype, so that pandas does not read text columns as its string dtype
    frame = pd.DataFrame({j: pd.Series(a, dtype=a.dtype, copy=False) for j, a in enumerate(arrays)})
    frame.index = _index(index + province_index)
    frame.columns = [CODE, NAME, KIND, LINE] + [c.label for c in table.columns] + [APPROVED]
    return frame


def _yes_no(cells: list) -> list:
    shown = [_shown_answer(v) for v in cells]
    if any(v is not None and type(v) is not str for v in shown):
        # values that are neither yes, no nor text: as pandas' ``map`` gives them (numbers as floats)
        return pd.Series(cells, dtype=object).map(_shown_answer).tolist()
    return shown


def _shown_answer(v):
    return "Có" if v is True else "Không" if v is False else v


def _table_rows(schema: Schema, table: Table, units: list, reports: dict, values: dict, approved: set):
    kind_labels = {k.id: k.label for k in schema.unit_kinds}
    records, index = [], []
    for unit in units:
        if not schema.applies(table.applies_to, unit.kind):
            continue
        head = [unit.code, unit.name, kind_labels[unit.kind]]
        mark = "Có" if unit.code in approved else ""
        for slot, label, cells in _unit_slots(
            schema, table, unit.kind, reports[unit.code], values[unit.code]
        ):
            records.append(head + [label] + cells + [mark])
            index.append((unit.code, slot))
    return records, index


def _index(pairs: list[tuple[str, str]]) -> pd.MultiIndex:
    if not pairs:
        return pd.MultiIndex.from_arrays([[], []], names=["unit", "row"])
    return pd.MultiIndex.from_tuples(pairs, names=["unit", "row"])


def _unit_slots(schema: Schema, table: Table, kind: str, report: Report, values: dict):
    """(row key, row label, cell values) for each row of ``table`` the unit has: its fixed and
    total rows, and each list line it typed something into."""
    col_ids = [c.id for c in table.columns]
    for row in table.rows:
        if row.kind == "heading" or not schema.applies(row.applies_to, kind):
            continue
        if row.kind != "list":
            prefix = f"{table.id}/{row.id}/"
            yield row.id, row.label, [values.get(prefix + c) for c in col_ids]
            continue
        for n in range(1, report.list_lines.get((table.id, row.id), row.min_rows) + 1):
            prefix = f"{table.id}/{row.id}[{n}]/"
            cells = [values.get(prefix + c) for c in col_ids]
            label = values.get(prefix + "_label")
            if _blank(label) and all(_blank(v) for v in cells):
                continue  # an unused template line
            yield f"{row.id}[{n}]", label if not _blank(label) else f"Dòng {n}", cells


def _blank(value) -> bool:
    return value is None or value == ""


def _province_rows(table: Table, index: list, numbers: dict[str, np.ndarray]) -> tuple[list, list]:
    """The province's sums of each fixed and total row, and of each list no total row covers:
    (records, index)."""
    base = np.array([slot.partition("[")[0] for _, slot in index], dtype=object)  # "don_vi[3]" → "don_vi"
    unit_codes = [unit for unit, _ in index]
    covered = {part for r in table.rows if r.kind == "total" for part in table.total_parts(r)}
    records, province_index = [], []
    for row in table.rows:
        if row.kind == "heading" or (row.kind == "list" and row.id in covered):
            continue
        sums = {cid: _sum(series[base == row.id]) for cid, series in numbers.items()}
        records.append(
            ["", PROVINCE_NAME, "", _province_label(table, row, base, unit_codes)]
            + [_province_cell(table, row, c, sums) for c in table.columns]
            + [""]
        )
        province_index.append((PROVINCE, row.id))
    return records, province_index


def _sum(values: np.ndarray) -> float:
    """``Series.sum(min_count=1)`` of floats: NaN skipped (numpy's own summation of the rest,
    so the totals are the ones pandas gives), NaN when no number is there."""
    missing = np.isnan(values)
    if missing.all():
        return math.nan
    return float(np.where(missing, 0.0, values).sum())


def _summable(column) -> bool:
    return column.type in ("count", "decimal", "bool") or column.ratio_of is not None


def _floats(values: list) -> np.ndarray:
    """A column as floats: numbers as they are, True as 1, False as 0, text and blanks as NaN."""
    floats = []
    for v in values:
        kind = type(v)
        if kind is int or kind is float or kind is bool:
            floats.append(float(v))
        elif v is None or kind is str:
            floats.append(math.nan)
        else:  # any other kind of value: pandas' own reading of the column, as the master had it
            return _numbers(pd.Series(values, dtype=object)).to_numpy()
    return np.array(floats, dtype=float)


def _numbers(series: pd.Series) -> pd.Series:
    """pandas' reading of a column as floats (for values that are not plain numbers or text)."""
    if any(isinstance(v, bool | str) for v in series):
        series = series.map(lambda v: float(v) if isinstance(v, int | float) else math.nan)
    return pd.to_numeric(series, errors="coerce").astype(float)


def _province_label(table: Table, row: Row, base: np.ndarray, unit_codes: list) -> str:
    lists = [r.id for r in table.rows if r.kind == "list"]
    if row.kind == "list":
        parts = [row.id]
    elif row.kind == "total":
        parts = [p for p in table.total_parts(row) if p in lists]
    else:
        return row.label
    label = row.label if row.kind == "total" else "Tổng"
    if not parts:
        return label
    in_lists = [i for i, b in enumerate(base) if b in parts]
    units = len({unit_codes[i] for i in in_lists})
    return f"{label} ({len(in_lists)} dòng của {units} đơn vị)"


def _province_cell(table: Table, row: Row, column, sums: dict):
    if row.label.strip().casefold().startswith(RATE_ROW_PREFIXES):
        return None
    if column.ratio_of:
        num, den = (sums.get(c, math.nan) for c in column.ratio_of)
        rate = ratio_values(np.array([num], float), np.array([den], float), column.scale, column.decimals)[0]
        return None if math.isnan(rate) else _plain(rate)
    if column.type in ("count", "decimal", "bool"):
        total = sums.get(column.id, math.nan)
        return None if math.isnan(total) else _plain(total)
    return None


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _typed(column, cells: list):
    """Counts as whole numbers (blank where empty) unless one is not whole, decimals and rates
    as floats, the rest as they are."""
    if column.type in ("decimal", "percent"):
        return _floats(cells)
    if column.type != "count":
        return _object_array(cells)
    floats = _floats(cells)
    missing = np.isnan(floats)
    present = floats[~missing]
    if not (np.mod(present, 1) == 0).all():
        return floats
    if len(present) and np.abs(present).max() >= 2**63:  # beyond Int64: pandas says why
        return pd.Series(floats).astype("Int64").array
    return pd.arrays.IntegerArray(np.where(missing, 0, floats).astype(np.int64), missing)


def _object_array(cells: list) -> np.ndarray:
    array = np.empty(len(cells), dtype=object)
    array[:] = cells
    return array


# --- status and narratives ---------------------------------------------------------------------


def status_frame(
    schema: Schema, units: list, states: dict, urls: Mapping[str, str], approved: set
) -> pd.DataFrame:
    kind_labels = {k.id: k.label for k in schema.unit_kinds}
    records = []
    for unit in units:
        state = states.get(unit.code)
        records.append(
            [
                unit.code,
                unit.name,
                kind_labels[unit.kind],
                _state_label(state, unit.code in urls),
                _percent(state),
                _get(state, "errors") if state else None,
                _get(state, "warnings") if state else None,
                _when(_get(state, "last_change")) if state else "",
                _when(_get(state, "submitted_at")) if state else "",
                "Có" if unit.code in approved else "",
                urls.get(unit.code, ""),
            ]
        )
    frame = pd.DataFrame(
        records, columns=list(STATUS_COLUMNS), index=pd.Index([u.code for u in units], name="unit")
    )
    for label in ("Số lỗi", "Số cảnh báo"):
        frame[label] = frame[label].astype("Int64")
    frame["Hoàn thành (%)"] = pd.to_numeric(frame["Hoàn thành (%)"], errors="coerce")
    return frame


def _state_label(state: Mapping | None, provisioned: bool) -> str:
    if state is None:
        return "Chưa kiểm tra" if provisioned else "Chưa tạo bảng tính"
    label = STATE_LABELS.get(state["state"], state["state"])
    return label[:1].upper() + label[1:]


def _percent(state: Mapping | None) -> float | None:
    if state is None:
        return None
    required, filled = _get(state, "required") or 0, _get(state, "filled") or 0
    return 100.0 if required == 0 else round(100 * filled / required, 1)


def _when(value) -> str:
    """An ISO moment from the store as "14/03/2026 09:30" (Vietnam time)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{clock.local(moment):%d/%m/%Y %H:%M}"


def narrative_frame(schema: Schema, units: list, values: dict, approved: set) -> pd.DataFrame:
    """Each narrative field, then each unit it is asked of, with the unit's text (blank if none)."""
    kind_labels = {k.id: k.label for k in schema.unit_kinds}
    asked = {(n.id, kind) for kind in kind_labels for n in schema.narratives_for(kind)}
    records, index = [], []
    for narrative in schema.narratives:
        head = prompt_head(narrative.prompt)
        for unit in units:
            if (narrative.id, unit.kind) not in asked:
                continue
            text = values[unit.code].get(narrative.id)
            records.append(
                [
                    narrative.ref,
                    head,
                    unit.code,
                    unit.name,
                    kind_labels[unit.kind],
                    "" if text is None else str(text),
                    "Có" if unit.code in approved else "",
                ]
            )
            index.append((narrative.id, unit.code))
    return pd.DataFrame(
        records, columns=list(NARRATIVE_COLUMNS), index=_index(index).set_names(["narrative", "unit"])
    )


def prompt_head(prompt: str, limit: int = 100) -> str:
    """The first line of a prompt, cut at a word within ``limit`` characters."""
    line = prompt.strip().splitlines()[0].lstrip("-–• ").strip()
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
