"""Provisioning: a template per kind of unit, copied (:func:`from_template`), its own cells,
row heights, title and tags patched in."""

from __future__ import annotations

from io import BytesIO

from lxml import etree

from bot.sheets.backends.xlsx_parts.edits import _xml
from bot.sheets.backends.xlsx_parts.package import CORE_PART, CUSTOM_PART, Package, Unsure, q
from bot.sheets.backends.xlsx_parts.sheets import _height, set_cells
from bot.sheets.backends.xlsx_parts.zip_writer import Parts, write_package

_TEMPLATES: dict[tuple, tuple] = {}  # (unit kind, period, schema version) → (layout, its parts, sheet parts)


def from_template(layout, target) -> None:
    """Write the workbook of ``layout`` into ``target`` as a copy of the template of its unit
    kind, period and schema version (built once, see :func:`_built`), its own cells patched in."""
    template, package, parts = _template(layout)
    replaced = {}
    for tab, (cells, heights) in _differences(template, layout).items():
        root = etree.fromstring(package.read(parts[tab]))
        set_cells(root, cells)
        _set_heights(root, heights)
        replaced[parts[tab]] = _xml(root)
    replaced[CORE_PART] = _core(package.read(CORE_PART), layout.title)
    replaced[CUSTOM_PART] = _custom(package.read(CUSTOM_PART), layout)
    write_package(package, target, replaced)


def _template(layout):
    key = (layout.unit_kind, layout.period_id, layout.schema_version)
    if key not in _TEMPLATES:
        out = _built(layout)
        package = Package(BytesIO(out.getvalue()))
        _TEMPLATES[key] = (layout, Parts(out.getvalue()), dict(package.sheets))
        package.close()
    return _TEMPLATES[key]


def _built(layout) -> BytesIO:
    """The template: its tabs rendered at part level (openpyxl's frame, as ``fresh_workbook``
    writes a master), or by openpyxl's ``build_workbook`` when that renderer is not sure."""
    from bot.sheets.backends.workbook import build_workbook
    from bot.sheets.backends.xlsx_parts.fresh import fresh_layout
    from bot.sheets.backends.xlsx_parts.package import attempt

    out = BytesIO()
    if attempt("lay_out", lambda: fresh_layout(layout, out) or True) is None:
        out = BytesIO()
        build_workbook(layout).save(out)
    return out


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
