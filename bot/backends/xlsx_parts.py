"""The embedded backend's fast paths: reading and writing workbooks part by part (OOXML).

An ``.xlsx`` file is a zip of XML parts. openpyxl loads and saves every part of a workbook to
change one cell; the bot's common operations touch only a few parts, so they are done here at
that level, with lxml, and every other part is copied unchanged (as its compressed bytes).

Parts read or written:

- ``[Content_Types].xml``: read to find the workbook and shared-strings parts (as openpyxl
  does); an ``Override`` is added when a sheet part is added.
- ``xl/workbook.xml`` and ``xl/_rels/workbook.xml.rels``: the sheets, their order, names and
  parts; ``workbookPr/@date1904`` (the date epoch).
- ``xl/styles.xml``: ``numFmts`` and ``cellXfs`` read (number formats: percentages, dates);
  on writing, fonts, fills, borders and cell formats are appended for the "Kiểm tra" tab and
  for locked clones of cell formats (approval), reusing any already there.
- ``xl/sharedStrings.xml``: read only (cells written here are inline strings).
- ``xl/worksheets/*.xml``: read with ``iterparse``; the "Kiểm tra" sheet rendered whole; the
  cover's bot-owned cells patched; ``sheetProtection`` and cell style ids patched on approval.
- ``docProps/core.xml`` (title) and ``docProps/custom.xml`` (the tags): written when a
  workbook is provisioned from its template.

Whatever this module cannot be sure of (a structure it did not expect) raises :class:`Unsure`
and the caller takes the openpyxl path for that file; :data:`FALLBACKS` counts those.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections import Counter

from lxml import etree
from openpyxl.cell.text import Text as OpenpyxlText
from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

from ..values import Text

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKBOOK_TYPES = tuple(f"application/vnd.ms-excel.{k}.main+xml" for k in ("template.macroEnabled", "sheet.macroEnabled")) + \
    tuple(f"application/vnd.openxmlformats-officedocument.spreadsheetml.{k}.main+xml" for k in ("template", "sheet"))
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STYLES_PART = "xl/styles.xml"  # where openpyxl looks for styles, whatever the relationships say

FALLBACKS: Counter = Counter()  # operation → files handed to openpyxl (reported by bench/)


class Unsure(Exception):
    """The file has a structure the part-level code does not handle; use openpyxl for it."""


def q(tag: str) -> str:
    return f"{{{MAIN}}}{tag}"


# --- the package: which part is what ------------------------------------------------------------


class Package:
    """An open ``.xlsx``: its zip, its sheets in order (name, part) and its styles' formats."""

    def __init__(self, source):
        self.zip = zipfile.ZipFile(source)
        self.names = set(self.zip.namelist())
        types = etree.fromstring(self.zip.read("[Content_Types].xml"))
        overrides = {o.get("ContentType"): o.get("PartName") for o in types.iter(f"{{{CT_NS}}}Override")}
        self.workbook_part = self._workbook_part(types, overrides)
        strings = overrides.get(SHARED_STRINGS_TYPE)
        self.strings_part = strings[1:] if strings else None
        self.workbook = etree.fromstring(self.zip.read(self.workbook_part))
        self.rels_part = _rels_path(self.workbook_part)
        self.rels = _targets(self.zip.read(self.rels_part), self.rels_part) if self.rels_part in self.names else {}
        self.sheets = self._sheets()

    def _workbook_part(self, types, overrides) -> str:
        for kind in WORKBOOK_TYPES:
            if kind in overrides:
                return overrides[kind][1:]
        raise Unsure("no workbook part declared by an Override")

    def _sheets(self) -> list[tuple[str, str]]:
        sheets = []
        for sheet in self.workbook.iter(q("sheet")):
            rid = sheet.get(f"{{{REL_NS}}}id")
            if not rid or rid not in self.rels:
                raise Unsure("a sheet without its relationship")
            kind, target = self.rels[rid]
            if target not in self.names:
                continue  # openpyxl skips it too
            if not kind.endswith("/worksheet"):
                raise Unsure(f"a sheet of type {kind}")
            sheets.append((sheet.get("name"), target))
        return sheets

    def epoch(self):
        pr = self.workbook.find(q("workbookPr"))
        return CALENDAR_MAC_1904 if pr is not None and pr.get("date1904") in ("1", "true") else CALENDAR_WINDOWS_1900

    def close(self) -> None:
        self.zip.close()


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _targets(xml: bytes, rels_part: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, part path), resolved the way openpyxl resolves them."""
    parent = posixpath.split(posixpath.dirname(rels_part))[0]
    targets = {}
    for rel in etree.fromstring(xml).iter(f"{{{PKG_REL}}}Relationship"):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External":
            continue
        target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(parent, target))
        targets[rel.get("Id")] = (rel.get("Type") or "", target)
    return targets


# --- reading ------------------------------------------------------------------------------------------


class CellFormats:
    """Per cell format (``cellXfs`` index): its number format, and whether it shows a date or a
    duration — the same classification openpyxl makes when it loads styles."""

    def __init__(self, styles_xml: bytes):
        root = etree.fromstring(styles_xml)
        custom = {int(f.get("numFmtId")): f.get("formatCode") for f in root.iter(q("numFmt"))}
        xfs = root.find(q("cellXfs"))
        if xfs is None or len(xfs) == 0:
            raise Unsure("styles without cell formats")
        self.number_formats, self.dates, self.durations = [], set(), set()
        for i, xf in enumerate(xfs.iter(q("xf"))):
            fmt_id = int(xf.get("numFmtId", 0))
            if fmt_id in custom:
                fmt = custom[fmt_id]
            elif fmt_id >= 164:
                raise Unsure("a cell format naming a number format that is not there")
            else:
                fmt = BUILTIN_FORMATS.get(fmt_id)
            self.number_formats.append(fmt if fmt is not None else "General")
            if is_date_format(fmt):
                self.dates.add(i)
            if is_timedelta_format(fmt):
                self.durations.add(i)


def read_grids(path) -> dict[str, list[list]]:
    """What ``WorkbookBackend.read`` returns through openpyxl's read-only parser: per sheet, its
    rows from 1 to the declared dimension, each cell typed as the clerk typed it."""
    package = Package(path)
    try:
        if STYLES_PART not in package.names:
            raise Unsure("no styles part")
        formats = CellFormats(package.zip.read(STYLES_PART))
        strings = _shared_strings(package.zip.read(package.strings_part)) if package.strings_part else []
        epoch = package.epoch()
        return {name: _sheet_grid(package.zip.read(part), strings, formats, epoch) for name, part in package.sheets}
    finally:
        package.close()


def _shared_strings(xml: bytes) -> list[str]:
    strings = []
    for si in etree.fromstring(xml).iter(q("si")):
        strings.append(_text_of(si).replace("x005F_", ""))
    return strings


def _text_of(node) -> str:
    """The text of a string item (``<t>`` or rich-text runs, without phonetic runs)."""
    if len(node) == 1 and node[0].tag == q("t"):
        return node[0].text or ""
    return OpenpyxlText.from_tree(node).content


def _sheet_grid(xml: bytes, strings, formats: CellFormats, epoch) -> list[list]:
    root = etree.fromstring(xml)
    dimension = root.find(q("dimension"))
    max_col = max_row = None
    if dimension is not None:
        _, _, max_col, max_row = range_boundaries(dimension.get("ref"))
    rows = []
    shared = {}
    row_counter = 0
    data = root.find(q("sheetData"))
    for row in (data if data is not None else ()):
        if row.tag != q("row"):
            continue
        r = row.get("r")
        row_counter = int(r) if r and r.isdigit() else (_row_number(r) if r else row_counter + 1)
        cells = []
        col_counter = 0
        for c in row:
            if c.tag != q("c"):
                continue
            ref = c.get("r")
            if ref:
                _, col_counter = coordinate_to_tuple(ref)
            else:
                col_counter += 1
            cells.append((col_counter, _cell_value(c, ref, strings, formats, epoch, shared)))
        rows.append((row_counter, cells))
    return _padded(rows, max_col, max_row)


def _row_number(r: str) -> int:
    value = float(r)
    if not value.is_integer():
        raise Unsure(f"row number {r}")
    return int(value)


def _cell_value(c, ref, strings, formats: CellFormats, epoch, shared):
    kind = c.get("t", "n")
    style = int(c.get("s") or 0)
    if style >= len(formats.number_formats):
        raise Unsure("a cell style id beyond the cell formats")
    formula = c.find(q("f"))
    if formula is not None:
        return _formula(formula, ref, shared)
    if kind == "inlineStr":
        inline = c.find(q("is"))
        return None if inline is None else _typed_text(_text_of(inline) if len(inline) else OpenpyxlText.from_tree(inline).content)
    value = c.findtext(q("v")) or None
    if value is None:
        return None
    if kind == "n":
        number = float(value) if ("." in value or "E" in value or "e" in value) else int(value)
        if style in formats.dates:
            try:
                return from_excel(number, epoch, timedelta=style in formats.durations)
            except (OverflowError, ValueError):
                return "#VALUE!"
        if "%" in formats.number_formats[style]:
            return round(number * 100, 10)  # the project keeps percentages on 0–100
        return number
    if kind == "s":
        return _typed_text(strings[int(value)])
    if kind == "b":
        return bool(int(value))
    if kind == "str":
        return _typed_text(value)
    if kind == "d":
        return from_ISO8601(value)
    return value  # "e": an error such as #DIV/0!


def _typed_text(value: str):
    return Text(value) if value.startswith("=") else value  # typed '=… : text, not a formula


def _formula(formula, ref, shared) -> str:
    kind = formula.get("t")
    text = "=" + (formula.text or "")
    if kind == "shared":
        index = formula.get("si")
        if index in shared:
            return shared[index].translate_formula(ref)
        if text != "=":
            shared[index] = Translator(text, ref)
        return text
    if kind in ("array", "dataTable"):
        raise Unsure(f"an {kind} formula")
    return text


def _padded(rows, max_col, max_row) -> list[list]:
    """Rows 1…max_row, each as wide as the dimension, the way openpyxl's read-only sheet
    fills missing rows and cells (``ReadOnlyWorksheet._cells_by_row``)."""
    empty_row = [None] * max_col if max_col is not None else []
    grid = []
    counter = 1
    idx = 1
    for idx, cells in rows:
        if max_row is not None and idx > max_row:
            break
        for _ in range(counter, idx):
            counter += 1
            grid.append(list(empty_row))
        if counter <= idx:
            grid.append(_row(cells, max_col))
            counter += 1
    if max_row is not None and max_row < idx:
        grid.extend(list(empty_row) for _ in range(counter, max_row + 1))
    return grid


def _row(cells, max_col) -> list:
    if not cells and not max_col:
        return []
    width = max_col or cells[-1][0]
    row = [None] * width
    for col, value in cells:
        if 1 <= col <= width:
            row[col - 1] = value
    return row


def attempt(operation: str, fast, *args):
    """``fast(*args)``, or None when the fast path is not sure of the file (counted): the
    caller then takes the openpyxl path, which also gives openpyxl's own errors for a file
    that is broken."""
    try:
        return fast(*args)
    except Exception:  # noqa: BLE001 - whatever went wrong, openpyxl decides about this file
        FALLBACKS[operation] += 1
        return None
