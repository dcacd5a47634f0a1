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
  for locked clones of cell formats (approval), reusing any already there.
- ``xl/sharedStrings.xml``: read only (cells are written as inline strings, as openpyxl does).
- ``xl/worksheets/*.xml``: parsed with lxml; the "Kiểm tra" sheet (and the master's tabs)
  rendered whole in the frame openpyxl writes for an empty sheet; the cover's bot-owned cells
  and a new workbook's unit cells and row heights patched; ``sheetProtection`` and cell style
  ids patched on approval.
- ``docProps/core.xml`` (title, times) and ``docProps/custom.xml`` (the tags): written when a
  workbook is provisioned from its template.

Whatever this module cannot be sure of (a structure it did not expect) raises :class:`Unsure`
and the caller takes the openpyxl path for that file; :data:`FALLBACKS` counts those.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from collections import Counter
from io import BytesIO
from xml.sax.saxutils import escape

from lxml import etree
from openpyxl.cell.text import Text as OpenpyxlText
from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

from bot.sheets.values import Text

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKBOOK_TYPES = tuple(
    f"application/vnd.ms-excel.{k}.main+xml" for k in ("template.macroEnabled", "sheet.macroEnabled")
) + tuple(
    f"application/vnd.openxmlformats-officedocument.spreadsheetml.{k}.main+xml" for k in ("template", "sheet")
)
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
        self.rels = (
            _targets(self.zip.read(self.rels_part), self.rels_part) if self.rels_part in self.names else {}
        )
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
        return (
            CALENDAR_MAC_1904
            if pr is not None and pr.get("date1904") in ("1", "true")
            else CALENDAR_WINDOWS_1900
        )

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
        return {
            name: _sheet_grid(package.zip.read(part), strings, formats, epoch)
            for name, part in package.sheets
        }
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
    for row in data if data is not None else ():
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
        return (
            None
            if inline is None
            else _typed_text(_text_of(inline) if len(inline) else OpenpyxlText.from_tree(inline).content)
        )
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


# --- writing: the zip ---------------------------------------------------------------------------------


def write_package(source, target, replaced: dict[str, bytes], dropped: frozenset = frozenset()) -> None:
    """``source`` with the parts in ``replaced`` rewritten and those in ``dropped`` left out;
    every other part is copied as its compressed bytes, in the same order."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if info.filename in dropped:
                continue
            if info.filename in replaced:
                fresh = zipfile.ZipInfo(info.filename, info.date_time)
                fresh.compress_type = zipfile.ZIP_DEFLATED
                fresh.external_attr = info.external_attr
                dst.writestr(fresh, replaced[info.filename])
            else:
                _copy_compressed(src, info, dst)


def _copy_compressed(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: zipfile.ZipFile) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise Unsure("an encrypted or unusually compressed part")
    src.fp.seek(info.header_offset)
    header = src.fp.read(zipfile.sizeFileHeader)
    if header[:4] != zipfile.stringFileHeader:
        raise Unsure("a damaged local file header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + zipfile.sizeFileHeader + name_length + extra_length)
    data = src.fp.read(info.compress_size)
    copied = zipfile.ZipInfo(info.filename, info.date_time)
    for attribute in ("compress_type", "CRC", "compress_size", "file_size", "external_attr", "create_system"):
        setattr(copied, attribute, getattr(info, attribute))
    copied.header_offset = dst.fp.tell()
    dst.fp.write(copied.FileHeader())
    dst.fp.write(data)
    dst.filelist.append(copied)
    dst.NameToInfo[copied.filename] = copied
    dst.start_dir = dst.fp.tell()  # where the next part (or the central directory) goes


# --- writing: cell formats ----------------------------------------------------------------------------


def _canon(element) -> tuple:
    """An element's content without namespaces: equal for equal formats however they were written."""
    return (
        etree.QName(element).localname,
        tuple(sorted((etree.QName(k).localname, v) for k, v in element.attrib.items())),
        (element.text or "").strip(),
        tuple(_canon(child) for child in element if isinstance(child.tag, str)),
    )


def _ns(element):
    """An openpyxl-serialised element (no namespace) as an lxml element of the main namespace."""
    from xml.etree.ElementTree import tostring

    node = etree.fromstring(tostring(element))
    for el in node.iter():
        el.tag = q(etree.QName(el).localname)
    etree.cleanup_namespaces(node)
    return node


def _copy(element):
    return etree.fromstring(etree.tostring(element))


STYLESHEET_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs")


class Styles:
    """``xl/styles.xml`` of one workbook: cell formats found, or appended when missing."""

    def __init__(self, xml: bytes):
        self.root = etree.fromstring(xml)
        self.changed = False
        self._indexes: dict[str, dict[tuple, int]] = {}
        self._counts: dict[str, int] = {}
        self._xfs: dict[int, int] = {}  # FormatParts (by id; they live as long as the module) → index
        self._clones: dict[tuple[int, bool], int] = {}
        xfs = self.root.find(q("cellXfs"))
        if xfs is None or len(xfs) == 0:
            raise Unsure("styles without cell formats")

    def _list(self, name: str):
        node = self.root.find(q(name))
        if node is None:
            node = etree.Element(q(name))
            position = STYLESHEET_ORDER.index(name)
            before = [self.root.find(q(n)) for n in STYLESHEET_ORDER[:position]]
            anchor = next((b for b in reversed(before) if b is not None), None)
            if anchor is None:
                self.root.insert(0, node)
            else:
                anchor.addnext(node)
        return node

    def index_of(self, name: str, element) -> int:
        """The index of an element equal to ``element`` in list ``name`` (appended if absent)."""
        items = self._list(name)
        if name not in self._indexes:
            children = [c for c in items if isinstance(c.tag, str)]
            self._indexes[name] = {}
            for i, child in enumerate(children):
                self._indexes[name].setdefault(_canon(child), i)
            self._counts[name] = len(children)
        index, key = self._indexes[name], _canon(element)
        if key not in index:
            items.append(element)
            index[key] = self._counts[name]
            self._counts[name] += 1
            items.set("count", str(self._counts[name]))
            self.changed = True
        return index[key]

    def number_format_id(self, code: str) -> int:
        from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE

        if code in BUILTIN_FORMATS_REVERSE:
            return BUILTIN_FORMATS_REVERSE[code]
        formats = self._list("numFmts")
        for f in formats.iter(q("numFmt")):
            if f.get("formatCode") == code:
                return int(f.get("numFmtId"))
        new_id = max([int(f.get("numFmtId")) for f in formats.iter(q("numFmt"))] + [163]) + 1
        etree.SubElement(formats, q("numFmt"), numFmtId=str(new_id), formatCode=code)
        formats.set("count", str(len(formats)))
        self.changed = True
        return new_id

    def xf(self, parts: FormatParts) -> int:
        if id(parts) not in self._xfs:
            self._xfs[id(parts)] = self._add_xf(parts)
        return self._xfs[id(parts)]

    def _add_xf(self, parts: FormatParts) -> int:
        xf = _copy(parts.elements["cellXfs"])
        xf.set("numFmtId", str(self.number_format_id(parts.number_format) if parts.number_format else 0))
        for name, attribute in (("fonts", "fontId"), ("fills", "fillId"), ("borders", "borderId")):
            xf.set(
                attribute,
                "0" if parts.defaults[name] else str(self.index_of(name, _copy(parts.elements[name]))),
            )
        return self.index_of("cellXfs", xf)

    def locked_clone(self, index: int, locked: bool) -> int:
        """The cell format ``index`` with its protection set to ``locked`` (appended if new)."""
        if (index, locked) not in self._clones:
            self._clones[index, locked] = self._clone(index, locked)
        return self._clones[index, locked]

    def _clone(self, index: int, locked: bool) -> int:
        xfs = [x for x in self.root.find(q("cellXfs")) if isinstance(x.tag, str)]
        if index >= len(xfs):
            raise Unsure("a cell style id beyond the cell formats")
        original = xfs[index]
        if is_locked(original) == locked:
            return index
        clone = etree.fromstring(etree.tostring(original))
        protection = clone.find(q("protection"))
        if protection is None:
            protection = etree.SubElement(clone, q("protection"))
        protection.set("locked", "1" if locked else "0")
        clone.set("applyProtection", "1")
        return self.index_of("cellXfs", clone)

    def unlocked_blank(self) -> int:
        """The format openpyxl gives a cell it creates and unlocks: the first font, fill and
        border, no number format or alignment, not locked."""
        from openpyxl.styles import Protection
        from openpyxl.styles.cell_style import CellStyle

        return self.index_of("cellXfs", _ns(CellStyle(protection=Protection(locked=False)).to_tree()))

    def is_locked(self, index: int) -> bool:
        xfs = [x for x in self.root.find(q("cellXfs")) if isinstance(x.tag, str)]
        return is_locked(xfs[index])

    def to_bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", standalone=True)


def is_locked(xf) -> bool:
    protection = xf.find(q("protection"))
    return protection is None or protection.get("locked") not in ("0", "false")


class FormatParts:
    """What openpyxl writes for one of the project's cell styles (``workbook.STYLES``)."""

    def __init__(self, style: str, input_: bool, quote_prefix: bool):
        from openpyxl import Workbook
        from openpyxl.styles.cell_style import CellStyle

        from bot.outline.layout import CellSpec
        from bot.sheets.backends.workbook import _style_cell

        wb = Workbook()
        cell = wb.active.cell(row=1, column=1)
        _style_cell(cell, CellSpec(style=style, input=input_), quote_prefix)
        array = cell._style
        self.font, self.fill, self.border = (
            wb._fonts[array.fontId],
            wb._fills[array.fillId],
            wb._borders[array.borderId],
        )
        self.number_format = cell.number_format if cell.number_format != "General" else None
        xf = CellStyle.from_array(array)
        if array.alignmentId:
            xf.alignment = wb._alignments[array.alignmentId]
        if array.protectionId:
            xf.protection = wb._protections[array.protectionId]
        self.elements = {
            name: _ns(obj.to_tree())
            for name, obj in (
                ("fonts", self.font),
                ("fills", self.fill),
                ("borders", self.border),
                ("cellXfs", xf),
            )
        }
        # a style that sets no font (fill, border) keeps the workbook's first one, as in openpyxl
        self.defaults = {
            "fonts": array.fontId == 0,
            "fills": array.fillId == 0,
            "borders": array.borderId == 0,
        }


_FORMAT_PARTS: dict[tuple, FormatParts] = {}


def format_parts(style: str, input_: bool, quote_prefix: bool) -> FormatParts:
    key = (style, input_, quote_prefix)
    if key not in _FORMAT_PARTS:
        _FORMAT_PARTS[key] = FormatParts(*key)
    return _FORMAT_PARTS[key]


# --- writing: sheets ----------------------------------------------------------------------------------


_FRAMES: dict[tuple, bytes] = {}


def _frame(tab) -> bytes:
    """What openpyxl writes for an empty sheet with this tab's columns, print setup and
    protection (rendered once per kind of tab): the cells are added to it here."""
    key = (tab.landscape, tab.protected, tuple(sorted(tab.col_widths.items())))
    if key not in _FRAMES:
        from openpyxl import Workbook
        from openpyxl.worksheet._writer import WorksheetWriter

        from bot.outline.layout import TabLayout
        from bot.sheets.backends.workbook import render_tab

        ws = Workbook().create_sheet("frame")  # not the first sheet: not the selected tab
        render_tab(
            ws,
            TabLayout(
                name="frame",
                col_widths=dict(tab.col_widths),
                landscape=tab.landscape,
                protected=tab.protected,
            ),
        )
        writer = WorksheetWriter(ws, out=BytesIO())
        writer.write()
        _FRAMES[key] = writer.read()
    return _FRAMES[key]


AFTER_SHEET_DATA = (
    "sheetCalcPr",
    "sheetProtection",
    "protectedRanges",
    "scenarios",
    "autoFilter",
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
)


def _place(root, element) -> None:
    """Insert a child of ``worksheet`` after sheetData, in the order the schema requires."""
    name = etree.QName(element).localname
    anchor = root.find(q("sheetData"))
    for before in AFTER_SHEET_DATA[: AFTER_SHEET_DATA.index(name)]:
        found = root.find(q(before))
        if found is not None:
            anchor = found
    anchor.addnext(element)


def render_sheet(tab, styles: Styles):
    """The sheet XML of ``tab`` as ``render_tab`` lays it out (through openpyxl), strings inline."""
    from openpyxl.worksheet.datavalidation import DataValidationList

    from bot.sheets.backends.workbook import _data_validation

    frame = _frame(tab).decode("utf-8")
    head, tail = re.split(r"<sheetData\s*/>|<sheetData>\s*</sheetData>", frame)
    by_row: dict[int, list] = {row: [] for row in tab.row_heights}
    validations, links = {}, []
    for (row, col), spec in sorted(tab.cells.items()):
        ref = f"{get_column_letter(col)}{row}"
        quote = spec.formula is None and isinstance(spec.value, str) and spec.value.startswith("=")
        by_row.setdefault(row, []).append(
            _cell_xml(ref, styles.xf(format_parts(spec.style, spec.input, quote)), spec, quote)
        )
        if spec.validation:
            key = (spec.validation.kind, spec.validation.min, spec.validation.max, spec.validation.choices)
            validations.setdefault(key, (_data_validation(spec.validation), []))[1].append(ref)
        if spec.link:
            tab_name, _, a1 = spec.link.rpartition("!")
            links.append((ref, f"'{tab_name}'!{a1}"))
    rows = []
    for row in sorted(by_row):
        height = f' ht="{_height(tab.row_heights[row])}" customHeight="1"' if row in tab.row_heights else ""
        rows.append(f'<row r="{row}"{height}>{"".join(by_row[row])}</row>')
    root = etree.fromstring(f"{head}<sheetData>{''.join(rows)}</sheetData>{tail}".encode())
    if tab.cells:
        rs, cs = [r for r, _ in tab.cells], [c for _, c in tab.cells]
        root.find(q("dimension")).set(
            "ref", f"{get_column_letter(min(cs))}{min(rs)}:{get_column_letter(max(cs))}{max(rs)}"
        )
    if tab.merges:
        merges = etree.Element(q("mergeCells"), count=str(len(tab.merges)))
        for r1, c1, r2, c2 in tab.merges:
            etree.SubElement(
                merges, q("mergeCell"), ref=f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"
            )
        _place(root, merges)
    if validations:
        for dv, refs in validations.values():
            dv.sqref = " ".join(refs)
        _place(root, _ns(DataValidationList(dataValidation=[dv for dv, _ in validations.values()]).to_tree()))
    if links:
        hyperlinks = etree.Element(q("hyperlinks"))
        for ref, location in links:  # what openpyxl writes for Hyperlink(ref=…, location=…)
            etree.SubElement(hyperlinks, q("hyperlink"), ref=ref, location=location)
        _place(root, hyperlinks)
    return root


