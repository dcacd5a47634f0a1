"""Approval: an approved report is locked for its unit; a returned one is unlocked, with the comment."""

from __future__ import annotations

import openpyxl
import pytest

from bot.checks.approval import ApprovalError
from bot.outline.layout import COVER_TAB, build_layout
from cli.main import main
from jobs.approve import decide
from jobs.poll import poll

UNITS = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,\n"


@pytest.fixture
def ctx(provisioned):
    context = provisioned(UNITS)
    poll(context, context.period("2026-Q1"))
    return context


def workbook(ctx):
    return openpyxl.load_workbook(ctx.store.sheet("STP", "2026-Q1").sheet_id)


def input_cells_locked(ctx) -> list[bool]:
    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], ctx.period("2026-Q1"))
    wb = workbook(ctx)
    return [wb[s.tab].cell(s.row, s.col).protection.locked for s in layout.fields.values() if s.input]


def test_it_locks_every_cell_of_an_approved_report(ctx):
    assert not any(input_cells_locked(ctx))
    decision = decide(ctx, "STP", ctx.period("2026-Q1"), "approved")
    assert decision.written
    assert all(input_cells_locked(ctx))
    assert ctx.store.unit_state("STP", "2026-Q1")["state"] == "da_duyet"
    assert any(c.value == "đã duyệt" for c in workbook(ctx)[COVER_TAB]["B"])


def test_it_unlocks_a_returned_report_and_shows_the_comment(ctx):
    period = ctx.period("2026-Q1")
    decide(ctx, "STP", period, "approved")
    decide(ctx, "STP", period, "returned", "Bổ sung số liệu Bảng 14")
    assert not any(input_cells_locked(ctx))
    cover = [c.value for c in workbook(ctx)[COVER_TAB]["B"]]
    assert "Bổ sung số liệu Bảng 14" in cover and "trả lại" in cover
    log = (ctx.config.outbox_dir / "messages.log").read_text(encoding="utf-8")
    assert "được trả lại" in log and "Bổ sung số liệu Bảng 14" in log


def test_it_refuses_to_return_a_report_without_a_reason(ctx):
    with pytest.raises(ApprovalError) as err:
        decide(ctx, "STP", ctx.period("2026-Q1"), "returned", "  ")
    assert "lý do" in err.value.user_message()
    assert ctx.store.unit_state("STP", "2026-Q1") is None  # nothing recorded


def test_it_answers_an_unknown_unit_on_the_command_line(ctx, capsys):
    assert main(["--home", str(ctx.config.home), "approve", "--unit", "XYZ", "--period", "2026-Q1"]) == 2
    assert "XYZ" in capsys.readouterr().err
