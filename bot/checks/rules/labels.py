"""How findings name a cell and show a value, in Vietnamese."""

from __future__ import annotations

import math

from bot.checks.report import Report, row_label
from bot.checks.rules.frame import LABEL_COLUMN, plain
from bot.outline.schema import Schema, Table
from bot.sheets.parsed import format_number

EMPTY_SHOWN = "(để trống)"


def format_value(x: float, decimals: int = 6) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return EMPTY_SHOWN
    return format_number(plain(x), decimals)


def cell_labels(
    schema: Schema, table: Table, slot: str, column_id: str, report: Report
) -> tuple[str, str, str]:
    """(label for messages, row label, column label) of one cell, in Vietnamese."""
    if "[" not in slot:  # a fixed row: the same words for every unit
        key = (id(schema), table.id, slot, column_id)
        if key not in _FIXED:
            if len(_FIXED) > 20_000:
                _FIXED.clear()
            _FIXED[key] = (schema, _labels(schema, table, slot, column_id, None))
        return _FIXED[key][1]
    typed = report.values.get(f"{table.id}/{slot}/{LABEL_COLUMN}")
    return _labels(schema, table, slot, column_id, typed)


def _labels(schema: Schema, table: Table, slot: str, column_id: str, typed) -> tuple[str, str, str]:
    r_label = row_label(schema, table.id, slot)
    if typed:
        r_label = f"{r_label} ({typed})"
    c_label = "tên dòng" if column_id == LABEL_COLUMN else table.column_by_id[column_id].label
    return f'Bảng {table.number}, dòng "{r_label}", cột "{c_label}"', r_label, c_label


# A fixed row's labels by (schema, by id; table, row, column). The entry holds its schema, so
# that id is never reused for another schema while the entry lives.
_FIXED: dict[tuple, tuple] = {}
