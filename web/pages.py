"""What each page shows, read from the store as plain dicts for the templates."""

from __future__ import annotations

import json
from datetime import datetime

from bot import clock
from bot.checks.completeness import STATE_LABELS, completeness, percent_filled
from bot.checks.report import SEVERITY_LABELS, Report, report_from_json
from bot.intake.diff import diff_versions, place_of_finding
from bot.outline.schema import section_title

STATE_ORDER = ("chua_mo", "dang_nhap", "da_nop", "da_nop_con_loi", "hop_le", "tra_lai", "da_duyet")
OUTCOME_LABELS = {
    "applied": "đã cập nhật",
    "merged": "đã gộp, giữ giá trị mới hơn",
    "unchanged": "không thay đổi",
    "approved": "báo cáo đã duyệt, không thay thế",
}
CHANNEL_LABELS = {"web": "cổng thông tin", "cli": "dòng lệnh", "chat": "trò chuyện", "email": "thư điện tử"}


def when(text: str | None) -> str:
    if not text:
        return ""
    return f"{clock.local(datetime.fromisoformat(text)):%H:%M %d/%m/%Y}"


def days_left(period) -> int:
    return (period.deadline - clock.today()).days


def board(ctx, period, state: str = "", kind: str = "") -> dict:
    rows = {r["unit"]: r for r in ctx.store.unit_states(period.id)}
    provisioned = {r.unit for r in ctx.store.sheets(period.id)}
    units, counts = [], {s: 0 for s in STATE_ORDER}
    for unit in ctx.units:
        if unit.code not in provisioned:
            continue
        row = rows.get(unit.code)
        unit_state = row["state"] if row else "chua_mo"
        counts[unit_state] = counts.get(unit_state, 0) + 1
        if (state and unit_state != state) or (kind and unit.kind != kind):
            continue
        units.append(
            {
                "code": unit.code,
                "name": unit.name,
                "kind": ctx.schema.kind_by_id[unit.kind].label,
                "state": unit_state,
                "state_label": STATE_LABELS[unit_state],
                "percent": percent_filled(row["filled"], row["required"]) if row else 0,
                "errors": row["errors"] if row else 0,
                "warnings": row["warnings"] if row else 0,
                # a workbook nobody opened has only the poll's first read to show, not a change
                "last_change": when(row["last_change"]) if row and unit_state != "chua_mo" else "",
            }
        )
    total = sum(counts.values()) or 1
    chart = [
        {"state": s, "label": STATE_LABELS[s], "count": counts[s], "share": round(100 * counts[s] / total, 1)}
        for s in STATE_ORDER
        if counts[s]
    ]
    return {
        "units": units,
        "chart": chart,
        "total": sum(counts.values()),
        "days_left": days_left(period),
        "states": [(s, STATE_LABELS[s]) for s in STATE_ORDER],
        "kinds": [(k.id, k.label) for k in ctx.schema.unit_kinds],
        "state": state,
        "kind": kind,
    }


def unit_page(ctx, period, code: str) -> dict:
    """A unit's state, completeness per section, findings (with their place in words)."""
    unit = ctx.unit_by_code[code]
    row = ctx.store.unit_state(code, period.id)
    unit_state = row["state"] if row else "chua_mo"
    findings = []
    for f in ctx.store.findings(period.id, code):
        findings.append(
            {
                "severity": f["severity"],
                "severity_label": SEVERITY_LABELS.get(f["severity"], f["severity"]),
                "place": place_of_finding(ctx.schema, f),
                "cell": f["cell"] or "",
                "message": f["message"],
            }
        )
    findings.sort(
        key=lambda f: (
            ("error", "warning", "missing").index(f["severity"])
            if f["severity"] in ("error", "warning", "missing")
            else 3
        )
    )
    return {
        "code": code,
        "name": unit.name,
        "period": period,
        "state": unit_state,
        "state_label": STATE_LABELS[unit_state],
        "percent": percent_filled(row["filled"], row["required"]) if row else 0,
        "errors": row["errors"] if row else 0,
        "warnings": row["warnings"] if row else 0,
        "comment": row["approval_comment"] if row and row["approval"] == "returned" else None,
        "approval": row["approval"] if row else None,
        "deadline": f"{period.deadline:%d/%m/%Y}",
        "days_left": days_left(period),
        "sections": _sections(ctx, period, code),
        "findings": findings,
        "last_change": when(row["last_change"]) if row else "",
    }


def _sections(ctx, period, code: str) -> list[dict]:
    history = ctx.store.snapshot_history(code, period.id)
    unit = ctx.unit_by_code[code]
    report = (
        report_from_json(history[-1]["report_json"])[0] if history else Report(code, unit.kind, period.id)
    )
    done = completeness(ctx.schema, report).by_section
    out = []
    for section in ctx.schema.sections_for(unit.kind):
        filled, required = done.get(section.id, (0, 0))
        if required:
            out.append(
                {
                    "title": section_title(section),
                    "filled": filled,
                    "required": required,
                    "percent": percent_filled(filled, required),
                }
            )
    return out


def versions(ctx, period, code: str) -> list[dict]:
    return [
        {
            "id": r["id"],
            "filename": r["filename"],
            "sender": r["sender"],
            "channel": CHANNEL_LABELS.get(r["channel"], r["channel"]),
            "when": when(r["received_at"]),
            "sha": r["sha256"][:12],
            "outcome": OUTCOME_LABELS.get(r["outcome"], r["outcome"]),
            "notes": json.loads(r["notes"]),
        }
        for r in reversed(ctx.store.versions(code, period.id))
    ]


def version_diff(ctx, period, code: str, older: int | None, newer: int | None) -> list | None:
    if not older or not newer:
        return None
    a, b = ctx.store.version(older), ctx.store.version(newer)
    if not a or not b or {(a["unit"], a["period"]), (b["unit"], b["period"])} != {(code, period.id)}:
        return None
    if a["id"] > b["id"]:
        a, b = b, a
    return diff_versions(ctx.schema, a, b)
