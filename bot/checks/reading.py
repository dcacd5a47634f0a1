"""The read chain, once: a unit's layout → its spreadsheet's grids → the fields located → its report.

Every reader of a unit's spreadsheet (the poll, the command line's ``read`` and ``check FILE``,
the Google Forms intake) goes through :func:`read_report`, so they all locate the same cells
and take the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.checks.report import Finding, Report, report_from_document
from bot.outline.layout import WorkbookLayout, build_layout
from bot.outline.periods import Period
from bot.outline.schema import Schema
from bot.outline.units import Unit
from bot.sheets.backends.base import Backend, SheetRef
from bot.sheets.document import Document, extract


@dataclass(frozen=True)
class Reading:
    document: Document  # the fields where they were found (the content hash, the values JSON)
    report: Report
    findings: list[Finding]  # what reading found: structure problems, unreadable values


def read_report(
    backend: Backend,
    ref: SheetRef,
    schema: Schema,
    unit: Unit,
    period: Period,
    *,
    layout: WorkbookLayout | None = None,
    check_tags: bool = False,
) -> Reading:
    """Read ``unit``'s spreadsheet of ``period``. With ``check_tags``, a spreadsheet whose own tags
    name another unit or period (a file copied over this one) yields no values, only a problem."""
    layout = layout or build_layout(schema, unit, period)
    grids = backend.read(ref)
    document = extract(layout, grids, backend.tags_of(ref) if check_tags else None)
    report, findings = report_from_document(document, schema, unit.kind)
    return Reading(document, report, findings)
