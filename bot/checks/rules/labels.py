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
    r_label = row_label(schema, table.id, slot)
    typed = report.values.get(f"{table.id}/{slot}/{LABEL_COLUMN}") if "[" in slot else None
    if typed:
        r_label = f"{r_label} ({typed})"
    c_label = "tên dòng" if column_id == LABEL_COLUMN else table.column_by_id[column_id].label
    return f'Bảng {table.number}, dòng "{r_label}", cột "{c_label}"', r_label, c_label
