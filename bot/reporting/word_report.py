"""The consolidated report as a Word document, for the Department to edit and sign.

The outline's sections in order; under each narrative field, every unit's text below the
unit's name (bold); each table with the province's totals (list tables: the totals and how
many lines the units listed; tables of text only: each unit's entries). A4 portrait, Times
New Roman 13 as is customary for Vietnamese administrative documents (Decree 30/2020/NĐ-CP
sets A4 and margins of 20–25 mm top and bottom, 30–35 mm left, 15–20 mm right).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.oxml.parser import OxmlElement
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from bot import clock
from bot.outline.schema import Heading, Narrative, Table
from bot.reporting.master import LINE, NAME, PROVINCE, Master, prompt_head
from bot.reporting.master_layout import plain_value
from bot.sheets.parsed import format_number

FONT = "Times New Roman"
BODY_SIZE = 13
TABLE_SIZE = 11
WIDE_TABLE_SIZE = 10  # tables of more than WIDE_TABLE columns
WIDE_TABLE = 7
# Named paragraph styles rather than direct formatting: the Department restyles a whole kind
# of paragraph at once, and python-docx writes one style reference instead of several
# properties per paragraph, which matters with thousands of table cells.
UNIT_NAME = "Tên đơn vị"
NOTE = "Ghi chú báo cáo"
PART_HEADING = "Tiêu đề mục nhỏ"
CELL, CELL_NUMBER, CELL_HEADER = "Ô bảng", "Ô bảng số", "Ô bảng tiêu đề"


class _Doc:
    """The document being written, with the ids of its paragraph styles."""

    def __init__(self):
        self.doc = Document()
        self.style_ids: dict[str, str] = {}
        self._last_section = None

    def add_paragraph(self, text: str = "", style: str | None = None):
        """A paragraph at the end of the body, placed there directly: python-docx's own
        ``add_paragraph`` looks for the body's section properties among all its paragraphs
        each time (quadratic in the length of the report)."""
        body = self.doc.element.body
        if self._last_section is None or self._last_section.getparent() is not body:
            self._last_section = body.find(qn("w:sectPr"))
        p = OxmlElement("w:p")
        if self._last_section is not None:
            self._last_section.addprevious(p)
        else:
            body.append(p)
        paragraph = Paragraph(p, self.doc._body)
        if text:
            paragraph.add_run(text)
        if style:
            self.style(paragraph, style)
        return paragraph

    def style(self, paragraph, name: str) -> None:
        """Give ``paragraph`` the style ``name`` by its id: python-docx's ``paragraph.style = …``
        searches the styles part on every call (about 2 ms), minutes for a province's report;
        and the ``w:pStyle`` goes first in the paragraph's properties, where the schema wants
        it, without python-docx's search through every later property."""
        pPr = paragraph._p.get_or_add_pPr()
        if pPr.pStyle is not None:
            pPr.pStyle.val = self.style_ids[name]
        else:
            pPr.insert(0, OxmlElement("w:pStyle", {qn("w:val"): self.style_ids[name]}))

    def __getattr__(self, name):  # add_heading, add_table, styles, sections, save
        return getattr(self.doc, name)


def write_report(master: Master, path: str | Path) -> None:
    doc = _Doc()
    _page_setup(doc)
    _styles(doc)
    _title(doc, master)
    group = None
    for section in master.schema.sections:
        if section.group and section.group != group:
            doc.add_heading(section.group, level=1)
        group = section.group
        doc.add_heading(section.title, level=2 if section.group else 1)
        for part in section.parts:
            if isinstance(part, Heading):
                doc.add_paragraph(part.text, PART_HEADING)
            elif isinstance(part, Narrative):
                _narrative(doc, master, part)
            elif isinstance(part, Table):
                _table(doc, master, part)
    doc.save(str(path))


# --- page and styles -------------------------------------------------------------------------


def _page_setup(doc) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)


def _styles(doc) -> None:
    normal = doc.styles["Normal"]
    _font(normal, BODY_SIZE)
    normal.paragraph_format.space_after = Pt(6)
    for level, size in ((1, 14), (2, 13), (3, 13)):
        style = doc.styles[f"Heading {level}"]
        _font(style, size, bold=True)
        style.paragraph_format.space_before = Pt(12)
        style.paragraph_format.space_after = Pt(6)
    _paragraph_style(doc, UNIT_NAME, bold=True).paragraph_format.keep_with_next = True
    _paragraph_style(doc, PART_HEADING, bold=True).paragraph_format.keep_with_next = True
    _paragraph_style(doc, NOTE, italic=True)
    for size in (TABLE_SIZE, WIDE_TABLE_SIZE):
        cell = _paragraph_style(doc, _sized(CELL, size), size=size)
        cell.paragraph_format.space_after = Pt(0)
        _paragraph_style(
            doc, _sized(CELL_NUMBER, size), base=cell
        ).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _paragraph_style(
            doc, _sized(CELL_HEADER, size), base=cell, bold=True
        ).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _sized(name: str, size: int) -> str:
    return name if size == TABLE_SIZE else f"{name} {size}"


def _paragraph_style(
    doc: _Doc, name: str, *, base=None, bold: bool = False, italic: bool = False, size: int | None = None
):
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    doc.style_ids[name] = style.style_id
    style.base_style = base or doc.styles["Normal"]
    style.font.bold = bold or None
    style.font.italic = italic or None
    if size:
        style.font.size = Pt(size)
    return style


