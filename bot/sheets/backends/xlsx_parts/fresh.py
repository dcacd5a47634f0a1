"""A program-owned workbook written whole (the master): :func:`fresh_workbook`."""

from __future__ import annotations

from io import BytesIO


def fresh_workbook(tabs, tags: dict[str, str], target) -> None:
    """What ``WorkbookBackend._rewrite`` builds with openpyxl: ``tabs`` in order, ``tags`` as
    custom properties; the frame of the package from openpyxl, the sheets rendered here."""
    from openpyxl import Workbook
    from openpyxl.packaging.custom import StringProperty

    from bot.sheets.backends import xlsx_parts
    from bot.sheets.backends.base import ReplaceTab

    wb = Workbook()
    wb.remove(wb.active)
    for tab in tabs:
        wb.create_sheet(tab.name)
    for key, value in tags.items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    skeleton = BytesIO()
    wb.save(skeleton)
    # through the package, as before the split: a patched ``xlsx_parts.apply_edits`` is the one called
    xlsx_parts.apply_edits(skeleton, target, [ReplaceTab(tab) for tab in tabs])
