"""The embedded backend: a folder of ``.xlsx`` workbooks, written and read with openpyxl, and at
the level of the file's parts for the common operations (:mod:`.xlsx_parts`, openpyxl as fallback).

A workbook is ``<root>/<period>/<unit>.xlsx``. Writes go to a temporary file that replaces
the workbook in one rename, so a killed run never leaves half a workbook. A workbook that
Excel or LibreOffice has open (their lock files ``~$name.xlsx`` / ``.~lock.name.xlsx#``) is
not written: the write raises :class:`SheetBusy` and the caller retries on a later pass, so
nothing the unit is typing is overwritten by a save of ours.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from copy import copy
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ..clock import TZ
from ..layout import TabLayout, WorkbookLayout
from ..values import Text
from . import xlsx_parts
from .base import (
    Backend,
    Edit,
    Grids,
    Protect,
    ReplaceTab,
    SetCells,
    SheetBusy,
    SheetMissing,
    SheetRef,
    SheetUnreadable,
)

THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(wrap_text=True, horizontal="center", vertical="center")
TOP = Alignment(wrap_text=True, vertical="top")
ONE_LINE = Alignment(vertical="center")  # runs over the empty cells to its right


def _fill(rgb: str) -> PatternFill:
    return PatternFill("solid", start_color=rgb, end_color=rgb)


# style key → (font, fill, border, alignment, number format)
STYLES = {
    "title": (Font(bold=True, size=13), None, None, ONE_LINE, None),
    "subtitle": (Font(italic=True, size=11), None, None, ONE_LINE, None),
    "anchor": (Font(bold=True, color="1F3864"), None, None, ONE_LINE, None),
    "heading": (Font(bold=True), None, None, ONE_LINE, None),
    "prompt": (Font(italic=True), _fill("F2F2F2"), BOX, TOP, None),
    "header": (Font(bold=True), _fill("DCE6F1"), BOX, CENTER, None),
    "label": (None, None, BOX, WRAP, None),
    "total": (Font(bold=True), None, BOX, WRAP, None),
    "input": (None, _fill("FFF6D5"), BOX, Alignment(horizontal="right", vertical="center"), "#,##0.##"),
    "input_text": (None, _fill("FFF6D5"), BOX, WRAP, "@"),
    "narrative": (None, _fill("FFF6D5"), BOX, TOP, "@"),
    "computed": (None, _fill("EAF1E4"), BOX, Alignment(horizontal="right", vertical="center"), "0.0"),
    "computed_total": (Font(bold=True), _fill("EAF1E4"), BOX, Alignment(horizontal="right", vertical="center"), "#,##0.##"),
    "locked": (None, None, BOX, None, None),
    "na": (None, _fill("D9D9D9"), BOX, None, None),
    "note": (Font(italic=True, size=9), None, None, WRAP, None),
    "status": (Font(bold=True, color="1F3864"), None, BOX, WRAP, None),
    "text": (None, None, None, WRAP, None),
    "error": (Font(color="C00000"), None, BOX, WRAP, None),
    "warning": (Font(color="B26B00"), None, BOX, WRAP, None),
    "link": (Font(color="0563C1", underline="single"), None, BOX, WRAP, None),
}

LOCK_FILES = ("~${name}", ".~lock.{name}#")


class WorkbookBackend(Backend):
    name = "workbook"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # --- where things are -----------------------------------------------------------------

    def path_for(self, tags: dict[str, str]) -> Path:
        safe = lambda s: re.sub(r"[^A-Za-z0-9_.-]", "_", s)  # noqa: E731
        return self.root / safe(tags["period"]) / f"{safe(tags['unit'])}.xlsx"

    def _ref(self, path: Path) -> SheetRef:
        return SheetRef(id=str(path), url=path.resolve().as_uri())

    def find(self, tags):
        path = self.path_for(tags)
        return self._ref(path) if path.exists() else None

    def allocate(self, title, tags):
        path = self.path_for(tags)
        path.parent.mkdir(parents=True, exist_ok=True)
        return self._ref(path)

    def is_laid_out(self, ref):
        return Path(ref.id).exists()

    # --- creating ---------------------------------------------------------------------------

    def lay_out(self, ref, layout: WorkbookLayout):
        path = Path(ref.id)
        if path.exists():
            return  # never lay a template over a workbook a unit may have typed into
        # a copy of the template of the unit's kind with the unit's own cells patched in
        if layout.unit_kind and xlsx_parts.attempt("lay_out", _replace_atomically, path,
                                                   lambda target: xlsx_parts.from_template(layout, target)):
            return
        _save_atomically(build_workbook(layout), path)

    # --- reading ----------------------------------------------------------------------------

    def read(self, ref) -> Grids:
        path = Path(ref.id)
        if not path.exists():
            raise SheetMissing(f"Không tìm thấy tệp {path.name}", ref=ref)
        grids = xlsx_parts.attempt("read", xlsx_parts.read_grids, path)
        return grids if grids is not None else read_with_openpyxl(path, ref)

    def tags(self, path: str | Path) -> dict[str, str]:
        """The tags a workbook was provisioned with (to check a lone file offline)."""
        try:
            wb = load_workbook(path, read_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise SheetUnreadable(f"Không mở được tệp {Path(path).name} ({type(e).__name__})") from None
        try:
            return {p.name: p.value for p in wb.custom_doc_props.props}
        finally:
            wb.close()

    def modified_times(self, refs):
        times = {}
        for ref in refs:
            try:
                times[ref.id] = datetime.fromtimestamp(os.stat(ref.id).st_mtime, TZ)
            except FileNotFoundError:
                times[ref.id] = None
        return times

    # --- writing ----------------------------------------------------------------------------

    def write(self, ref, edits: list[Edit]):
        path = Path(ref.id)
        if not path.exists():
            raise SheetMissing(f"Không tìm thấy tệp {path.name}", ref=ref)
        if self._held_open(path):
            raise SheetBusy(f"Tệp {path.name} đang được mở trong một chương trình khác; sẽ ghi lại sau", ref=ref)
        if self._replaces_every_tab(path, edits):
            return self._rewrite(path, [e.tab for e in edits])
        if xlsx_parts.attempt("write", _replace_atomically, path, lambda target: xlsx_parts.apply_edits(path, target, edits)):
            return
        try:
            wb = load_for_edit(path)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise SheetUnreadable(f"Không mở được tệp {path.name} ({type(e).__name__})", ref=ref) from None
        for edit in edits:
            _apply(wb, edit)
        _save_atomically(wb, path)

    def _replaces_every_tab(self, path: Path, edits: list[Edit]) -> bool:
        """A program-owned workbook (the master sheet) rewritten whole: no need to load it."""
        if not edits or not all(isinstance(e, ReplaceTab) for e in edits):
            return False
        wb = load_workbook(path, read_only=True)
        try:
            return set(wb.sheetnames) <= {e.tab.name for e in edits}
        finally:
            wb.close()

    def _rewrite(self, path: Path, tabs: list[TabLayout]) -> None:
        tags = self.tags(path)
        if xlsx_parts.attempt("rewrite", _replace_atomically, path, lambda target: xlsx_parts.fresh_workbook(tabs, tags, target)):
            return
        wb = Workbook()
        wb.remove(wb.active)
        for tab in tabs:
            render_tab(wb.create_sheet(tab.name), tab)
        for key, value in tags.items():
            wb.custom_doc_props.append(StringProperty(name=key, value=value))
        _save_atomically(wb, path)

    def _held_open(self, path: Path) -> bool:
        return any((path.parent / pattern.format(name=path.name)).exists() for pattern in LOCK_FILES)


def build_workbook(layout: WorkbookLayout) -> Workbook:
    """A unit's workbook as openpyxl builds it (and the template the fast path copies)."""
    wb = Workbook()
    wb.remove(wb.active)
    for tab in layout.tabs:
        render_tab(wb.create_sheet(tab.name), tab)
    wb.properties.title = layout.title
    wb.properties.creator = "CCHC reporting bot"
    for key, value in layout_tags(layout).items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    wb.security = WorkbookProtection(lockStructure=True)  # tabs cannot be renamed or deleted
    return wb


