"""Writing cell formats: ``xl/styles.xml`` with the formats the bot draws with appended when
missing (:class:`Styles`), and what openpyxl writes for each of them (:class:`FormatParts`)."""

from __future__ import annotations

from lxml import etree

from bot.sheets.backends.xlsx_parts.package import Unsure, q


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


_LIST_INDEXES: dict[tuple[str, bytes], tuple[dict, int]] = {}  # the workbooks of a kind share their styles


def _index_of_list(name: str, items) -> tuple[dict, int]:
    """Canonical form → first index, and the count, of a stylesheet list: computed once per
    distinct list (its serialised bytes), not once per workbook."""
    key = (name, etree.tostring(items))
    if key not in _LIST_INDEXES:
        if len(_LIST_INDEXES) > 256:
            _LIST_INDEXES.clear()
        children = [c for c in items if isinstance(c.tag, str)]
        index: dict[tuple, int] = {}
        for i, child in enumerate(children):
            index.setdefault(_canon(child), i)
        _LIST_INDEXES[key] = (index, len(children))
    return _LIST_INDEXES[key]


STYLESHEET_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs")


class Styles:
    """``xl/styles.xml`` of one workbook: cell formats found, or appended when missing.

    The workbooks of a kind share one stylesheet, and a feedback write asks each of them for the
    same formats in the same order. So while only :meth:`xf` has been asked, what it answers and
    the text it leaves depend only on the stylesheet's text and the formats asked before
    (:data:`_ANSWERS`): the tree is parsed only for a stylesheet or a sequence not met yet, or
    for another change (a lock), and then the formats asked so far are appended to it again."""

    def __init__(self, xml: bytes):
        self.source = xml
        self.changed = False
        self._tree = None
        self._asked: list[FormatParts] | None = []  # what xf() was asked, while nothing else changed
        self._indexes: dict[str, dict[tuple, int]] = {}
        self._counts: dict[str, int] = {}
        self._xfs: dict[int, int] = {}  # FormatParts (by id; they live as long as the module) → index
        self._clones: dict[tuple[int, bool], int] = {}

    @property
    def root(self):
        """The stylesheet's tree, with the formats :meth:`xf` was asked for so far."""
        if self._tree is None:
            root = etree.fromstring(self.source)
            xfs = root.find(q("cellXfs"))
            if xfs is None or len(xfs) == 0:
                raise Unsure("styles without cell formats")
            self._tree = root
            for parts in self._asked or ():
                self._add_xf(parts)
        return self._tree

    def _sequence(self) -> tuple:
        return (self.source, *map(id, self._asked))

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

    def index_of(self, name: str, element, key: tuple | None = None) -> int:
        """The index of an element equal to ``element`` (whose :func:`_canon` is ``key``, when
        known) in list ``name``, appended if absent."""
        items = self._list(name)
        if name not in self._indexes:
            index, count = _index_of_list(name, items)
            self._indexes[name], self._counts[name] = dict(index), count
        index, key = self._indexes[name], key or _canon(element)
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
            self._xfs[id(parts)] = self._answer(parts)
        return self._xfs[id(parts)]

    def _answer(self, parts: FormatParts) -> int:
        if self._asked is None:  # the tree was changed otherwise: look in it
            return self._add_xf(parts)
        key = (*self._sequence(), id(parts))
        known = _ANSWERS.get(key) if self._tree is None else None  # a parsed tree must get it too
        if known is None:
            index = self._add_xf(parts)  # parses the tree (with what was asked before) if need be
            if len(_ANSWERS) > 4096:
                _ANSWERS.clear()
            known = _ANSWERS[key] = (index, self.changed)
        self.changed = self.changed or known[1]
        self._asked.append(parts)
        return known[0]

    def _add_xf(self, parts: FormatParts) -> int:
        xf = _copy(parts.elements["cellXfs"])
        xf.set("numFmtId", str(self.number_format_id(parts.number_format) if parts.number_format else 0))
        for name, attribute in (("fonts", "fontId"), ("fills", "fillId"), ("borders", "borderId")):
            if parts.defaults[name]:
                xf.set(attribute, "0")
                continue
            element = parts.elements[name]
            xf.set(attribute, str(self.index_of(name, _copy(element), parts.canon(name))))
        return self.index_of("cellXfs", xf)

    def locked_clone(self, index: int, locked: bool) -> int:
        """The cell format ``index`` with its protection set to ``locked`` (appended if new)."""
        self._leave_sequence()
        if (index, locked) not in self._clones:
            self._clones[index, locked] = self._clone(index, locked)
        return self._clones[index, locked]

    def _clone(self, index: int, locked: bool) -> int:
        xfs = self._cell_formats()
        if index >= len(xfs):
            raise Unsure("a cell style id beyond the cell formats")
        original = xfs[index]
        if is_locked(original) == locked:
            return index
        clone = etree.fromstring(etree.tostring(original))
        _set_locked(clone, locked)
        return self.index_of("cellXfs", clone)

    def lock_all(self) -> None:
        """Every cell format locked where it is: a whole lock leaves no cell of any sheet to
        edit, so each cell keeps its format id and no sheet's cells need rewriting."""
        self._leave_sequence()
        for xf in self._cell_formats():
            if not is_locked(xf):
                _set_locked(xf, True)
                self.changed = True
        # the formats' canonical forms changed: what was found or cloned is looked up again
        self._indexes.pop("cellXfs", None)
        self._counts.pop("cellXfs", None)
        self._xfs.clear()
        self._clones.clear()

    def _cell_formats(self) -> list:
        return [x for x in self.root.find(q("cellXfs")) if isinstance(x.tag, str)]

    def unlocked_blank(self) -> int:
        """The format openpyxl gives a cell it creates and unlocks: the first font, fill and
        border, no number format or alignment, not locked."""
        from openpyxl.styles import Protection
        from openpyxl.styles.cell_style import CellStyle

        self._leave_sequence()
        return self.index_of("cellXfs", _ns(CellStyle(protection=Protection(locked=False)).to_tree()))

    def is_locked(self, index: int) -> bool:
        return is_locked(self._cell_formats()[index])

    def _leave_sequence(self) -> None:
        self.root  # noqa: B018 - the tree, with what xf() answered so far, before it changes otherwise
        self._asked = None

    def to_bytes(self) -> bytes:
        if self._asked is None:
            return _serialised(self.root)
        key = self._sequence()
        if key not in _TEXTS:
            if len(_TEXTS) > 64:  # a stylesheet's text each: a few kinds of unit, a few sequences
                _TEXTS.clear()
            _TEXTS[key] = _serialised(self.root)
        return _TEXTS[key]


