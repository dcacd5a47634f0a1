"""The master sheet as tabs any backend can write (see :mod:`bot.outline.layout`): a title, the
period, a header row, then one row per frame row of :class:`bot.reporting.master.Master`.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot import clock
from bot.outline.layout import CellSpec, TabLayout, WorkbookLayout
from bot.reporting.master import APPROVED, CODE, KIND, LINE, NAME, PROVINCE, Master, Sheet

WIDTHS = {
    CODE: 12,
    NAME: 30,
    KIND: 22,
    LINE: 40,
    APPROVED: 9,
    "Nội dung báo cáo": 90,
    "Nội dung đề cương": 40,
    "Liên kết bảng tính": 50,
    "Tình trạng": 20,
    "Thay đổi gần nhất": 17,
    "Thời điểm nộp": 17,
}


def plain_value(value):
    """A frame cell as a plain Python value: None for NaN / NA, int / float for numpy numbers."""
    kind = type(value)
    if kind is str or kind is int:  # most of a master's cells, first
        return value
    if kind is float:
        return None if math.isnan(value) else value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def master_layout(master: Master, period) -> WorkbookLayout:
    """The master as tabs: a title, the period, a header row, then one row per frame row
    (province rows in bold). Backends write text as text, so what a unit typed never runs."""
    return WorkbookLayout(
        title=master_title(period),
        unit_code=MASTER_UNIT,
        unit_name="Bảng tổng hợp",
        unit_kind="",
        period_id=period.id,
        schema_version=master.schema.version,
        tabs=master_tabs(master, period),
        fields={},
        blocks=[],
    )


def master_title(period) -> str:
    return f"Tổng hợp báo cáo CCHC {period.label}"


def master_tabs(master: Master, period, names: set[str] | None = None) -> list[TabLayout]:
    """The master's tabs in order; with ``names``, only those."""
    stamp = f"{clock.local(master.compiled_at):%d/%m/%Y %H:%M}" if master.compiled_at else ""
    subtitle = f"{period.label} — tổng hợp lúc {stamp}" + (f" — {master.province}" if master.province else "")
    return [frame_tab(s, subtitle) for s in master.sheets() if names is None or s.name in names]


MASTER_UNIT = "_master"


def frame_tab(sheet: Sheet, subtitle: str) -> TabLayout:
    frame = sheet.frame
    columns = list(frame.columns)
    tab = TabLayout(name=sheet.name, landscape=True)
    tab.put(1, 1, CellSpec(sheet.title, style="title"))
    tab.merges.append((1, 1, 1, max(len(columns), 2)))
    tab.put(2, 1, CellSpec(subtitle, style="subtitle"))
    for j, label in enumerate(columns, start=1):
        tab.put(3, j, CellSpec(label, style="header"))
        tab.col_widths[j] = WIDTHS.get(label, 14)
    tab.row_heights[3] = 45
    units = frame.index.get_level_values(0).tolist() if len(frame) else []
    cells = tab.cells  # filled directly: a master tab has tens of thousands of cells
    blanks = {style: CellSpec(None, style=style) for style in ("total", "label")}  # never mutated
    # the whole frame converted to Python objects once, not a tuple built per row
    for i, (unit, row) in enumerate(zip(units, frame.to_numpy(dtype=object).tolist(), strict=True), start=4):
        style = "total" if unit == PROVINCE else "label"
        for j, value in enumerate(row, start=1):
            value = _shown(plain_value(value))
            cells[(i, j)] = blanks[style] if value is None or value == "" else CellSpec(value, style=style)
    return tab


def _shown(value):
    """Dates as the Vietnamese write them; everything else as it is."""
    if value is None or type(value) in (str, int, float):
        return value
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return value


def sheet_digest(sheet: Sheet) -> str:
    """What the tab of ``sheet`` shows but the time it was compiled (its subtitle), from the
    frame it is made of, so a tab is built and rewritten only when its digest changed. The
    source of this module is in it: a change of how tabs look rewrites them all."""
    frame = sheet.frame
    units = list(frame.index.get_level_values(0)) if len(frame) else []
    shown = [sheet.name, sheet.title, list(frame.columns), units, frame.values.tolist()]
    return hashlib.sha256(f"{_LAYOUT_CODE}{shown!r}".encode()).hexdigest()


_LAYOUT_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