def _cell_xml(ref: str, style: int, spec, quote: bool) -> str:
    from openpyxl.compat import safe_string

    if spec.formula:
        return f'<c r="{ref}" s="{style}"><f>{escape(spec.formula[1:])}</f><v></v></c>'
    value = spec.value
    _check_value(value, quote)
    if value is None or value == "":
        return f'<c r="{ref}" s="{style}" t="{"n" if value is None else "inlineStr"}"/>'
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value.strip() and value != value.strip() else ""
        return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'
    return f'<c r="{ref}" s="{style}" t="n"><v>{safe_string(value)}</v></c>'


def _check_value(value, quote: bool) -> None:
    """Only values openpyxl stores as they are: numbers, and text that is not a formula."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, bool) or not isinstance(value, (str, int, float, type(None))):
        raise Unsure(f"a value of type {type(value).__name__}")
    if isinstance(value, str) and (
        (value.startswith("=") and not quote) or ILLEGAL_CHARACTERS_RE.search(value)
    ):
        raise Unsure("text openpyxl would store differently")


def _height(points: float) -> str:
    from openpyxl.compat import safe_string

    return safe_string(float(points))


def _put_value(c, value) -> None:
    """A cell's value as openpyxl writes it (strings inline); its format stays."""
    from openpyxl.compat import safe_string

    _check_value(value, False)
    for child in list(c):
        c.remove(child)
    c.set("t", "inlineStr" if isinstance(value, str) else "n")
    if value is None or value == "":
        return
    if isinstance(value, str):
        t = etree.SubElement(etree.SubElement(c, q("is")), q("t"))
        t.text = value
        if value.strip() and value != value.strip():  # as openpyxl.xml.functions.whitespace
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        return
    etree.SubElement(c, q("v")).text = safe_string(value)


