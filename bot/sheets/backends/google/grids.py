"""Reading a spreadsheet: Sheets grid data as rows of what the clerk typed."""

from __future__ import annotations

import re

GRID_FIELDS = (
    "sheets(properties(title),data(startRow,startColumn,"
    "rowData(values(userEnteredValue,userEnteredFormat(numberFormat(type,pattern))))))"
)


def _grid_rows(data: list[dict]) -> list[list[object]]:
    """A tab's GridData (whole-tab ranges start at A1) as rows of typed values, trailing empties cut."""
    rows: list[list[object]] = []
    for block in data:
        top, left = block.get("startRow", 0), block.get("startColumn", 0)
        for i, row in enumerate(block.get("rowData") or []):
            while len(rows) <= top + i:
                rows.append([])
            cells = [None] * left + [_typed(cell) for cell in row.get("values") or []]
            rows[top + i] = _trimmed(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _trimmed(cells: list[object]) -> list[object]:
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def _typed(cell: dict) -> object:
    """What the clerk typed: a formula as "=…", a percent-formatted number on 0–100."""
    value = cell.get("userEnteredValue") or {}
    if "formulaValue" in value:
        return value["formulaValue"]
    if "numberValue" in value:
        number = value["numberValue"]
        if _is_percent((cell.get("userEnteredFormat") or {}).get("numberFormat") or {}):
            number = round(number * 100, 10)
        return (
            int(number)
            if isinstance(number, float) and number.is_integer() and abs(number) < 1e15
            else number
        )
    if "boolValue" in value:
        return value["boolValue"]
    text = value.get("stringValue")
    return text if text else None


def _is_percent(number_format: dict) -> bool:
    """A PERCENT format, or a pattern with an unquoted "%" (which scales the number by 100)."""
    pattern = re.sub(r'"[^"]*"|\\.', "", str(number_format.get("pattern") or ""))
    return number_format.get("type") == "PERCENT" or "%" in pattern
