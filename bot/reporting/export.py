"""Export the master of a period: xlsx, csv, json or docx.

* xlsx: one sheet per frame (status, narratives, each table), the header in row 1.
* csv: one file per frame, in a folder, or in a zip when the path ends with ``.zip``. Files are
  UTF-8 with a byte-order mark, because Excel opens a BOM-less UTF-8 CSV in the machine's
  legacy code page and garbles Vietnamese; commas separate fields, a dot separates decimals and
  lines end with CRLF (RFC 4180), so other programs read the files as they are. To open the
  data in Excel on a machine set to Vietnamese (which expects ";"), use the xlsx export.
* json: everything, with the row ids of each frame (``unit``, ``row``, ``narrative``).
* docx: the consolidated report (:mod:`bot.word_report`).

Formula injection (OWASP "CSV Injection"): text a unit typed that begins with "=", "+", "-",
"@", a tab or a carriage return must never run as a formula in a spreadsheet program. In xlsx
such text is a string cell (data type "s", with the quote-prefix style Excel itself uses for
text typed after an apostrophe); in csv it gets a leading single quote. Numbers, negative ones
included, stay numbers.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.reporting.master import (
    PROVINCE,
    Master,
    Sheet,
    is_formula_like,
    quote_formula_like,
)
from bot.reporting.master_layout import WIDTHS, plain_value

FORMATS = ("xlsx", "csv", "json", "docx")
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DCE6F1", end_color="DCE6F1")
HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")


class ExportError(ValueError):
    def user_message(self) -> str:
        return str(self)


def export(master: Master, fmt: str, out_path: str | Path) -> Path:
    """Write ``master`` as ``fmt`` to ``out_path``; returns the path written."""
    out = Path(out_path)
    writers = {"xlsx": export_xlsx, "csv": export_csv, "json": export_json, "docx": export_docx}
    if fmt not in writers:
        raise ExportError(f"Định dạng '{fmt}' không được hỗ trợ; chọn một trong: {', '.join(FORMATS)}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    writers[fmt](master, out)
    return out


# --- xlsx ----------------------------------------------------------------------------------------


def export_xlsx(master: Master, out: Path) -> None:
    wb = Workbook(write_only=True)
    for sheet in master.sheets():
        _xlsx_sheet(wb, sheet)
    _atomically(out, wb.save)


def _xlsx_sheet(wb: Workbook, sheet: Sheet) -> None:
    ws = wb.create_sheet(sheet.name)
    frame = sheet.frame
    for j, label in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(j)].width = WIDTHS.get(label, 14)
    ws.freeze_panes = "A2"
    ws.append([_header_cell(ws, label) for label in frame.columns])
    units = frame.index.get_level_values(0) if len(frame) else []
    for i, row in enumerate(frame.itertuples(index=False)):
        bold = units[i] == PROVINCE
        ws.append([xlsx_cell(ws, plain_value(v), bold) for v in row])


def _header_cell(ws, label: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=label)
    cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, HEADER_ALIGN
    return cell


def xlsx_cell(ws, value, bold: bool = False):
    """A value for a write-only sheet; text that looks like a formula stays text."""
    if not (bold or is_formula_like(value)):
        return value
    cell = WriteOnlyCell(ws, value=value)
    if is_formula_like(value):
        cell.data_type = "s"  # openpyxl took the leading "=" for a formula; it is what the unit typed
        cell.quotePrefix = True
    if bold:
        cell.font = BOLD
    return cell


# --- csv -----------------------------------------------------------------------------------------


def export_csv(master: Master, out: Path) -> None:
    files = {csv_name(master, sheet): csv_bytes(sheet.frame) for sheet in master.sheets()}
    if out.suffix.lower() == ".zip":

        def write_zip(path):
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in files.items():
                    zf.writestr(name, data)

        _atomically(out, write_zip)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


def csv_name(master: Master, sheet: Sheet) -> str:
    """ASCII file names, which every zip tool and file system handles the same way."""
    fixed = {"status": "00_tinh_trang.csv", "narratives": "01_noi_dung.csv"}
    if sheet.key in fixed:
        return fixed[sheet.key]
    return f"bang_{master.schema.table_by_id[sheet.key].number:02d}_{sheet.key}.csv"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    safe = frame.copy()
    for label in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[label]):  # object or pandas' own str dtype
            safe[label] = safe[label].map(_csv_text)
    text = safe.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def _csv_text(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return quote_formula_like(value)


# --- json ----------------------------------------------------------------------------------------


def export_json(master: Master, out: Path) -> None:
    doc = {
        "period": master.period_id,
        "period_label": master.period_label,
        "province": master.province,
        "compiled_at": master.compiled_at.isoformat() if master.compiled_at else None,
        "units_reporting": master.units_reporting,
        "units_approved": master.units_approved,
        "status": _records(master.status),
        "narratives": _records(master.narratives),
        "tables": [
            {
                "id": t.id,
                "number": t.number,
                "ref": t.ref,
                "title": t.title,
                "columns": [c.label for c in t.columns],
                "rows": _records(master.tables[t.id]),
            }
            for t in master.schema.tables
        ],
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default)
    _atomically(out, lambda path: Path(path).write_text(text, encoding="utf-8"))


def _records(frame: pd.DataFrame) -> list[dict]:
    flat = frame.reset_index()
    return [
        {k: plain_value(v) for k, v in zip(flat.columns, row, strict=True)}
        for row in flat.itertuples(index=False)
    ]


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# --- docx ----------------------------------------------------------------------------------------


def export_docx(master: Master, out: Path) -> None:
    from bot.reporting.word_report import write_report

    _atomically(out, lambda path: write_report(master, path))


def _atomically(out: Path, write) -> None:
    """Write through a temporary file and one rename: a reader never sees half an export."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=out.suffix + ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # an export is for others to open; mkstemp made it private
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
