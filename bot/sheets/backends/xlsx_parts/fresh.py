"""A program-owned workbook written whole (the master): :func:`fresh_workbook`."""

from __future__ import annotations

from io import BytesIO


def fresh_workbook(tabs, tags: dict[str, str], target, *, title=None, creator=None, locked=False) -> None:
    """What ``WorkbookBackend._rewrite`` builds with openpyxl: ``tabs`` in order, ``tags`` as
    custom properties; the frame of the package from openpyxl, the sheets rendered here. With
    ``title``, ``creator`` and ``locked`` (tabs that cannot be renamed or deleted), what
    ``build_workbook`` builds for a unit."""
    from openpyxl import Workbook
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.workbook.protection import WorkbookProtection

    from bot.sheets.backends import xlsx_parts
    from bot.sheets.backends.base import ReplaceTab

    wb = Workbook()
    wb.remove(wb.active)
    for tab in tabs:
        wb.create_sheet(tab.name)
    for key, value in tags.items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    if title is not None:
        wb.properties.title = title
    if creator is not None:
        wb.properties.creator = creator
    if locked:
        wb.security = WorkbookProtection(lockStructure=True)
    skeleton = BytesIO()
    wb.save(skeleton)
    # through the package, as before the split: a patched ``xlsx_parts.apply_edits`` is the one called
    xlsx_parts.apply_edits(skeleton, target, [ReplaceTab(tab) for tab in tabs])


def fresh_layout(layout, target) -> None:
    """What ``build_workbook(layout)`` builds with openpyxl (title, creator, tags, tabs that
    cannot be renamed or deleted), its tabs rendered here."""
    from bot.sheets.backends.workbook import layout_tags
    from bot.sheets.backends.workbook_render import CREATOR

    fresh_workbook(layout.tabs, layout_tags(layout), target, title=layout.title, creator=CREATOR, locked=True)
