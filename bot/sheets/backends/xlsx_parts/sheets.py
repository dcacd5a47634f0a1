"""Writing sheets: a tab rendered whole (:func:`render_sheet`), cells patched
(:func:`set_cells`), a sheet locked (:func:`protect`)."""

from __future__ import annotations

import functools
import re
from io import BytesIO
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.compat import safe_string
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter

from bot.sheets.backends.xlsx_parts.package import Unsure, q
from bot.sheets.backends.xlsx_parts.styles import Styles, _ns, format_parts
from bot.sheets.values import FORMULA_TRIGGERS

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


XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"  # what lxml writes
_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')
_PROTECTION = re.compile(r"<sheetProtection\b[^>]*/>")


def render_sheet(tab, styles: Styles) -> bytes:
    """The sheet XML of ``tab`` as ``render_tab`` lays it out (through openpyxl), strings inline:
    openpyxl's frame of an empty sheet with the rows, merges, validations and links written
    into it as text, in the order the schema gives them (no tree is built: a master's tabs are
    large)."""
    head, tail = _frame_parts(tab)
    rows, validations, links, bounds = _rows(tab, styles)
    if bounds:
        (r1, c1), (r2, c2) = bounds
        ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"
        head = _DIMENSION.sub(f'<dimension ref="{ref}"/>', head, count=1)
    protection = _PROTECTION.match(tail)
    at = protection.end() if protection else 0  # mergeCells… come after sheetProtection
    extras = _merges_xml(tab.merges) + _validations_xml(validations) + _links_xml(links)
    return XML_DECLARATION + f"{head}<sheetData>{rows}</sheetData>{tail[:at]}{extras}{tail[at:]}".encode()


_FRAME_PARTS: dict[bytes, tuple[str, str]] = {}


def _frame_parts(tab) -> tuple[str, str]:
    """The frame's text before and after its empty ``sheetData``."""
    frame = _frame(tab)
    if frame not in _FRAME_PARTS:
        head, tail = re.split(r"<sheetData\s*/>|<sheetData>\s*</sheetData>", frame.decode("utf-8"))
        _FRAME_PARTS[frame] = head, tail
    return _FRAME_PARTS[frame]


def _rows(tab, styles: Styles) -> tuple[str, dict, list, tuple | None]:
    """The rows' XML, the validations and links met on the way, and the cells' bounds
    ((first row, first column), (last row, last column)), None for a tab without cells."""
    from bot.sheets.backends.workbook import _data_validation

    by_row: dict[int, list] = {row: [] for row in tab.row_heights}
    validations, links, xfs = {}, [], {}
    row_cells, last_row, first_col, last_col = None, None, None, None
    cells = tab.cells
    for place in sorted(cells):  # the places alone: sorting (place, spec) pairs makes a tuple a cell
        spec = cells[place]
        row, col = place
        if row != last_row:  # the cells come sorted: a row's list is looked up once
            row_cells, last_row = by_row.setdefault(row, []), row
        if first_col is None or col < first_col:
            first_col = col
        if last_col is None or col > last_col:
            last_col = col
        # text a spreadsheet would take for a formula ("=…", "-…", "+…", "@…") is stored with the
        # quote prefix, as render_tab stores it through openpyxl (is_formula_like, inlined: this
        # loop runs once for each of a master's or a feedback tab's cells)
        value = spec.value
        quote = spec.formula is None and isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)
        look = (spec.style, spec.input, quote)
        style = xfs.get(look)
        if style is None:
            style = xfs[look] = styles.xf(format_parts(*look))
        if spec.formula:
            row_cells.append(_written_cell(_REFS.get(place) or _ref(place), style, spec, quote))
        else:  # the "A1" reference is looked up only for a cell not remembered (it is in the key)
            key = (place, style, type(value), value, quote)
            row_cells.append(_CELLS.get(key) or _remembered_cell(key, _REFS.get(place) or _ref(place), spec))
        if not (spec.validation or spec.link):
            continue
        ref = _REFS.get(place) or _ref(place)
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
    bounds = ((min(tab.cells)[0], first_col), (last_row, last_col)) if tab.cells else None
    return "".join(rows), validations, links, bounds


# "A1" references by (row, column): every tab repeats the same few thousand.
_REFS: dict[tuple[int, int], str] = {}


def _ref(place: tuple[int, int]) -> str:
    if len(_REFS) > 50_000:
        _REFS.clear()
    ref = _REFS[place] = f"{get_column_letter(place[1])}{place[0]}"
    return ref


def _merges_xml(merges) -> str:
    if not merges:
        return ""
    cells = "".join(
        f'<mergeCell ref="{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"/>'
        for r1, c1, r2, c2 in merges
    )
    return f'<mergeCells count="{len(merges)}">{cells}</mergeCells>'


def _validations_xml(validations: dict) -> str:
    """What openpyxl writes for the tab's data validations (serialised by openpyxl itself)."""
    if not validations:
        return ""
    from xml.etree.ElementTree import tostring

    from openpyxl.worksheet.datavalidation import DataValidationList

    for dv, refs in validations.values():
        dv.sqref = " ".join(refs)
    return tostring(
        DataValidationList(dataValidation=[dv for dv, _ in validations.values()]).to_tree(), "unicode"
    )


def _links_xml(links: list) -> str:
    if not links:  # what openpyxl writes for Hyperlink(ref=…, location=…)
        return ""
    return "<hyperlinks>" + "".join(_link_xml(ref, location) for ref, location in links) + "</hyperlinks>"