def _serialised(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


# (stylesheet text, the formats asked before, by id; the format asked) → (its index, whether the
# stylesheet is changed after it); (stylesheet text, the formats asked) → the text it becomes.
_ANSWERS: dict[tuple, tuple[int, bool]] = {}
_TEXTS: dict[tuple, bytes] = {}


def is_locked(xf) -> bool:
    protection = xf.find(q("protection"))
    return protection is None or protection.get("locked") not in ("0", "false")


def _set_locked(xf, locked: bool) -> None:
    protection = xf.find(q("protection"))
    if protection is None:
        protection = etree.Element(q("protection"))
        extensions = xf.find(q("extLst"))  # the last child of an xf, by the schema
        xf.insert(len(xf) if extensions is None else xf.index(extensions), protection)
    protection.set("locked", "1" if locked else "0")
    xf.set("applyProtection", "1")


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
        self._canon = {name: _canon(element) for name, element in self.elements.items()}

    def canon(self, name: str) -> tuple:
        return self._canon[name]


_FORMAT_PARTS: dict[tuple, FormatParts] = {}


def format_parts(style: str, input_: bool, quote_prefix: bool) -> FormatParts:
    key = (style, input_, quote_prefix)
    if key not in _FORMAT_PARTS:
        _FORMAT_PARTS[key] = FormatParts(*key)
    return _FORMAT_PARTS[key]
