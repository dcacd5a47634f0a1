"""Layouts as Sheets requests: the batchUpdate requests that lay out a template, replace a
program-owned tab, set cells and protect ranges, in a vi_VN spreadsheet."""

from __future__ import annotations

import re
import unicodedata
import zlib
from datetime import date, datetime
from typing import Any

from bot.outline.layout import TabLayout, WorkbookLayout
from bot.outline.styles import STYLES
from bot.sheets.backends.base import (
    Protect,
    SetCells,
)
from bot.sheets.values import unquote_formula_like

LOCALE, TIME_ZONE = "vi_VN", "Asia/Ho_Chi_Minh"
SPARE_ROWS = 10  # rows left below a template's last row


def tab_sheet_id(name: str) -> int:
    """The sheetId every spreadsheet gives the tab called ``name`` (1 … 2³¹−1, never 0)."""
    return zlib.crc32(unicodedata.normalize("NFC", name).encode("utf-8")) % (2**31 - 2) + 1


def _sheet_id(title: str, sheets: dict[str, dict] | None) -> int:
    if sheets and title in sheets:
        return sheets[title]["id"]
    return tab_sheet_id(title)


def quote_tab(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def layout_requests(layout: WorkbookLayout, editors: list[str]) -> list[dict]:
    """One batch that turns a fresh spreadsheet (one default tab, id 0) into the layout."""
    ids = [tab_sheet_id(t.name) for t in layout.tabs]
    if len(set(ids)) != len(ids) or 0 in ids:
        raise ValueError("two tab names give the same sheet id; rename one")
    requests_: list[dict] = [
        {
            "updateSpreadsheetProperties": {
                "properties": {"locale": LOCALE, "timeZone": TIME_ZONE},
                "fields": "locale,timeZone",
            }
        }
    ]
    for index, (tab, sheet_id) in enumerate(zip(layout.tabs, ids, strict=True)):
        requests_.append({"addSheet": {"properties": _sheet_properties(tab, sheet_id, index)}})
    requests_.append({"deleteSheet": {"sheetId": 0}})  # the default "Sheet1" / "Trang tính1"
    for tab, sheet_id in zip(layout.tabs, ids, strict=True):
        requests_ += tab_content_requests(tab, sheet_id)
        if tab.protected:
            requests_.append(_protect(sheet_id, _input_rectangles(tab), editors, TEMPLATE_PROTECTION))
    return requests_


TEMPLATE_PROTECTION = "Mẫu báo cáo: chỉ nhập vào các ô nền vàng nhạt"
APPROVED_PROTECTION = "Báo cáo đã được phê duyệt: đã khóa toàn bộ"


def _sheet_properties(tab: TabLayout, sheet_id: int, index: int | None = None) -> dict:
    props = {"sheetId": sheet_id, "title": tab.name, "gridProperties": _grid_size(tab)}
    if index is not None:
        props["index"] = index
    return props


def _grid_size(tab: TabLayout) -> dict:
    cols = max([tab.max_col, 1, *tab.col_widths, *(c2 for *_, c2 in tab.merges)])
    rows = max([tab.max_row, *(r2 for _, _, r2, _ in tab.merges), *tab.row_heights, 1]) + SPARE_ROWS
    return {"rowCount": rows, "columnCount": cols}


def tab_content_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    """Values, formulas, formats, merges, sizes and validations of one tab (not its protection)."""
    requests_: list[dict] = []
    if tab.cells:
        rows = [
            {"values": [_cell_value(tab.cells.get((r, c))) for c in range(1, tab.max_col + 1)]}
            for r in range(1, tab.max_row + 1)
        ]
        requests_.append(
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                    "rows": rows,
                    "fields": "userEnteredValue",
                }
            }
        )
    requests_ += _format_requests(tab, sheet_id)
    for r1, c1, r2, c2 in tab.merges:
        requests_.append({"mergeCells": {"range": _grid(sheet_id, r1, c1, r2, c2), "mergeType": "MERGE_ALL"}})
    requests_ += _dimension_requests(
        sheet_id, "COLUMNS", {c: round(w * 7 + 5) for c, w in tab.col_widths.items()}
    )
    requests_ += _dimension_requests(
        sheet_id, "ROWS", {r: round(h * 4 / 3) for r, h in tab.row_heights.items()}
    )
    requests_ += _validation_requests(tab, sheet_id)
    return requests_