def layout_tags(layout: WorkbookLayout) -> dict[str, str]:
    return {"unit": layout.unit_code, "unit_name": layout.unit_name, "unit_kind": layout.unit_kind,
            "period": layout.period_id, "schema_version": layout.schema_version}


def read_with_openpyxl(path: Path, ref: SheetRef | None = None) -> Grids:
    """The reference reader (and the fallback of :func:`xlsx_parts.read_grids`)."""
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise SheetUnreadable(f"Không mở được tệp {path.name}: tệp hỏng hoặc không phải bảng tính Excel ({type(e).__name__})", ref=ref) from None
    try:
        return {ws.title: [[_as_typed(c) for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    finally:
        wb.close()


def _as_typed(cell):
    """What the clerk typed. Excel turns "45,5%" typed in a number cell into 0.455 shown as a
    percentage; the project keeps percentages on 0–100, so such a cell reads as 45.5. Text that
    begins with "=" (typed '=…) stays text."""
    value = cell.value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        return round(value * 100, 10)
    if isinstance(value, str) and value.startswith("=") and cell.data_type == "s":
        return Text(value)  # typed as '=… : text, not a formula
    return value


def load_for_edit(path: str | Path) -> Workbook:
    """Open a workbook to change and save it, keeping every merged cell's own style.

    openpyxl 3.1's loader rebuilds the borders of each merged range cell by cell
    (``Worksheet._clean_merge_range`` → ``MergedCellRange.format``), which is most of the time
    spent opening our templates. The cells covered by a merge already carry their style in the
    file, so for the duration of this load they keep it instead.
    """
    original = Worksheet._clean_merge_range
    Worksheet._clean_merge_range = _keep_covered_styles
    try:
        return load_workbook(path)
    finally:
        Worksheet._clean_merge_range = original


def _keep_covered_styles(ws, merged_range) -> None:
    cells = merged_range.cells
    next(cells)  # the top-left cell stays as it is
    for row, col in cells:
        covered = ws._cells.get((row, col))
        merged = MergedCell(ws, row, col)
        if covered is not None and covered.has_style:
            merged._style = copy(covered._style)
        ws._cells[row, col] = merged


def _apply(wb: Workbook, edit: Edit) -> None:
    if isinstance(edit, SetCells):
        ws = wb[edit.tab]
        for (row, col), value in edit.cells.items():
            ws.cell(row=row, column=col).value = value
    elif isinstance(edit, ReplaceTab):
        index = wb.sheetnames.index(edit.tab.name) if edit.tab.name in wb.sheetnames else len(wb.sheetnames)
        if edit.tab.name in wb.sheetnames:
            del wb[edit.tab.name]
        render_tab(wb.create_sheet(edit.tab.name, index), edit.tab)
    elif isinstance(edit, Protect):
        _protect(wb, edit)


def _protect(wb: Workbook, edit: Protect) -> None:
    # Setting cell.protection interns a new style per cell (slow); the two protections are
    # interned once and their ids set on copies of each cell's style ids.
    ids = {locked: wb._protections.add(Protection(locked=locked)) for locked in (True, False)}
    for ws in wb.worksheets:
        unlocked = set() if edit.whole else set(edit.input_cells.get(ws.title, ()))
        for row in ws.iter_rows():
            for cell in row:
                style = copy(cell._style) if cell._style else StyleArray()
                style.protectionId = ids[(cell.row, cell.column) not in unlocked]
                cell._style = style
        ws.protection.sheet = True


def _save_atomically(wb: Workbook, path: Path) -> None:
    _replace_atomically(path, wb.save)


def _replace_atomically(path: Path, write) -> bool:
    """``write(temporary path)``, then the temporary file replaces ``path`` in one rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- rendering a tab layout ---------------------------------------------------------------------


def render_tab(ws, tab: TabLayout) -> None:
    validations: dict[tuple, DataValidation] = {}
    styled: dict[tuple[str, bool, bool], object] = {}  # (style, input, text) → the first cell so styled
    for (row, col), spec in tab.cells.items():
        cell = ws.cell(row=row, column=col)
        cell.value = spec.formula if spec.formula else spec.value
        looks_like_formula = spec.formula is None and isinstance(spec.value, str) and spec.value.startswith("=")
        if looks_like_formula:
            cell.data_type = "s"  # text that only looks like a formula (what a unit typed) stays text
        key = (spec.style, spec.input, looks_like_formula)
        if key in styled:
            # openpyxl interns every style object it is given, which is slow; copying the style
            # ids of a cell already styled the same way is what its own copy does
            cell._style = copy(styled[key]._style)
        else:
            _style_cell(cell, spec, looks_like_formula)
            styled[key] = cell
        if spec.validation:
            key = (spec.validation.kind, spec.validation.min, spec.validation.max, spec.validation.choices)
            if key not in validations:
                validations[key] = _data_validation(spec.validation)
            validations[key].add(cell.coordinate)
        if spec.link:
            tab_name, _, a1 = spec.link.rpartition("!")
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{tab_name}'!{a1}")
    for dv in validations.values():
        ws.add_data_validation(dv)
    for r1, c1, r2, c2 in tab.merges:
        # Registered directly: ws.merge_cells() would also restyle every covered cell, which the
        # layout has already styled (and which dominates the time of laying out a workbook).
        ws.merged_cells.add(CellRange(min_col=c1, min_row=r1, max_col=c2, max_row=r2))
    for col, width in tab.col_widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width
    for row, height in tab.row_heights.items():
        ws.row_dimensions[row].height = height
    _print_setup(ws, tab)
    if tab.protected:
        ws.protection.sheet = True
        ws.protection.insertRows = False  # False means "allowed": units add list lines
        ws.protection.formatColumns = False
        ws.protection.formatRows = False


def _style_cell(cell, spec, quote_prefix: bool) -> None:
    font, fill, border, align, fmt = STYLES.get(spec.style, STYLES["text"])
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if border:
        cell.border = border
    if align:
        cell.alignment = align
    if fmt:
        cell.number_format = fmt
    cell.protection = Protection(locked=not spec.input)
    if quote_prefix:
        cell.quotePrefix = True


def _print_setup(ws, tab: TabLayout) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if tab.landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4


def _data_validation(v) -> DataValidation:
    common = dict(showErrorMessage=True, errorStyle="warning", allow_blank=True)
    if v.kind == "list":
        choices = ",".join(v.choices)
        return DataValidation(type="list", formula1=f'"{choices}"', errorTitle="Giá trị không có trong danh sách",
                              error="Hãy chọn một giá trị trong danh sách.", **common)
    if v.kind == "whole":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1=str(int(v.min or 0)),
                              errorTitle="Cần số nguyên", error="Ô này cần một số nguyên không âm.", **common)
    if v.kind == "decimal" and v.max is not None:
        return DataValidation(type="decimal", operator="between", formula1=str(v.min or 0), formula2=str(v.max),
                              errorTitle="Cần tỷ lệ từ 0 đến 100", error="Ô này cần một tỷ lệ phần trăm từ 0 đến 100.", **common)
    if v.kind == "date":
        return DataValidation(type="date", operator="greaterThan", formula1="1", errorTitle="Cần ngày",
                              error="Ô này cần một ngày (ngày/tháng/năm).", **common)
    return DataValidation(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15",
                          errorTitle="Cần số", error="Ô này cần một số.", **common)
