"""Comparing the part-level fast paths with the openpyxl path: random workbooks, what a unit
sees of a workbook, and feedback written both ways (tests/test_fast_paths.py, the LibreOffice round trip)."""

from __future__ import annotations

import random
import shutil
from contextlib import contextmanager
from datetime import datetime

import openpyxl
from openpyxl.worksheet.merge import MergedCellRange

from bot.outline.units import Unit
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.workbook import WorkbookBackend, load_for_edit, read_with_openpyxl

KINDS = {"so_nganh": "Sở", "huyen": "UBND huyện", "xa": "UBND xã", "nganh_doc": "Chi cục"}


def typed(grids):
    """Grids with each value's type, so 7 and 7.0, "=x" and Text("=x") differ."""
    return {name: [[(type(v).__name__, v) for v in row] for row in rows] for name, rows in grids.items()}


def trimmed(grids):
    """Typed grids without their empty margins. openpyxl's edit path declares a larger sheet
    dimension (it counts the cells under merges), so its grids have more empty cells."""
    out = {}
    for name, rows in typed(grids).items():
        rows = [
            row[: max((i + 1 for i, (_, v) in enumerate(row) if v is not None), default=0)] for row in rows
        ]
        while rows and not rows[-1]:
            rows.pop()
        out[name] = rows
    return out


def random_unit(rng: random.Random, i: int, kind: str | None = None) -> Unit:
    kind = kind or rng.choice(sorted(KINDS))
    name = f"{KINDS[kind]} {'Phường Hòa Bình Đông ' * rng.randint(1, 6)}{i}"  # long names wrap on the cover
    return Unit(f"U{i}", name, kind, (), ())


def provision_with_openpyxl(backend: WorkbookBackend, layout) -> str:
    ref = backend.allocate(layout.title, {"unit": layout.unit_code, "period": layout.period_id})
    backend.lay_out(ref, layout)
    return ref.id


def random_value(rng: random.Random, spec):
    pick = rng.random()
    if pick < 0.4:
        return rng.randint(0, 5000), None
    if pick < 0.55:
        return round(rng.uniform(0, 1), 4), "0.0%"  # "45,5%" typed into a number cell
    if pick < 0.7:
        return rng.uniform(0, 1e6), None
    if pick < 0.8:
        return rng.choice(["có", "  khoảng trắng  ", "dòng 1\ndòng 2", "Tiếng Việt: ưởng đầy đủ"]), None
    if pick < 0.85:
        return "=không phải công thức", "text"
    if pick < 0.9:
        return datetime(2026, rng.randint(1, 12), rng.randint(1, 28)), "DD/MM/YYYY"
    if pick < 0.95:
        return f"=SUM({spec.a1}:{spec.a1})*0+{rng.randint(1, 9)}", None
    return True, None


def fill_randomly(path: str, layout, rng: random.Random) -> None:
    """A clerk in a spreadsheet program: values of every kind, and sometimes inserted rows."""
    wb = load_for_edit(path)
    for spec in layout.fields.values():
        if not spec.input or rng.random() < 0.4:
            continue
        value, fmt = random_value(rng, spec)
        cell = wb[spec.tab].cell(row=spec.row, column=spec.col)
        cell.value = value
        if fmt == "text":
            cell.data_type = "s"
        elif fmt:
            cell.number_format = fmt
    for block in layout.blocks:
        if block.kind == "table" and rng.random() < 0.3:
            insert_row(wb[block.tab], block.last_row)
    wb.save(path)


def insert_row(ws, row: int) -> None:
    """A line inserted above ``row`` as Excel inserts it: merges below move down with it
    (openpyxl's ``insert_rows`` leaves them where they were)."""
    ws.insert_rows(row)
    for merged in ws.merged_cells.ranges:
        if merged.min_row >= row:
            merged.shift(row_shift=1)
        elif merged.max_row >= row:
            merged.expand(down=1)


def copy_of(path, tmp_path, name):
    target = tmp_path / name
    shutil.copy(path, target)
    return str(target)


