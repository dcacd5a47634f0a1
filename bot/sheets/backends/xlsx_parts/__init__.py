"""The embedded backend's fast paths: reading and writing workbooks part by part (OOXML).

An ``.xlsx`` file is a zip of XML parts. openpyxl loads and saves every part of a workbook to
change one cell; the bot's common operations touch only a few parts, so they are done here at
that level, with lxml, and every other part is copied unchanged (as its compressed bytes).

Parts read or written:

- ``[Content_Types].xml``: read to find the workbook and shared-strings parts (as openpyxl
  does); the calculation chain's ``Override`` removed when that part goes (see below).
- ``xl/workbook.xml`` and ``xl/_rels/workbook.xml.rels``: the sheets, their order, names and
  parts; ``workbookPr/@date1904`` (the date epoch); the calcChain relationship removed.
- ``xl/calcChain.xml``: left out after an edit, as openpyxl leaves it out (Excel rebuilds it;
  a chain naming cells that are no longer formulas is what makes Excel offer a repair).
- ``xl/styles.xml``: ``numFmts`` and ``cellXfs`` read (number formats: percentages, dates);
  on writing, fonts, fills, borders and cell formats are appended for the "Kiểm tra" tab and
  for locked or unlocked clones of cell formats (a return), reusing any already there; an
  approval's whole lock sets ``protection/@locked`` on every cell format where it is.
- ``xl/sharedStrings.xml``: read only (cells are written as inline strings, as openpyxl does).
- ``xl/worksheets/*.xml``: parsed with lxml; the "Kiểm tra" sheet, the master's tabs and the
  templates' tabs rendered whole as text into the frame openpyxl writes for an empty sheet; the
  cover's bot-owned cells and a new workbook's unit cells and row heights patched;
  ``sheetProtection`` and cell style ids patched on a return; on approval, only
  ``sheetProtection`` turned on as text (a sheet protected already is not rewritten).
- ``docProps/core.xml`` (title, times) and ``docProps/custom.xml`` (the tags): read for a
  workbook's tags; written when a workbook is provisioned from its template.

Whatever this package cannot be sure of (a structure it did not expect) raises :class:`Unsure`

Submodules, in the order a part flows through them:

- ``package``: which part is what (namespaces, content types, :class:`Package`), :class:`Unsure`,
  :func:`attempt` and :data:`FALLBACKS`.
- ``reading``: the grids of a workbook (:func:`read_grids`; a sheet read before with the same
  styles and strings, known by a digest of their bytes, is not parsed again), its sheet names
  (:func:`read_sheet_names`) and its tags (:func:`read_tags`).
- ``zip_writer``: the zip written with some parts replaced, the rest copied compressed.
- ``styles``: cell formats in ``xl/styles.xml`` (:class:`Styles`, :class:`FormatParts`).
- ``sheets``: a tab rendered whole, cells patched, a sheet locked.
- ``edits``: the backend's edits applied (:func:`apply_edits`), the calculation chain dropped.
- ``templates``: a workbook provisioned as a copy of its template (:func:`from_template`).
- ``fresh``: a workbook written whole: the master (:func:`fresh_workbook`), a template or a first
  master (:func:`fresh_layout`).

Callers use the package (``xlsx_parts.<name>``); every name they use is re-exported here, and
module-level state (``FALLBACKS``, the caches) lives once, in its submodule.
"""

from bot.sheets.backends.xlsx_parts.edits import CALC_CHAIN_TYPE, apply_edits
from bot.sheets.backends.xlsx_parts.fresh import fresh_layout, fresh_workbook
from bot.sheets.backends.xlsx_parts.package import (
    CORE_PART,
    CT_NS,
    CUSTOM_PART,
    FALLBACKS,
    MAIN,
    PKG_REL,
    REL_NS,
    SHARED_STRINGS_TYPE,
    STYLES_PART,
    WORKBOOK_TYPES,
    WORKSHEET_TYPE,
    Package,
    Unsure,
    attempt,
    q,
)
from bot.sheets.backends.xlsx_parts.reading import CellFormats, read_grids, read_sheet_names, read_tags
from bot.sheets.backends.xlsx_parts.sheets import AFTER_SHEET_DATA, protect, render_sheet, set_cells
from bot.sheets.backends.xlsx_parts.styles import (
    STYLESHEET_ORDER,
    FormatParts,
    Styles,
    format_parts,
    is_locked,
)
from bot.sheets.backends.xlsx_parts.templates import from_template
from bot.sheets.backends.xlsx_parts.zip_writer import write_package

__all__ = [
    "AFTER_SHEET_DATA",
    "CALC_CHAIN_TYPE",
    "CORE_PART",
    "CT_NS",
    "CUSTOM_PART",
    "FALLBACKS",
    "MAIN",
    "PKG_REL",
    "REL_NS",
    "SHARED_STRINGS_TYPE",
    "STYLESHEET_ORDER",
    "STYLES_PART",
    "WORKBOOK_TYPES",
    "WORKSHEET_TYPE",
    "CellFormats",
    "FormatParts",
    "Package",
    "Styles",
    "Unsure",
    "apply_edits",
    "attempt",
    "format_parts",
    "fresh_layout",
    "fresh_workbook",
    "from_template",
    "is_locked",
    "protect",
    "q",
    "read_grids",
    "read_sheet_names",
    "read_tags",
    "render_sheet",
    "set_cells",
    "write_package",
]