def replace_tab_requests(
    tab: TabLayout, sheet_id: int, exists: bool, index: int, editors: list[str]
) -> list[dict]:
    """Clear a program-owned tab and lay it out again in place (its protection stays)."""
    if not exists:
        requests_ = [{"addSheet": {"properties": _sheet_properties(tab, sheet_id, index)}}]
        if tab.protected:
            requests_.append(_protect(sheet_id, _input_rectangles(tab), editors, TEMPLATE_PROTECTION))
        return requests_ + tab_content_requests(tab, sheet_id)
    size = _grid_size(tab)
    return [
        {"unmergeCells": {"range": {"sheetId": sheet_id}}},
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": size},
                "fields": "gridProperties.rowCount,gridProperties.columnCount",
            }
        },
        {"updateCells": {"range": {"sheetId": sheet_id}, "fields": "*"}},
        {
            "updateDimensionProperties": {
                "range": {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": 0},
                "properties": {"pixelSize": 21},
                "fields": "pixelSize",
            }
        },
        *tab_content_requests(tab, sheet_id),
    ]


def set_cells_requests(edit: SetCells, sheet_id: int) -> list[dict]:
    """Values only, one updateCells per run of neighbouring cells in a row."""
    requests_ = []
    for row, first, last in _runs({pos for pos in edit.cells}):
        values = [{"userEnteredValue": _extended_value(edit.cells[(row, c)])} for c in range(first, last + 1)]
        requests_.append(
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": row - 1, "columnIndex": first - 1},
                    "rows": [{"values": values}],
                    "fields": "userEnteredValue",
                }
            }
        )
    return requests_


def protect_requests(edit: Protect, sheets: dict[str, dict], editors: list[str]) -> list[dict]:
    """Drop every protection and protect each tab again: wholly, or all but its input cells."""
    requests_: list[dict] = []
    for title, sheet in sheets.items():
        requests_ += [{"deleteProtectedRange": {"protectedRangeId": pid}} for pid in sheet["protected"]]
        if edit.whole:
            requests_.append(_protect(sheet["id"], [], editors, APPROVED_PROTECTION))
            continue
        anchors = {(r1, c1): (r1, c1, r2, c2) for r1, c1, r2, c2 in sheet["merges"]}
        cells = edit.input_cells.get(title, [])
        rects = _rectangles({p for p in cells if p not in anchors}) + [
            anchors[p] for p in cells if p in anchors
        ]
        requests_.append(_protect(sheet["id"], rects, editors, TEMPLATE_PROTECTION))
    return requests_


def _protect(
    sheet_id: int, unprotected: list[tuple[int, int, int, int]], editors: list[str], description: str
) -> dict:
    protected: dict[str, Any] = {
        "range": {"sheetId": sheet_id},
        "description": description,
        "warningOnly": False,
        "editors": {"users": list(editors), "domainUsersCanEdit": False},
    }
    if unprotected:
        protected["unprotectedRanges"] = [_grid(sheet_id, *rect) for rect in unprotected]
    return {"addProtectedRange": {"protectedRange": protected}}


def _grid(sheet_id: int, r1: int, c1: int, r2: int, c2: int) -> dict:
    """1-based inclusive (r1, c1)–(r2, c2) as a half-open 0-based GridRange."""
    return {
        "sheetId": sheet_id,
        "startRowIndex": r1 - 1,
        "endRowIndex": r2,
        "startColumnIndex": c1 - 1,
        "endColumnIndex": c2,
    }


def _input_rectangles(tab: TabLayout) -> list[tuple[int, int, int, int]]:
    """The tab's input cells as few rectangles; a merged input cell counts with its whole merge."""
    merges = {(r1, c1): (r1, c1, r2, c2) for r1, c1, r2, c2 in tab.merges}
    inputs = [pos for pos, spec in tab.cells.items() if spec.input]
    return _rectangles({p for p in inputs if p not in merges}) + [merges[p] for p in inputs if p in merges]