def set_cells(root, cells: dict[tuple[int, int], object]) -> None:
    """Patch the values of existing cells of a sheet (their formats stay)."""
    data = root.find(q("sheetData"))
    found = {}
    for row in data.iter(q("row")):
        for c in row.iter(q("c")):
            if c.get("r") is None:
                raise Unsure("a cell without its reference")
            found[c.get("r")] = c
    for (row, col), value in cells.items():
        c = found.get(f"{get_column_letter(col)}{row}")
        if c is None:
            raise Unsure("a cell to write that the sheet does not have")
        _put_value(c, value)


def protect(root, styles: Styles, unlocked: set | None) -> None:
    """Lock every cell of a sheet but ``unlocked`` (cell formats cloned with the lock flag) and
    turn its protection on, as ``workbook._protect`` does through openpyxl."""
    from openpyxl.worksheet.protection import SheetProtection

    unlocked = unlocked or set()
    if not styles.is_locked(0) or _has_row_or_column_formats(root):
        raise Unsure("cells without a format of their own that would not be locked")
    seen = set()
    for c in root.find(q("sheetData")).iter(q("c")):
        position = coordinate_to_tuple(c.get("r")) if unlocked else None
        seen.add(position)
        style = styles.locked_clone(int(c.get("s") or 0), position not in unlocked)
        if style or c.get("s") is not None:
            c.set("s", str(style))
    seen.discard(None)
    max_row, max_col = max((r for r, _ in seen), default=0), max((c for _, c in seen), default=0)
    missing = {(r, c) for r, c in unlocked if r <= max_row and c <= max_col} - seen
    if missing:  # openpyxl creates every cell of the used range: those it would unlock, too
        _add_cells(root, missing, styles.unlocked_blank())
    protection = root.find(q("sheetProtection"))
    if protection is None:
        _place(root, _ns(SheetProtection(sheet=True).to_tree()))
    else:
        protection.set("sheet", "1")


