"""The master sheet as tabs any backend can write (see :mod:`bot.outline.layout`): a title, the
period, a header row, then one row per frame row of :class:`bot.reporting.master.Master`.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime

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
    stamp = f"{clock.local(master.compiled_at):%d/%m/%Y %H:%M}" if master.compiled_at else ""
    subtitle = f"{period.label} — tổng hợp lúc {stamp}" + (f" — {master.province}" if master.province else "")
    return WorkbookLayout(
        title=f"Tổng hợp báo cáo CCHC {period.label}",
        unit_code=MASTER_UNIT,
        unit_name="Bảng tổng hợp",
        unit_kind="",
        period_id=period.id,
        schema_version=master.schema.version,
        tabs=[frame_tab(s, subtitle) for s in master.sheets()],
        fields={},
        blocks=[],
    )


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
    units = frame.index.get_level_values(0) if len(frame) else []
    for i, row in enumerate(frame.itertuples(index=False), start=4):
        style = "total" if units[i - 4] == PROVINCE else "label"
        for j, value in enumerate(row, start=1):
            value = _shown(plain_value(value))
            tab.put(i, j, CellSpec(value if value != "" else None, style=style))
    return tab


def _shown(value):
    """Dates as the Vietnamese write them; everything else as it is."""
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return value


SUBTITLE_CELL = (2, 1)  # "<period> — tổng hợp lúc <time>" (frame_tab)


def tab_digest(tab) -> str:
    """What a master tab shows, but the time it was compiled (its subtitle): a tab whose
    digest is unchanged is not rewritten."""
    cells = sorted(
        (pos, repr(spec.value), spec.formula, spec.style, spec.link)
        for pos, spec in tab.cells.items()
        if pos != SUBTITLE_CELL
    )
    shape = [
        sorted(tab.merges),
        sorted(tab.col_widths.items()),
        sorted(tab.row_heights.items()),
        tab.landscape,
    ]
    return hashlib.sha256(repr([cells, shape]).encode("utf-8")).hexdigest()
