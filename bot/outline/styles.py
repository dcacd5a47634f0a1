"""How each kind of cell of a layout looks: the style keys a :class:`bot.outline.layout.CellSpec`
names, as (font, fill, border, alignment, number format). Written with openpyxl's style objects;
the workbook backend applies them as they are and the Google backend translates them into Sheets
CellFormats, so both look the same."""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

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
    "computed_total": (
        Font(bold=True),
        _fill("EAF1E4"),
        BOX,
        Alignment(horizontal="right", vertical="center"),
        "#,##0.##",
    ),
    "locked": (None, None, BOX, None, None),
    "na": (None, _fill("D9D9D9"), BOX, None, None),
    "note": (Font(italic=True, size=9), None, None, WRAP, None),
    "status": (Font(bold=True, color="1F3864"), None, BOX, WRAP, None),
    "text": (None, None, None, WRAP, None),
    "error": (Font(color="C00000"), None, BOX, WRAP, None),
    "warning": (Font(color="B26B00"), None, BOX, WRAP, None),
    "link": (Font(color="0563C1", underline="single"), None, BOX, WRAP, None),
}
