"""Findings per unit: what reading a report found, then what the outline's rules find in it."""

from __future__ import annotations

from bot.checks.completeness import Completeness, completeness_many
from bot.checks.report import Finding, Report
from bot.checks.rules import check


def check_reports(
    schema, reports: list[Report], read_findings: dict[str, list[Finding]]
) -> dict[str, list[Finding]]:
    """Findings per unit for ``reports``: what reading found, then what the rules find (a blank
    required cell comes as severity "missing", as its rule in the schema says)."""
    return assess_reports(schema, reports, read_findings, with_completeness=False)[0]


def assess_reports(
    schema, reports: list[Report], read_findings: dict[str, list[Finding]], *, with_completeness=True
) -> tuple[dict[str, list[Finding]], dict[str, Completeness]]:
    """:func:`check_reports`, and each unit's completeness from the same frame of the values
    (laid out once per period for both)."""
    by_unit = {r.unit: list(read_findings.get(r.unit, [])) for r in reports}
    checked = check(schema, reports, [f for found in read_findings.values() for f in found], derive=False)
    for f in checked.findings:
        by_unit.setdefault(f.unit, []).append(f)
    filled = completeness_many(schema, reports, checked.frames) if with_completeness else {}
    return by_unit, filled