def _add_cells(root, cells: set, style: int) -> None:
    data = root.find(q("sheetData"))
    rows = {int(row.get("r")): row for row in data.iter(q("row"))}
    for r, col in sorted(cells):
        if r not in rows:
            rows[r] = etree.Element(q("row"), r=str(r))
            later = [n for n in rows if n > r]
            if later:
                rows[min(later)].addprevious(rows[r])
            else:
                data.append(rows[r])
        c = etree.Element(q("c"), r=f"{get_column_letter(col)}{r}", s=str(style), t="n")
        after = [x for x in rows[r].iter(q("c")) if coordinate_to_tuple(x.get("r"))[1] > col]
        if after:
            after[0].addprevious(c)
        else:
            rows[r].append(c)


def _has_row_or_column_formats(root) -> bool:
    cols = root.find(q("cols"))
    rows = root.find(q("sheetData")).iter(q("row"))
    return any(col.get("style") not in (None, "0") for col in (cols if cols is not None else ())) or any(
        row.get("s") not in (None, "0") for row in rows
    )


# --- writing: edits -------------------------------------------------------------------------------


CALC_CHAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"


def apply_edits(source, target, edits) -> None:
    """Write ``source`` with ``edits`` applied into ``target``: only the sheets edited, the
    styles (when formats were added) and, when there is one, the calculation chain (left out,
    as openpyxl leaves it out) change."""
    from bot.sheets.backends.base import Protect, ReplaceTab, SetCells

    package = Package(source)
    try:
        by_name = dict(package.sheets)
        if STYLES_PART not in package.names:
            raise Unsure("no styles part")
        styles = Styles(package.zip.read(STYLES_PART))
        roots: dict[str, object] = {}

        def sheet(name: str):
            if name not in by_name:
                raise Unsure(f"no sheet {name}")
            part = by_name[name]
            if part not in roots:
                roots[part] = etree.fromstring(package.zip.read(part))
            return roots[part]

        for edit in edits:
            if isinstance(edit, SetCells):
                set_cells(sheet(edit.tab), edit.cells)
            elif isinstance(edit, ReplaceTab):
                sheet(edit.tab.name)
                part = by_name[edit.tab.name]
                if _rels_path(part) in package.names:
                    raise Unsure("a replaced sheet with relationships of its own")
                roots[part] = render_sheet(edit.tab, styles)
            elif isinstance(edit, Protect):
                for name, _ in package.sheets:
                    unlocked = None if edit.whole else set(edit.input_cells.get(name, ()))
                    protect(sheet(name), styles, unlocked)
            else:
                raise Unsure(f"an edit {type(edit).__name__}")
        replaced = {part: _xml(root) for part, root in roots.items()}
        if styles.changed:
            replaced[STYLES_PART] = styles.to_bytes()
        dropped = _drop_calc_chain(package, replaced)
    finally:
        package.close()
    write_package(source, target, replaced, dropped)


