"""Reading: a workbook's grids as openpyxl's read-only parser gives them (:func:`read_grids`)."""

from __future__ import annotations

import hashlib

from lxml import etree
from openpyxl.cell.text import Text as OpenpyxlText
from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.utils.datetime import from_excel, from_ISO8601

from bot.sheets.backends.xlsx_parts.package import CUSTOM_PART, STYLES_PART, Package, Unsure, q
from bot.sheets.values import Text


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
        styles = package.zip.read(STYLES_PART)
        strings = package.zip.read(package.strings_part) if package.strings_part else b""
        epoch = package.epoch()
        reading = _Reading(styles, strings, epoch)
        return {name: reading.grid(package.zip.read(part)) for name, part in package.sheets}
    finally:
        package.close()


class _Reading:
    """The parts a sheet's grid depends on besides its own XML: the cell formats, the shared
    strings and the date epoch.

    A sheet is read once per content: the grid of a sheet XML already read with the same
    styles, strings and epoch is the one read then. A period's workbooks are copies of a few
    templates and a clerk fills some tabs of the dozen, so most sheets a poll opens are byte for
    byte ones it has read before. Sheets are known by a BLAKE2b digest of these parts' bytes, so
    the XML itself is not kept, only the grid read from it."""

    _GRIDS: dict[bytes, list[list]] = {}
    _FORMATS: dict[bytes, CellFormats] = {}
    _STRINGS: dict[bytes, list[str]] = {}
    LIMIT = 1024  # grids kept (about a tab each); all are let go when full

    def __init__(self, styles: bytes, strings: bytes, epoch) -> None:
        self.styles, self.strings, self.epoch = styles, strings, epoch
        self.context = _digest(styles, strings, repr(epoch).encode())
        self._formats: CellFormats | None = None
        self._strings: list[str] | None = None

    def grid(self, xml: bytes) -> list[list]:
        key = self.context + _digest(xml)
        grid = self._GRIDS.get(key)
        if grid is None:
            grid = _sheet_grid(xml, self.shared_strings(), self.formats(), self.epoch)
            if len(self._GRIDS) >= self.LIMIT:
                self._GRIDS.clear()
            self._GRIDS[key] = grid
        return [list(row) for row in grid]  # the caller's own rows: the one kept stays as read

    def formats(self) -> CellFormats:
        if self._formats is None:
            self._formats = _remembered(self._FORMATS, _digest(self.styles), lambda: CellFormats(self.styles))
        return self._formats

    def shared_strings(self) -> list[str]:
        if self._strings is None:
            self._strings = (
                _remembered(self._STRINGS, _digest(self.strings), lambda: _shared_strings(self.strings))
                if self.strings
                else []
            )
        return self._strings


def _digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))  # so that no two splits of the same bytes meet
        h.update(part)
    return h.digest()


def _remembered(memo: dict, key: bytes, make):
    found = memo.get(key)
    if found is None:
        if len(memo) >= 64:
            memo.clear()
        found = memo[key] = make()
    return found


def read_sheet_names(path) -> list[str]:
    """The workbook's sheet names in order, from ``xl/workbook.xml`` (no sheet is parsed)."""
    package = Package(path)
    try:
        return [name for name, _ in package.sheets]
    finally:
        package.close()


def read_tags(path) -> dict[str, str]:
    """The workbook's custom document properties (the tags it was provisioned with), read where
    openpyxl reads them (``docProps/custom.xml``, whatever the relationships say). Text
    properties only: any other kind is openpyxl's to convert."""
    import zipfile

    with zipfile.ZipFile(path) as package:
        if CUSTOM_PART not in package.namelist():
            return {}
        root = etree.fromstring(package.read(CUSTOM_PART))
    tags = {}
    for prop in root:
        values = list(prop)
        if prop.get("linkTarget") is not None or len(values) != 1:
            raise Unsure("a custom property that is not plain text")
        if etree.QName(values[0]).localname != "lpwstr":
            raise Unsure(f"a custom property of type {etree.QName(values[0]).localname}")
        tags[prop.get("name")] = values[0].text
    return tags


def _shared_strings(xml: bytes) -> list[str]:
    strings = []
    for si in etree.fromstring(xml).iter(q("si")):
        strings.append(_text_of(si).replace("x005F_", ""))
    return strings


_T = q("t")


def _text_of(node) -> str:
    """The text of a string item (``<t>`` or rich-text runs, without phonetic runs)."""
    if len(node) == 1 and node[0].tag == _T:
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
    row_tag, cell_tag, known_formats = q("row"), q("c"), len(formats.number_formats)
    for row in data if data is not None else ():
        if row.tag != row_tag:
            continue
        r = row.get("r")
        row_counter = int(r) if r and r.isdigit() else (_row_number(r) if r else row_counter + 1)
        cells = []
        col_counter = 0
        for c in row:
            if c.tag != cell_tag:
                continue
            ref = c.get("r")
            col_counter = (_COLUMNS.get(ref) or _column(ref)) if ref else col_counter + 1
            if len(c):
                cells.append((col_counter, _cell_value(c, ref, strings, formats, epoch, shared)))
            else:  # a cell with a format and nothing in it: most of a template's cells
                style = c.get("s")
                if style and int(style) >= known_formats:  # as _check_style, inline: the hot loop
                    raise Unsure("a cell style id beyond the cell formats")
                cells.append((col_counter, None))
        rows.append((row_counter, cells))
    return _padded(rows, max_col, max_row)


def _row_number(r: str) -> int:
    value = float(r)
    if not value.is_integer():
        raise Unsure(f"row number {r}")
    return int(value)


_COLUMNS: dict[str, int] = {}  # cell reference → its column: workbooks of one layout share them


def _column(ref: str) -> int:
    if ref not in _COLUMNS:
        if len(_COLUMNS) > 50_000:
            _COLUMNS.clear()
        _COLUMNS[ref] = coordinate_to_tuple(ref)[1]
    return _COLUMNS[ref]


def _check_style(c, formats: CellFormats) -> int:
    style = int(c.get("s") or 0)
    if style >= len(formats.number_formats):
        raise Unsure("a cell style id beyond the cell formats")
    return style


_F, _IS, _V = q("f"), q("is"), q("v")  # a cell's children, looked up for every cell read


def _cell_value(c, ref, strings, formats: CellFormats, epoch, shared):
    kind = c.get("t", "n")
    style = _check_style(c, formats)
    formula = c.find(_F)
    if formula is not None:
        return _formula(formula, ref, shared)
    if kind == "inlineStr":
        inline = c.find(_IS)
        return (
            None
            if inline is None
            else _typed_text(_text_of(inline) if len(inline) else OpenpyxlText.from_tree(inline).content)
        )
    value = c.findtext(_V) or None
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