def _runs(cells: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(row, first col, last col) for each run of horizontally adjacent cells."""
    runs = []
    for row, col in sorted(cells):
        if runs and runs[-1][0] == row and runs[-1][2] == col - 1:
            runs[-1] = (row, runs[-1][1], col)
        else:
            runs.append((row, col, col))
    return runs


def _rectangles(cells: set[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Cells as rectangles: row runs, stacked when the same columns continue on the next row."""
    open_: dict[tuple[int, int], list[int]] = {}  # (c1, c2) → [r1, r2]
    done = []
    for row, c1, c2 in _runs(cells):
        span = open_.get((c1, c2))
        if span and span[1] == row - 1:
            span[1] = row
        else:
            if span:
                done.append((span[0], c1, span[1], c2))
            open_[(c1, c2)] = [row, row]
    done += [(r1, c1, r2, c2) for (c1, c2), (r1, r2) in open_.items()]
    return sorted(done)


def _dimension_requests(sheet_id: int, dimension: str, sizes: dict[int, int]) -> list[dict]:
    requests_ = []
    for first, last, size in _equal_runs(sizes):
        requests_.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": dimension,
                        "startIndex": first - 1,
                        "endIndex": last,
                    },
                    "properties": {"pixelSize": size},
                    "fields": "pixelSize",
                }
            }
        )
    return requests_