def _xml(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _drop_calc_chain(package: Package, replaced: dict[str, bytes]) -> frozenset:
    """A calculation chain names formula cells; after an edit it may name cells that are no
    longer formulas (a repair prompt in Excel), so it goes, and Excel rebuilds it."""
    chains = [target for kind, target in package.rels.values() if kind.endswith("/calcChain")]
    if not chains:
        return frozenset()
    rels = etree.fromstring(package.zip.read(package.rels_part))
    for rel in list(rels):
        if (rel.get("Type") or "").endswith("/calcChain"):
            rels.remove(rel)
    replaced[package.rels_part] = _xml(rels)
    types = etree.fromstring(package.zip.read("[Content_Types].xml"))
    for override in list(types):
        if override.get("ContentType") == CALC_CHAIN_TYPE:
            types.remove(override)
    replaced["[Content_Types].xml"] = _xml(types)
    return frozenset(chains)


# --- provisioning: a template per kind of unit, copied ------------------------------------------------


CUSTOM_PART, CORE_PART = "docProps/custom.xml", "docProps/core.xml"
_TEMPLATES: dict[tuple, tuple] = {}  # (unit kind, period, schema version) → (layout, file bytes, sheet parts)


def from_template(layout, target) -> None:
    """Write the workbook of ``layout`` into ``target`` as a copy of the template of its unit
    kind, period and schema version (built once with openpyxl), its own cells patched in."""
    template, data, parts = _template(layout)
    changed_tabs = _differences(template, layout)
    replaced = {}
    source = BytesIO(data)
    with zipfile.ZipFile(source) as package:
        for tab, (cells, heights) in changed_tabs.items():
            root = etree.fromstring(package.read(parts[tab]))
            set_cells(root, cells)
            _set_heights(root, heights)
            replaced[parts[tab]] = _xml(root)
        replaced[CORE_PART] = _core(package.read(CORE_PART), layout.title)
        replaced[CUSTOM_PART] = _custom(package.read(CUSTOM_PART), layout)
    write_package(source, target, replaced)


def _template(layout):
    from bot.sheets.backends.workbook import build_workbook

    key = (layout.unit_kind, layout.period_id, layout.schema_version)
    if key not in _TEMPLATES:
        out = BytesIO()
        build_workbook(layout).save(out)
        package = Package(BytesIO(out.getvalue()))
        _TEMPLATES[key] = (layout, out.getvalue(), dict(package.sheets))
        package.close()
    return _TEMPLATES[key]


def _differences(template, layout) -> dict[str, tuple[dict, dict]]:
    """Per tab, the cell values and row heights of ``layout`` that differ from the template's;
    anything else that differs (formats, merges, tabs…) is a layout the template cannot give."""
    if [t.name for t in template.tabs] != [t.name for t in layout.tabs]:
        raise Unsure("other tabs than the template's")
    changed = {}
    for old, new in zip(template.tabs, layout.tabs, strict=True):
        if old is new:
            continue  # a section tab shared by the layouts of a unit kind (layout._sections)
        if (
            (old.merges, old.col_widths, old.landscape, old.protected)
            != (new.merges, new.col_widths, new.landscape, new.protected)
            or old.cells.keys() != new.cells.keys()
            or not set(new.row_heights) <= set(old.row_heights) | {r for r, _ in old.cells}
        ):
            raise Unsure(f"a tab {new.name} laid out unlike the template's")
        cells = {}
        for position, spec in new.cells.items():
            was = old.cells[position]
            if spec == was:
                continue
            if (
                (spec.formula, spec.style, spec.input, spec.validation, spec.link)
                != (was.formula, was.style, was.input, was.validation, was.link)
                or spec.formula
                or _looks_like_formula(spec.value)
                or _looks_like_formula(was.value)
            ):
                raise Unsure(f"a cell of {new.name} formatted unlike the template's")
            cells[position] = spec.value
        heights = {
            row: new.row_heights.get(row)
            for row in set(old.row_heights) | set(new.row_heights)
            if old.row_heights.get(row) != new.row_heights.get(row)
        }
        if cells or heights:
            changed[new.name] = (cells, heights)
    return changed


def _looks_like_formula(value) -> bool:
    return isinstance(value, str) and value.startswith("=")


def _set_heights(root, heights: dict[int, float | None]) -> None:
    rows = {int(row.get("r")): row for row in root.find(q("sheetData")).iter(q("row"))}
    for number, height in heights.items():
        row = rows[number]
        if height is None:
            row.attrib.pop("ht", None)
            row.attrib.pop("customHeight", None)
        else:
            row.set("ht", _height(height))
            row.set("customHeight", "1")


def _core(xml: bytes, title: str) -> bytes:
    """The title, and the creation time openpyxl writes (now)."""
    from datetime import UTC, datetime

    root = etree.fromstring(xml)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    for element in root:
        name = etree.QName(element).localname
        if name == "title":
            element.text = title
        elif name in ("created", "modified"):
            element.text = now
    return _xml(root)


def _custom(xml: bytes, layout) -> bytes:
    from bot.sheets.backends.workbook import layout_tags

    tags = layout_tags(layout)
    root = etree.fromstring(xml)
    for prop in root:
        if prop.get("name") in tags:
            prop[0].text = tags[prop.get("name")]
    return _xml(root)


# --- a program-owned workbook written whole (the master) ----------------------------------------------


def fresh_workbook(tabs, tags: dict[str, str], target) -> None:
    """What ``WorkbookBackend._rewrite`` builds with openpyxl: ``tabs`` in order, ``tags`` as
    custom properties; the frame of the package from openpyxl, the sheets rendered here."""
    from openpyxl import Workbook
    from openpyxl.packaging.custom import StringProperty

    from bot.sheets.backends.base import ReplaceTab

    wb = Workbook()
    wb.remove(wb.active)
    for tab in tabs:
        wb.create_sheet(tab.name)
    for key, value in tags.items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    skeleton = BytesIO()
    wb.save(skeleton)
    apply_edits(skeleton, target, [ReplaceTab(tab) for tab in tabs])