def _link_xml(ref: str, location: str) -> str:
    # an A1 reference needs no escaping; a location is a tab name and a reference
    if location not in _LOCATIONS:
        if len(_LOCATIONS) > 5_000:
            _LOCATIONS.clear()
        _LOCATIONS[location] = quoteattr(location)
    return f'<hyperlink ref="{ref}" location={_LOCATIONS[location]}/>'


_LOCATIONS: dict[str, str] = {}


# A cell's XML by (place, format, value): feedback tabs repeat them. Kept small: a master's
# values are mostly unique, and 50,000 of them held cost the demo about 10 MiB of peak memory.
_CELLS: dict[tuple, str] = {}


def _remembered_cell(key: tuple, ref: str, spec) -> str:
    """The XML of a cell without a formula, by ``key`` (place, format, value type, value, quote)."""
    if len(_CELLS) > 5_000:
        _CELLS.clear()
    _, style, _, _, quote = key
    xml = _CELLS[key] = _written_cell(ref, style, spec, quote)
    return xml


def _written_cell(ref: str, style: int, spec, quote: bool) -> str:
    if spec.formula:
        return f'<c r="{ref}" s="{style}"><f>{escape(spec.formula[1:])}</f><v></v></c>'
    value = spec.value
    if value is None:
        return f'<c r="{ref}" s="{style}" t="n"/>'
    if isinstance(value, str):
        _check_text(value, quote)
        if not value:
            return f'<c r="{ref}" s="{style}" t="inlineStr"/>'
        space = ' xml:space="preserve"' if value.strip() and value != value.strip() else ""
        return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'
    _check_value(value, quote)
    return f'<c r="{ref}" s="{style}" t="n"><v>{safe_string(value)}</v></c>'


def _check_value(value, quote: bool) -> None:
    """Only values openpyxl stores as they are: numbers, and text that is not a formula."""
    if isinstance(value, str):
        _check_text(value, quote)
    elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise Unsure(f"a value of type {type(value).__name__}")


def _check_text(value: str, quote: bool) -> None:
    """Only text openpyxl stores as it is: not a formula, no character XML cannot hold."""
    if (value.startswith("=") and not quote) or ILLEGAL_CHARACTERS_RE.search(value):
        raise Unsure("text openpyxl would store differently")


@functools.lru_cache(maxsize=256)
def _height(points: float) -> str:
    return safe_string(float(points))


def _put_value(c, value) -> None:
    """A cell's value as openpyxl writes it (strings inline); its format stays."""
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
    turn its protection on, as ``workbook_render._protect`` does through openpyxl."""
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


_MAIN_DEFAULT = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_FORMATTED_ROW_OR_COLUMN = re.compile(rb'<(?:row\b[^>]*?\ss|col\b[^>]*?\sstyle)="0*[1-9]')
_PROTECTION_TAG = re.compile(rb"<sheetProtection\b[^>]*>")
_SHEET_ATTRIBUTE = re.compile(rb'\ssheet="[^"]*"')
_CALC_PR = re.compile(rb"\s*<sheetCalcPr\b[^>]*/>")


def lock_whole_xml(xml: bytes, styles: Styles) -> bytes | None:
    """What :func:`protect` does for a whole lock, on the sheet's text, once
    :meth:`Styles.lock_all` has locked every cell format: the sheet's protection turned on (the
    same bytes when it is on already). None when the text is not the plain form this reads (the
    main namespace as default, formats on rows or columns): :func:`protect` then works on the
    tree."""
    head = xml[:1000]
    if b"<worksheet" not in head or _MAIN_DEFAULT not in head or not styles.is_locked(0):
        return None
    span = _sheet_data_span(xml)
    if span is None or _FORMATTED_ROW_OR_COLUMN.search(xml):
        return None
    end = span[1]
    before, after = xml[:end], xml[end:]
    tag = _PROTECTION_TAG.search(after)
    if tag is not None:
        sheet = _SHEET_ATTRIBUTE.search(tag[0])
        if sheet is not None and sheet[0] in (b' sheet="1"', b' sheet="true"'):
            return xml
        on = (
            _SHEET_ATTRIBUTE.sub(b' sheet="1"', tag[0], count=1)
            if sheet is not None
            else (tag[0].replace(b"<sheetProtection", b'<sheetProtection sheet="1"', 1))
        )
        return before + after[: tag.start()] + on + after[tag.end() :]
    calc = _CALC_PR.match(after)
    at = calc.end() if calc else 0
    return before + after[:at] + _PROTECTION_XML + after[at:]


def _sheet_data_span(xml: bytes) -> tuple[int, int] | None:
    """Where ``<sheetData …>…</sheetData>`` (or ``<sheetData/>``) is in the sheet's text: found
    with ``bytes.find``, as a lazy regular expression over the whole sheet is slow."""
    start = xml.find(b"<sheetData")
    if start < 0 or xml[start + 10 : start + 11] not in (b" ", b"\t", b"\r", b"\n", b">", b"/"):
        return None
    close = xml.find(b">", start)
    if close < 0:
        return None
    if xml[close - 1 : close] == b"/":
        return start, close + 1
    end = xml.find(b"</sheetData>", close)
    return None if end < 0 else (start, end + len(b"</sheetData>"))


def _protection_xml() -> bytes:
    from xml.etree.ElementTree import tostring

    from openpyxl.worksheet.protection import SheetProtection

    return tostring(SheetProtection(sheet=True).to_tree())  # unprefixed: the main namespace


_PROTECTION_XML = _protection_xml()


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
