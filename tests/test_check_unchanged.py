"""A check evaluates the rules only for the units whose report, history, decision or rules changed;
every other unit keeps the outcome it has, and nothing is written into its workbook."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

import jobs.check
from bot.outline.layout import build_layout
from bot.outline.schema import parse_schema
from jobs.check import check
from jobs.poll import poll
from tests.helpers import WRONG_TOTAL, type_into

UNITS = (
    "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nSYT,Sở Y tế,so_nganh,,\n"
    "XA1,UBND xã Tân Lập,xa,,\n"
)


@pytest.fixture
def ctx(provisioned):
    ctx = provisioned(UNITS)
    for code in ("STP", "SYT"):
        fill(ctx, code, WRONG_TOTAL)
    period = ctx.period("2026-Q1")
    poll(ctx, period)
    check(ctx, period)
    return ctx


@pytest.fixture
def evaluated(monkeypatch):
    """The units whose reports went through the rules, one list per check."""
    calls = []
    real = jobs.check.assess_reports

    def spy(schema, reports, read_findings):
        calls.append(sorted(r.unit for r in reports))
        return real(schema, reports, read_findings)

    monkeypatch.setattr(jobs.check, "assess_reports", spy)
    return calls


def fill(ctx, code, values):
    path = ctx.store.sheet(code, "2026-Q1").sheet_id
    type_into(path, build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period("2026-Q1")), values)


def seen(result):
    return [
        (o.unit, o.state, o.errors, o.warnings, sorted(f.message for f in o.findings))
        for o in result.outcomes
    ]


def workbook_times(ctx):
    return {r.unit: os.stat(r.sheet_id).st_mtime_ns for r in ctx.store.sheets("2026-Q1")}


def test_it_evaluates_no_rule_and_writes_nothing_when_nothing_changed(ctx, evaluated):
    period = ctx.period("2026-Q1")
    states, times = [dict(r) for r in ctx.store.unit_states(period.id)], workbook_times(ctx)

    poll(ctx, period)
    again = check(ctx, period)

    assert evaluated == []
    assert [dict(r) for r in ctx.store.unit_states(period.id)] == states
    assert workbook_times(ctx) == times
    assert again.feedback_written == []
    every_unit = [u.code for u in ctx.units]
    assert seen(again) == seen(check(ctx, period, units=every_unit, write_feedback=False))
    assert evaluated == [every_unit]


def test_it_reads_no_stored_finding_when_nothing_changed_until_one_is_asked_for(ctx, monkeypatch):
    period = ctx.period("2026-Q1")
    reads = []
    real = ctx.store.findings
    monkeypatch.setattr(ctx.store, "findings", lambda *a, **k: reads.append(a) or real(*a, **k))

    again = check(ctx, period)

    assert reads == []
    by_unit = {o.unit: o for o in again.outcomes}
    assert by_unit["STP"].errors >= 1 and by_unit["XA1"].errors == 0
    assert len(reads) == 1  # every kept unit's findings came with the first one asked for
    assert sorted(f.message for f in by_unit["STP"].findings) == sorted(
        r["message"] for r in real(period.id, "STP")
    )


def test_it_checks_again_only_the_unit_that_changed(ctx, evaluated):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {"t_van_ban_dien_tu/don_vi[1]/vb_tong": 420})
    poll(ctx, period)

    result = check(ctx, period)

    assert evaluated == [["STP"]]
    assert result.feedback_written == ["STP"]
    assert not [f for f in ctx.store.findings(period.id, "STP") if "402" in f["message"]]
    assert [f for f in ctx.store.findings(period.id, "SYT") if "402" in f["message"]]
    assert [o.unit for o in result.outcomes] == ["STP", "SYT", "XA1"]
    assert {o.unit: o.state for o in result.outcomes}["SYT"] == "da_nop_con_loi"


def test_it_checks_again_a_unit_the_coordinator_decided_on(ctx, evaluated):
    period = ctx.period("2026-Q1")
    ctx.store.set_approval("SYT", period.id, "returned", "Cần sửa tổng số văn bản")

    result = check(ctx, period)

    assert evaluated == [["SYT"]]
    assert {o.unit: o.state for o in result.outcomes}["SYT"] == "tra_lai"


def test_it_checks_every_unit_again_when_the_schema_changes(ctx, evaluated):
    period = ctx.period("2026-Q1")
    raw = json.loads(Path("sheets_schema.json").read_text(encoding="utf-8"))
    raw["rules"][0]["message"] = raw["rules"][0]["message"] + " (đã sửa)"
    edited = dataclasses.replace(ctx, schema=parse_schema(raw))

    check(edited, period)

    assert evaluated == [["STP", "SYT", "XA1"]]


def test_it_checks_again_a_unit_whose_feedback_could_not_be_written(ctx, evaluated):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {"t_van_ban_dien_tu/don_vi[1]/vb_tong": 420})
    poll(ctx, period)
    path = ctx.store.sheet("STP", period.id).sheet_id
    lock = os.path.join(os.path.dirname(path), "~$" + os.path.basename(path))
    open(lock, "w").close()  # open in Excel: the write waits
    assert "STP" in check(ctx, period).feedback_pending
    os.remove(lock)

    result = check(ctx, period)

    assert evaluated == [["STP"], ["STP"]]
    assert result.feedback_written == ["STP"]
