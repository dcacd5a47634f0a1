"""One unit's report for one period as plain data, and the findings about it.

A :class:`Report` is what the rules, the master sheet and the snapshots see: parsed values by
field key, where each field sits, and which parts could not be read. It never holds an
openpyxl or gspread object. :func:`report_from_document` turns a located document into a
report plus the findings of reading it (a cell that cannot be parsed, a deleted row).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

from bot.outline.layout import COVER_TAB, STATUS_CHOICES
from bot.outline.schema import Schema
from bot.sheets.document import Document, field_value
from bot.sheets.values import is_formula, parse_cell
from bot.store import json_text

# "missing": a required value not yet typed. It is shown to the unit like a finding, but it is
# counted by completeness, not as an error (a report being filled in is not a wrong report).
SEVERITIES = ("error", "missing", "warning")
SEVERITY_LABELS = {"error": "Lỗi", "missing": "Chưa nhập", "warning": "Cảnh báo"}


@dataclass(frozen=True)
class Finding:
    unit: str
    rule: str  # a rule id, "parse" for an unreadable value, "structure" for a template change
    severity: str  # "error" or "warning"
    message: str  # Vietnamese, complete on its own
    table: str | None = None  # table id
    row: str | None = None  # row id (list lines: "items[3]")
    column: str | None = None  # column id
    cell: str | None = None  # "'Tab'!A1"
    table_label: str | None = None  # "Bảng 14. …"
    row_label: str | None = None
    column_label: str | None = None
    values: tuple = ()  # (name, value) pairs involved
    expected: float | None = None

    def as_dict(self) -> dict:
        return {
            "unit": self.unit,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "table": self.table,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "table_label": self.table_label,
            "row_label": self.row_label,
            "column_label": self.column_label,
            "values": dict(self.values),
            "expected": self.expected,
        }


@dataclass
class Report:
    unit: str
    kind: str  # unit kind
    period: str
    values: dict[str, object] = field(default_factory=dict)  # field key → parsed value (None: missing)
    cells: dict[str, str] = field(default_factory=dict)  # field key → "'Tab'!A1"
    formulas: set[str] = field(default_factory=set)  # keys whose cell still holds the template's formula
    list_lines: dict[tuple[str, str], int] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)  # blocks ("t_x") or rows ("t_x/row") not read
    unparsed: set[str] = field(default_factory=set)  # keys holding something typed that is not a value
    status: str | None = None  # the unit's own "Chưa nộp / Đã nộp" switch on the cover

    @property
    def submitted(self) -> bool:
        # NFC: "Đã nộp" typed in decomposed Unicode (some keyboards) is the same choice
        return " ".join(unicodedata.normalize("NFC", self.status or "").split()).casefold() == "đã nộp"


def report_from_document(doc: Document, schema: Schema, unit_kind: str) -> tuple[Report, list[Finding]]:
    report = Report(
        doc.unit,
        unit_kind,
        doc.period,
        list_lines=dict(doc.list_lines),
        unreadable=set(doc.unreadable_blocks),
    )
    findings = [
        Finding(
            doc.unit,
            "structure",
            p.severity,
            p.message,
            table=p.block if p.block in schema.table_by_id else None,
            cell=f"'{p.tab}'!{p.a1}" if p.a1 else None,
            table_label=_table_label(schema, p.block),
        )
        for p in doc.problems
    ]
    for key, cell in doc.cells.items():
        spec = cell.spec
        report.cells[key] = cell.where
        if spec.block == "_cover":
            if key == "_cover/status":
                report.status = _cover_status(doc.unit, cell, findings)
            continue
        if is_formula(cell.raw) and not spec.input:
            report.formulas.add(key)  # the template's own formula
            report.values[key] = None
            continue
        column = schema.table_by_id[spec.table].column_by_id.get(spec.col_id) if spec.table else None
        parsed = field_value(cell, column.choices if column else None)
        report.values[key] = parsed.value
        if parsed.problem:  # an input, or a computed cell overwritten, holding no usable value
            report.unparsed.add(key)
            findings.append(_parse_finding(doc.unit, schema, spec, cell.where, parsed.problem))
        elif parsed.warning:
            findings.append(
                replace(
                    _parse_finding(doc.unit, schema, spec, cell.where, parsed.warning), severity="warning"
                )
            )
    return report, findings


def _cover_status(unit: str, cell, findings: list[Finding]) -> str | None:
    """The cover's "Chưa nộp / Đã nộp" as one of its choices (NFC, any case); anything else is
    a finding at the cell, and the report counts as not submitted."""
    parsed = parse_cell(cell.raw, "choice", list(STATUS_CHOICES))
    if parsed.problem:
        findings.append(
            Finding(
                unit,
                "parse",
                "error",
                f"Tình trạng báo cáo (ô {cell.where}): {parsed.problem}",
                cell=cell.where,
                row_label="Tình trạng báo cáo",
            )
        )
    return parsed.value


def _table_label(schema: Schema, table_id: str | None) -> str | None:
    table = schema.table_by_id.get(table_id or "")
    return f"Bảng {table.number}. {table.title}" if table else None


def row_label(schema: Schema, table_id: str, row_id: str) -> str:
    """The Vietnamese label of a row id, list lines included ("don_vi[3]" → "dòng 3")."""
    base, _, index = row_id.partition("[")
    row = schema.table_by_id[table_id].row_by_id[base]
    if index:
        return f"{row.label or 'danh sách'} dòng {index.rstrip(']')}".strip()
    return row.label


def _parse_finding(unit: str, schema: Schema, spec, where: str, problem: str) -> Finding:
    if spec.table is None:
        return Finding(unit, "parse", "error", f"{where}: {problem}", cell=where)
    table = schema.table_by_id[spec.table]
    row_id = f"{spec.row_id}[{spec.list_index}]" if spec.list_index else spec.row_id
    col_label = "tên dòng" if spec.col_id == "_label" else table.column_by_id[spec.col_id].label
    r_label = row_label(schema, spec.table, row_id)
    message = f'Bảng {table.number}, dòng "{r_label}", cột "{col_label}" (ô {where}): {problem}'
    return Finding(
        unit,
        "parse",
        "error",
        message,
        table=spec.table,
        row=row_id,
        column=spec.col_id,
        cell=where,
        table_label=_table_label(schema, spec.table),
        row_label=r_label,
        column_label=col_label,
    )


def report_to_json(report: Report, findings: list[Finding]) -> str:
    """A snapshot: the report and the findings of reading it, as JSON."""
    return json_text.dumps(
        {
            "unit": report.unit,
            "kind": report.kind,
            "period": report.period,
            "status": report.status,
            "values": {k: _encode(v) for k, v in report.values.items()},
            "cells": report.cells,
            "formulas": sorted(report.formulas),
            "list_lines": [[t, r, n] for (t, r), n in report.list_lines.items()],
            "unreadable": sorted(report.unreadable),
            "unparsed": sorted(report.unparsed),
            "findings": [f.as_dict() for f in findings],
        }
    )


def report_from_json(text: str) -> tuple[Report, list[Finding]]:
    data = json.loads(text)
    values = data["values"]
    for key, value in values.items():  # in place: only dates are stored as objects
        if value.__class__ is dict:
            values[key] = _decode(value)
    report = Report(
        data["unit"],
        data["kind"],
        data["period"],
        values=values,
        cells=data["cells"],
        formulas=set(data["formulas"]),
        list_lines={(t, r): n for t, r, n in data["list_lines"]},
        unreadable=set(data["unreadable"]),
        unparsed=set(data.get("unparsed", [])),
        status=data["status"],
    )
    return report, [finding_from_dict(f) for f in data["findings"]]


def finding_from_dict(d: dict) -> Finding:
    fields = {k: v for k, v in d.items() if k in Finding.__dataclass_fields__}
    fields["values"] = tuple((d.get("values") or {}).items())
    return Finding(**fields)


def _encode(value):
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _decode(value):
    if isinstance(value, dict) and "date" in value:
        return date.fromisoformat(value["date"])
    return value


__all__ = ["COVER_TAB", "Finding", "Report", "report_from_document", "row_label"]