def _font(style, size: int, bold: bool | None = None) -> None:
    """Times New Roman for every script; the template's theme fonts would otherwise win."""
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.color.rgb = RGBColor(0, 0, 0)
    if bold is not None:
        style.font.bold = bold
        style.font.italic = False
    fonts = style.element.rPr.rFonts
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:eastAsia"), FONT)
    fonts.set(qn("w:cs"), FONT)


def _title(doc, master: Master) -> None:
    schema = master.schema
    _centered(doc, schema.title, bold=True, size=14)
    if schema.subtitle:
        _centered(doc, schema.subtitle, bold=True)
    if master.period_label:
        _centered(doc, f"Kỳ báo cáo: {master.period_label}")
    if master.province:
        _centered(doc, master.province)
    stamp = (
        f", số liệu lúc {clock.local(master.compiled_at):%H:%M ngày %d/%m/%Y}" if master.compiled_at else ""
    )
    _centered(
        doc,
        f"(Tổng hợp từ báo cáo của {master.units_reporting} đơn vị, "
        f"trong đó {master.units_approved} đơn vị đã được duyệt{stamp})",
        italic=True,
    )


def _centered(doc, text: str, *, bold: bool = False, italic: bool = False, size: int | None = None) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold, run.italic = bold or None, italic or None
    if size:
        run.font.size = Pt(size)


# --- narratives ------------------------------------------------------------------------------


def _narrative(doc, master: Master, narrative: Narrative) -> None:
    doc.add_paragraph(prompt_head(narrative.prompt, 160), NOTE)
    texts = _unit_texts(master.narratives, narrative.id)
    if texts.empty:
        doc.add_paragraph("(Chưa có đơn vị nào báo cáo nội dung này.)", NOTE)
        return
    for name, text in texts.itertuples(index=False):
        doc.add_paragraph(name, UNIT_NAME)
        for line in str(text).splitlines():
            if line.strip():
                doc.add_paragraph(line.strip())


def _unit_texts(narratives: pd.DataFrame, narrative_id: str) -> pd.DataFrame:
    if narratives.empty or narrative_id not in narratives.index.get_level_values(0):
        return pd.DataFrame(columns=[NAME, "Nội dung báo cáo"])
    rows = narratives.loc[narrative_id, [NAME, "Nội dung báo cáo"]]
    return rows[rows["Nội dung báo cáo"].str.strip() != ""]


# --- tables ----------------------------------------------------------------------------------


def _table(doc, master: Master, table: Table) -> None:
    doc.add_paragraph(f"Bảng {table.number} ({table.ref}). {table.title}", PART_HEADING)
    frame = master.tables[table.id]
    units = frame.index.get_level_values(0)
    reporting = units[units != PROVINCE].nunique()
    if any(_has_totals(c) for c in table.columns):
        province = frame[units == PROVINCE]
        _docx_table(
            doc,
            table,
            ["Nội dung"],
            [
                [row[LINE]] + [_shown(row[c.label], c) for c in table.columns]
                for _, row in province.iterrows()
            ],
        )
        rates = "; tỷ lệ tính lại từ số liệu tổng hợp" if any(c.ratio_of for c in table.columns) else ""
        doc.add_paragraph(f"Số liệu toàn tỉnh, tổng hợp từ {reporting} đơn vị{rates}.", NOTE)
    else:
        _unit_entries(doc, table, frame[units != PROVINCE])


def _has_totals(column) -> bool:
    return column.type in ("count", "decimal", "bool") or column.ratio_of is not None


def _unit_entries(doc, table: Table, frame: pd.DataFrame) -> None:
    """A table of text only has no totals: each unit's entries, under the unit's name."""
    labels = [c.label for c in table.columns]
    rows = []
    for name, line, *values in frame[[NAME, LINE] + labels].itertuples(index=False):
        cells = [_shown(v, c) for v, c in zip(values, table.columns, strict=True)]
        if any(cells):
            rows.append([name, line] + cells)
    if not rows:
        doc.add_paragraph("(Chưa có đơn vị nào báo cáo.)", NOTE)
        return
    _docx_table(doc, table, ["Đơn vị", "Nội dung"], rows)


def _docx_table(doc, table: Table, stub: list[str], rows: list[list[str]]) -> None:
    headers = stub + [c.label for c in table.columns]
    size = WIDE_TABLE_SIZE if len(headers) > WIDE_TABLE else TABLE_SIZE
    styles = [_sized(name, size) for name in (CELL, CELL_NUMBER, CELL_HEADER)]
    grid = doc.add_table(rows=1, cols=len(headers))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, headers, strict=True):
        _cell_text(doc, cell, text, styles[2])
    numeric = [False] * len(stub) + [_has_totals(c) for c in table.columns]
    for values in rows:
        # the new row's own cells: ``add_row().cells`` walks every cell of the table (quadratic)
        cells = [_Cell(tc, grid) for tc in grid.add_row()._tr.tc_lst]
        for cell, text, is_number in zip(cells, values, numeric, strict=True):
            _cell_text(doc, cell, str(text or ""), styles[1] if is_number else styles[0])
    doc.add_paragraph()


def _cell_text(doc: _Doc, cell, text: str, style: str) -> None:
    paragraph = cell.paragraphs[0]
    doc.style(paragraph, style)
    if text:
        paragraph.add_run(text)


def _shown(value, column) -> str:
    """A cell as the report prints it: numbers the Vietnamese way (1.234,5), dates dd/mm/yyyy."""
    value = plain_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        decimals = column.decimals if column.type == "percent" else 0 if column.type == "count" else 2
        return format_number(value, decimals)
    if hasattr(value, "strftime"):
        return f"{value:%d/%m/%Y}"
    return str(value)