def _equal_runs(sizes: dict[int, int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for index in sorted(sizes):
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == sizes[index]:
            runs[-1] = (runs[-1][0], index, sizes[index])
        else:
            runs.append((index, index, sizes[index]))
    return runs


def _validation_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    groups: dict[tuple, set[tuple[int, int]]] = {}
    for pos, spec in tab.cells.items():
        v = spec.validation
        if v:
            groups.setdefault((v.kind, v.min, v.max, v.choices), set()).add(pos)
    requests_ = []
    for (kind, low, high, choices), cells in groups.items():
        rule = _validation_rule(kind, low, high, choices)
        for rect in _rectangles(cells):
            requests_.append({"setDataValidation": {"range": _grid(sheet_id, *rect), "rule": rule}})
    return requests_


def _validation_rule(kind: str, low, high, choices) -> dict:
    """The workbook backend's validations as Sheets rules: warnings (strict=False), never refusals."""
    if kind == "list":
        condition = {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": c} for c in choices]}
        message = "Hãy chọn một giá trị trong danh sách."
    elif kind == "whole":
        condition = {
            "type": "NUMBER_GREATER_THAN_EQ",
            "values": [{"userEnteredValue": _number_text(low or 0)}],
        }
        message = "Ô này cần một số nguyên không âm."
    elif kind == "decimal" and high is not None:
        condition = {
            "type": "NUMBER_BETWEEN",
            "values": [
                {"userEnteredValue": _number_text(low or 0)},
                {"userEnteredValue": _number_text(high)},
            ],
        }
        message = "Ô này cần một tỷ lệ phần trăm từ 0 đến 100."
    elif kind == "date":
        condition = {"type": "DATE_IS_VALID"}
        message = "Ô này cần một ngày (ngày/tháng/năm)."
    else:
        condition = {
            "type": "NUMBER_BETWEEN",
            "values": [{"userEnteredValue": "-1000000000000000"}, {"userEnteredValue": "1000000000000000"}],
        }
        message = "Ô này cần một số."
    return {"condition": condition, "inputMessage": message, "strict": False, "showCustomUi": kind == "list"}


def _number_text(number: float) -> str:
    """A number as vi_VN reads it in a rule: decimal comma."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}".replace(".", ",")


# --- cells -------------------------------------------------------------------------------------------


def _format_requests(tab: TabLayout, sheet_id: int) -> list[dict]:
    """Formats by style, one repeatCell per rectangle of cells sharing a style (a table body is
    one rectangle), instead of a format repeated in every cell of the batch."""
    by_style: dict[str, set[tuple[int, int]]] = {}
    for pos, spec in tab.cells.items():
        by_style.setdefault(spec.style if spec.style in _FORMATS else "text", set()).add(pos)
    requests_ = []
    for style, cells in sorted(by_style.items()):
        for rect in _rectangles(cells):
            requests_.append(
                {
                    "repeatCell": {
                        "range": _grid(sheet_id, *rect),
                        "cell": {"userEnteredFormat": _FORMATS[style]},
                        "fields": "userEnteredFormat",
                    }
                }
            )
    return requests_


def _cell_value(spec) -> dict:
    if spec is None:
        return {}
    data: dict[str, Any] = {}
    if spec.link:
        tab_name, _, a1 = spec.link.rpartition("!")
        label = spec.value if spec.value is not None else a1
        data["userEnteredValue"] = {"formulaValue": hyperlink(tab_sheet_id(tab_name), a1, str(label))}
    elif spec.formula:
        data["userEnteredValue"] = {"formulaValue": localise_formula(spec.formula)}
    elif spec.value is not None:
        data["userEnteredValue"] = _extended_value(spec.value)
    return data


def hyperlink(sheet_id: int, a1: str, label: str) -> str:
    return f'=HYPERLINK("#gid={sheet_id}&range={a1}";"{label.replace(chr(34), chr(34) * 2)}")'


def _extended_value(value) -> dict:
    """A value as typed text never turns into a formula: strings go as stringValue. A leading
    apostrophe before formula-like text (the spreadsheet convention for "this is text", which
    :func:`bot.sheets.values.quote_formula_like` adds) is dropped, since Sheets stores
    stringValue literally."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    if isinstance(value, datetime):
        return {"stringValue": f"{value:%d/%m/%Y %H:%M}"}
    if isinstance(value, date):
        return {"stringValue": f"{value:%d/%m/%Y}"}
    return {"stringValue": unquote_formula_like(str(value))}


def localise_formula(formula: str) -> str:
    """An A1 formula written with "," between arguments, rewritten with ";" and decimal commas
    (what a vi_VN spreadsheet parses; ";" works in every locale). Quoted text and quoted tab
    names are left alone."""
    out, quote = [], None
    for i, char in enumerate(formula):
        if quote:
            quote = None if char == quote else quote
            out.append(char)
        elif char in "\"'":
            quote = char
            out.append(char)
        elif char == ",":
            out.append(";")
        elif (
            char == "."
            and i
            and formula[i - 1].isdigit()
            and formula[i + 1 : i + 2].isdigit()
            and _in_number(formula, i)
        ):
            out.append(",")
        else:
            out.append(char)
    return "".join(out)


def _in_number(formula: str, dot: int) -> bool:
    """Whether the digits before ``dot`` are a number literal, not the end of a reference."""
    start = dot
    while start and formula[start - 1].isdigit():
        start -= 1
    return not start or not (formula[start - 1].isalnum() or formula[start - 1] in "_$")


_HALIGN = {"center": "CENTER", "right": "RIGHT", "left": "LEFT"}
_VALIGN = {"center": "MIDDLE", "top": "TOP", "bottom": "BOTTOM"}


def cell_format(style: str) -> dict:
    """The layout's style (bot.outline.styles.STYLES) as a Sheets CellFormat: the same look as the workbooks."""
    return _FORMATS.get(style, _FORMATS["text"])


def _rgb(argb: str | None) -> dict:
    hexa = (argb or "000000")[-6:]
    return {
        "rgbColor": {
            name: round(int(hexa[i : i + 2], 16) / 255, 4)
            for name, i in (("red", 0), ("green", 2), ("blue", 4))
        }
    }


def _format_of(font, fill, border, align, number_format) -> dict:
    fmt: dict[str, Any] = {}
    if font:
        text: dict[str, Any] = {}
        if font.b:
            text["bold"] = True
        if font.i:
            text["italic"] = True
        if font.sz:
            text["fontSize"] = int(font.sz)
        if font.u:
            text["underline"] = True
        if font.color is not None and isinstance(font.color.rgb, str):
            text["foregroundColorStyle"] = _rgb(font.color.rgb)
        fmt["textFormat"] = text
    if fill:
        fmt["backgroundColorStyle"] = _rgb(fill.start_color.rgb)
    if border:
        side = {"style": "SOLID", "colorStyle": _rgb(border.left.color.rgb if border.left.color else None)}
        fmt["borders"] = {"top": side, "bottom": side, "left": side, "right": side}
    if align:
        if align.horizontal in _HALIGN:
            fmt["horizontalAlignment"] = _HALIGN[align.horizontal]
        if align.vertical in _VALIGN:
            fmt["verticalAlignment"] = _VALIGN[align.vertical]
        if align.wrap_text:
            fmt["wrapStrategy"] = "WRAP"
    if number_format == "@":
        fmt["numberFormat"] = {"type": "TEXT", "pattern": "@"}
    elif number_format:
        fmt["numberFormat"] = {"type": "NUMBER", "pattern": number_format}
    return fmt


_FORMATS = {key: _format_of(*parts) for key, parts in STYLES.items()}


# --- A1 helper used by callers (forms intake) ----------------------------------------------------------

_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def parse_where(where: str) -> tuple[str, int, int] | None:
    """ "'Tab'!B12" → ("Tab", 12, 2)."""
    tab, _, a1 = where.rpartition("!")
    if tab.startswith("'") and tab.endswith("'"):
        tab = tab[1:-1].replace("''", "'")
    match = _A1.match(a1.upper())
    if not tab or not match:
        return None
    letters, row = match.groups()
    col = 0
    for char in letters:
        col = col * 26 + ord(char) - 64
