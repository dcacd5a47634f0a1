"""Drawing with openpyxl: a :class:`TabLayout` rendered into a worksheet (styles, merges, data
validation, print setup, sheet protection), a whole unit's workbook built from its layout, and the
edits of :mod:`.base` applied to a workbook opened for editing.

The embedded backend (:mod:`.workbook`) saves what is drawn here; the part-level writer
(:mod:`.xlsx_parts`) borrows the same styles and validations so both write the same workbook.
"""

from __future__ import annotations

from copy import copy

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Protection
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink

from bot.outline.layout import TabLayout, WorkbookLayout
from bot.outline.styles import STYLES
from bot.sheets.backends.base import Edit, Protect, ReplaceTab, SetCells
from bot.sheets.values import is_formula_like

CREATOR = "CCHC reporting bot"


def build_workbook(layout: WorkbookLayout) -> Workbook:
    """A unit's workbook as openpyxl builds it (and the template the fast path copies)."""
    wb = Workbook()
    wb.remove(wb.active)
    for tab in layout.tabs:
        render_tab(wb.create_sheet(tab.name), tab)
    wb.properties.title = layout.title
    wb.properties.creator = CREATOR
    for key, value in layout_tags(layout).items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    wb.security = WorkbookProtection(lockStructure=True)  # tabs cannot be renamed or deleted
    return wb


def layout_tags(layout: WorkbookLayout) -> dict[str, str]:
    return {
        "unit": layout.unit_code,
        "unit_name": layout.unit_name,
        "unit_kind": layout.unit_kind,
        "period": layout.period_id,
        "schema_version": layout.schema_version,
    }


class MissingTab(Exception):
    """An edit names a tab the workbook no longer has (a clerk deleted or renamed it)."""


def _apply(wb: Workbook, edit: Edit) -> None:
    if isinstance(edit, SetCells):
        if edit.tab not in wb.sheetnames:
            raise MissingTab(edit.tab)
        ws = wb[edit.tab]
        for (row, col), value in edit.cells.items():
            put_value(ws.cell(row=row, column=col), value)
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


def put_value(cell, value) -> None:
    """Write a value the bot produced (never a formula): text that looks like one stays text."""
    cell.value = value
    if is_formula_like(value):
        cell.data_type = "s"
        cell.quotePrefix = True  # what Excel stores for text typed after an apostrophe


# --- rendering a tab layout ---------------------------------------------------------------------


def render_tab(ws, tab: TabLayout) -> None:
    validations: dict[tuple, DataValidation] = {}
    styled: dict[tuple[str, bool, bool], object] = {}  # (style, input, text) → the first cell so styled
    for (row, col), spec in tab.cells.items():
        cell = ws.cell(row=row, column=col)
        cell.value = spec.formula if spec.formula else spec.value
        looks_like_formula = spec.formula is None and is_formula_like(spec.value)
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
        return DataValidation(
            type="list",
            formula1=f'"{choices}"',
            errorTitle="Giá trị không có trong danh sách",
            error="Hãy chọn một giá trị trong danh sách.",
            **common,
        )
    if v.kind == "whole":
        return DataValidation(
            type="whole",
            operator="greaterThanOrEqual",
            formula1=str(int(v.min or 0)),
            errorTitle="Cần số nguyên",
            error="Ô này cần một số nguyên không âm.",
            **common,
        )
    if v.kind == "decimal" and v.max is not None:
        return DataValidation(
            type="decimal",
            operator="between",
            formula1=str(v.min or 0),
            formula2=str(v.max),
            errorTitle="Cần tỷ lệ từ 0 đến 100",
            error="Ô này cần một tỷ lệ phần trăm từ 0 đến 100.",
            **common,
        )
    if v.kind == "date":
        return DataValidation(
            type="date",
            operator="greaterThan",
            formula1="1",
            errorTitle="Cần ngày",
            error="Ô này cần một ngày (ngày/tháng/năm).",
            **common,
        )
    return DataValidation(
        type="decimal",
        operator="between",
        formula1="-1E+15",
        formula2="1E+15",
        errorTitle="Cần số",
        error="Ô này cần một số.",
        **common,
    )
