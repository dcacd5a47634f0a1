"""Polling: read only what changed, keep an audit trail, and never stop for one bad sheet."""

from __future__ import annotations

import json
import os

import pytest

from bot.checks.carry_over import carried_values
from bot.checks.report import report_from_json
from bot.outline.layout import build_layout
from jobs.poll import poll
from jobs.provision import provision
from tests.helpers import type_into

UNITS = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,\nH_A,UBND huyện A,huyen,,zalo:1\nX_B,UBND xã B,xa,,\n"


@pytest.fixture
def ctx(provisioned):
    return provisioned(UNITS)


def sheet_path(ctx, code, period="2026-Q1"):
    return ctx.store.sheet(code, period).sheet_id


def touch_later(path, seconds=5):
    st = os.stat(path)
    os.utime(path, (st.st_atime + seconds, st.st_mtime + seconds))


def layout_of(ctx, code, period="2026-Q1"):
    return build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period(period))


def test_it_reads_every_sheet_once_then_none_while_unchanged(ctx):
    period = ctx.period("2026-Q1")
    first = poll(ctx, period)
    assert first.reads == 3 and sorted(first.read) == ["H_A", "STP", "X_B"]
    again = poll(ctx, period)
    assert again.reads == 0 and sorted(again.unchanged) == ["H_A", "STP", "X_B"]


def test_it_snapshots_only_the_sheet_that_changed(ctx):
    period = ctx.period("2026-Q1")
    poll(ctx, period)
    type_into(sheet_path(ctx, "STP"), layout_of(ctx, "STP"), {"t_to_chuc_bo_may/phong_ban/bao_cao": 7})
    touch_later(sheet_path(ctx, "STP"))
    result = poll(ctx, period)
    assert result.read == ["STP"] and result.reads == 1
    history = ctx.store.snapshot_history("STP", period.id)
    assert len(history) == 2
    values = [
        report_from_json(h["report_json"])[0].values.get("t_to_chuc_bo_may/phong_ban/bao_cao")
        for h in history
    ]
    assert values == [None, 7]  # the audit trail: which value the field had at which poll


def test_it_adds_no_snapshot_when_only_the_change_time_moved(ctx):
    period = ctx.period("2026-Q1")
    poll(ctx, period)
    touch_later(sheet_path(ctx, "H_A"))
    result = poll(ctx, period)
    assert result.reads == 1 and result.read == [] and "H_A" in result.unchanged
    assert len(ctx.store.snapshot_history("H_A", period.id)) == 1


def test_it_keeps_going_when_one_sheet_is_missing_or_corrupt(ctx):
    period = ctx.period("2026-Q1")
    os.remove(sheet_path(ctx, "STP"))
    with open(sheet_path(ctx, "H_A"), "wb") as f:
        f.write(b"not a workbook")
    result = poll(ctx, period)
    assert result.read == ["X_B"]
    assert "STP" in result.failed and "Không tìm thấy" in result.failed["STP"]
    assert "H_A" in result.failed and "hỏng" in result.failed["H_A"]
    assert ctx.store.poll_mark("H_A", period.id)["error"]


def test_it_carries_last_periods_figures_into_the_new_report(ctx):
    q1 = ctx.period("2026-Q1")
    type_into(
        sheet_path(ctx, "STP"),
        layout_of(ctx, "STP"),
        {
            "t_to_chuc_bo_may/phong_ban/bao_cao": 7,
            "t_dao_tao/cong_chuc_hc/q1": 12,
        },
    )
    poll(ctx, q1)
    m6 = ctx.period("2026-6T")
    provision(ctx, m6, prefill=carried_values(ctx))
    doc = json.loads(json.dumps(_read(ctx, "STP", "2026-6T")))
    assert doc["t_to_chuc_bo_may/phong_ban/truoc"] == 7
    assert doc["t_dao_tao/cong_chuc_hc/q1"] == 12
    assert doc["t_dao_tao/cong_chuc_hc/m6"] is None


def _read(ctx, code, period_id):
    from bot.checks.report import report_from_document
    from bot.sheets.backends.base import SheetRef
    from bot.sheets.document import extract

    record = ctx.store.sheet(code, period_id)
    layout = layout_of(ctx, code, period_id)
    doc = extract(layout, ctx.backend.read(SheetRef(record.sheet_id, record.url)))
    return report_from_document(doc, ctx.schema, ctx.unit_by_code[code].kind)[0].values
