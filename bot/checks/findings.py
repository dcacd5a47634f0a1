"""Findings per unit: what reading a report found, then what the outline's rules find in it."""

from __future__ import annotations

from bot.checks.report import Finding, Report
from bot.checks.rules import evaluate


def check_reports(
    schema, reports: list[Report], read_findings: dict[str, list[Finding]]
) -> dict[str, list[Finding]]:
    """Findings per unit for ``reports``: what reading found, then what the rules find (a blank
    required cell comes as severity "missing", as its rule in the schema says)."""
    by_unit = {r.unit: list(read_findings.get(r.unit, [])) for r in reports}
    for f in evaluate(schema, reports, [f for found in read_findings.values() for f in found]):
        by_unit.setdefault(f.unit, []).append(f)
    return by_unit
