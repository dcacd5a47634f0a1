"""Writing edits: a workbook with the backend's edits applied (:func:`apply_edits`), only the
parts they touch rewritten."""

from __future__ import annotations

from io import BytesIO

from lxml import etree

from bot.sheets.backends.xlsx_parts.package import STYLES_PART, Package, Unsure, _rels_path
from bot.sheets.backends.xlsx_parts.sheets import lock_whole_xml, protect, render_sheet, set_cells
from bot.sheets.backends.xlsx_parts.styles import Styles
from bot.sheets.backends.xlsx_parts.zip_writer import write_package

CALC_CHAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"


def apply_edits(source, target, edits, *, content: bytes | None = None) -> None:
    """Write ``source`` with ``edits`` applied into ``target``: only the sheets edited, the
    styles (when formats were added) and, when there is one, the calculation chain (left out,
    as openpyxl leaves it out) change. ``content``: the source's bytes, when the caller has
    read them already (the file is then read once, for its identity and for its parts)."""
    from bot.sheets.backends.base import Protect, ReplaceTab, SetCells

    package = Package(source if content is None else BytesIO(content))
    try:
        by_name = dict(package.sheets)
        if STYLES_PART not in package.names:
            raise Unsure("no styles part")
        styles = Styles(package.zip.read(STYLES_PART))
        roots: dict[str, object] = {}
        # A rendered tab is kept as its bytes, not its tree: a tree takes ten times the memory,
        # and a master's tabs for 200 units would all be held at once.
        rendered: dict[str, bytes] = {}

        def sheet(name: str):
            if name not in by_name:
                raise Unsure(f"no sheet {name}")
            part = by_name[name]
            if part not in roots:
                roots[part] = etree.fromstring(rendered.pop(part, None) or package.zip.read(part))
            return roots[part]

        for edit in edits:
            if isinstance(edit, SetCells):
                set_cells(sheet(edit.tab), edit.cells)
            elif isinstance(edit, ReplaceTab):
                if edit.tab.name not in by_name:
                    raise Unsure(f"no sheet {edit.tab.name}")
                part = by_name[edit.tab.name]
                if _rels_path(part) in package.names:
                    raise Unsure("a replaced sheet with relationships of its own")
                roots.pop(part, None)
                rendered[part] = render_sheet(edit.tab, styles)
            elif isinstance(edit, Protect):
                if edit.whole:
                    styles.lock_all()
                for name, part in package.sheets:
                    if edit.whole and part not in roots:  # a whole lock: no tree needed
                        xml = rendered.get(part) or package.zip.read(part)
                        locked = lock_whole_xml(xml, styles)
                        if locked is not None:
                            if locked is not xml:  # a sheet protected already is not rewritten
                                rendered[part] = locked
                            continue
                    unlocked = None if edit.whole else set(edit.input_cells.get(name, ()))
                    protect(sheet(name), styles, unlocked)
            else:
                raise Unsure(f"an edit {type(edit).__name__}")
        replaced = rendered | {part: _xml(root) for part, root in roots.items()}
        if styles.changed:
            replaced[STYLES_PART] = styles.to_bytes()
        dropped = _drop_calc_chain(package, replaced)
        write_package(package.zip, target, replaced, dropped)  # the zip's directory read once
    finally:
        package.close()


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