def tags_with_openpyxl(path) -> dict[str, str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {p.name: p.value for p in wb.custom_doc_props.props}
    finally:
        wb.close()


def seen(path) -> dict:
    """What a unit sees in a workbook, as openpyxl loads it: values, formats, merges, links,
    protection, validation, widths and heights, tabs and tags."""
    with _merged_cells_unformatted():
        wb = openpyxl.load_workbook(path)
    out = {
        "tabs": wb.sheetnames,
        "tags": {p.name: p.value for p in wb.custom_doc_props.props},
        "title": wb.properties.title,
        "structure_locked": bool(wb.security and wb.security.lockStructure),
    }
    looks: dict[bytes, tuple] = {}  # a look per cell format: formats are shared by many cells
    for ws in wb.worksheets:
        blank = None
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                look = cell_look(c, looks)
                blank = blank or cell_look(ws.cell(row=1048576, column=1), looks)
                if look != blank:
                    cells[c.coordinate] = look
        out[ws.title] = {"cells": cells, **sheet_look(ws)}
    return out


@contextmanager
def _merged_cells_unformatted():
    """openpyxl gives the cells under a merge the borders of its top-left cell as it loads a
    file (``MergedCellRange.format``): a guess made from that cell, not something read from the
    file, and half of the load's time (each new border is looked up in a list). Every look
    compared is taken without it, so both sides still meet the same rules."""
    saved = MergedCellRange.format
    MergedCellRange.format = lambda self: None
    try:
        yield
    finally:
        MergedCellRange.format = saved


def sheet_look(ws) -> dict:
    p = ws.protection
    return {
        "merges": sorted(str(r) for r in ws.merged_cells.ranges),
        "links": sorted((h.ref, h.location, h.target) for h in ws._hyperlinks),
        "protection": (p.sheet, p.insertRows, p.formatColumns, p.formatRows, p.deleteRows),
        "validations": sorted(
            (v.type, v.operator, v.formula1, v.formula2, str(v.sqref), v.error, v.errorStyle)
            for v in ws.data_validations.dataValidation
        ),
        "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.customWidth},
        "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
        "print": (
            ws.page_setup.orientation,
            ws.page_setup.paperSize,
            ws.page_setup.fitToWidth,
            ws.sheet_properties.pageSetUpPr.fitToPage,
            ws.print_options.horizontalCentered,
        ),
    }


def cell_look(c, looks: dict | None = None) -> tuple:
    """A cell's value and how it looks. ``looks`` caches the look of each cell format."""
    if looks is None:
        return (c.value, c.data_type, *format_look(c))
    key = c._style.tobytes() if c._style is not None else b""  # a merged cell may have none
    if key not in looks:
        looks[key] = format_look(c)
    return (c.value, c.data_type, *looks[key])


def format_look(c) -> tuple:
    f, b, a = c.font, c.border, c.alignment
    # an absent flag and a flag written as false look the same (LibreOffice writes them out)
    return (
        bool(f.b),
        bool(f.i),
        f.sz,
        f.u,
        f.color.rgb if f.color else None,
        c.fill.fill_type,
        c.fill.fgColor.rgb,
        tuple(getattr(getattr(b, s), "style", None) for s in ("left", "right", "top", "bottom")),
        bool(a.wrap_text),
        a.horizontal,
        a.vertical,
        c.number_format,
        c.protection.locked,
        bool(c.quotePrefix),
    )


def with_openpyxl(path: str, edits) -> None:
    from bot.sheets.backends.workbook import _apply

    wb = load_for_edit(path)
    for edit in edits:
        _apply(wb, edit)
    wb.save(path)


def fast(path: str, edits) -> None:
    target = path + ".new"
    xlsx_parts.apply_edits(path, target, edits)
    shutil.move(target, path)


def feedback_for(path: str, layout, schema, rng: random.Random, approval: str | None, grids=None):
    """The edits a check makes: cover status, the "Kiểm tra" tab (findings linked to their
    cells), and the locks of an approval or a return. ``grids``: the workbook as openpyxl
    read it, when the caller has them already."""
    from bot.checks.completeness import STATE_LABELS, completeness
    from bot.checks.feedback import feedback_edits
    from bot.checks.findings import check_reports
    from bot.checks.report import report_from_document
    from bot.outline.schema import section_title
    from bot.sheets.backends.base import Protect, input_cells
    from bot.sheets.document import extract

    report, read_findings = report_from_document(
        extract(layout, grids or read_with_openpyxl(path)), schema, layout.unit_kind
    )
    findings = check_reports(schema, [report], {report.unit: read_findings})[report.unit]
    state = rng.choice(sorted(STATE_LABELS))
    titles = {s.id: section_title(s) for s in schema.sections}
    edits = feedback_edits(
        layout,
        STATE_LABELS[state],
        completeness(schema, report),
        findings,
        titles,
        datetime(2026, 3, rng.randint(1, 28), 9, 30),
        rng.choice([None, "Cần bổ sung số liệu"]),
    )
    if approval == "approved":
        edits.append(Protect(whole=True))
    elif approval == "returned":
        edits.append(Protect(whole=False, input_cells=input_cells(layout)))
    return edits
