"""Findings per unit: what reading a report found, then what the outline's rules find in it."""

from __future__ import annotations

from dataclasses import replace

from bot.checks.report import Finding, Report
from bot.checks.rules import evaluate


def check_reports(
    schema, reports: list[Report], read_findings: dict[str, list[Finding]]
) -> dict[str, list[Finding]]:
    """Findings per unit for ``reports``: what reading found, then what the rules find."""
    by_unit = {r.unit: list(read_findings.get(r.unit, [])) for r in reports}
    required = required_rules(schema)
    for f in evaluate(schema, reports, [f for found in read_findings.values() for f in found]):
        by_unit.setdefault(f.unit, []).append(as_missing(f, required))
    return by_unit


def as_missing(finding: Finding, required: set[str]) -> Finding:
    """An error of a "required" rule is a value not given yet, not a wrong one: it is shown (and
    counted) as missing, so an unfinished report is told apart from an inconsistent one."""
    if finding.severity == "error" and finding.rule in required:
        return replace(finding, severity="missing")
    return finding


def required_rules(schema) -> set[str]:
    return {rule.id for table in schema.tables for rule in table.rules if rule.kind == "required"}
