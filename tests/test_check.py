"""Checking a period: states and findings stored, feedback in each unit's own workbook."""

from __future__ import annotations

import json

import openpyxl
import pytest

from bot.outline.layout import CHECK_TAB, COVER_TAB, build_layout
from cli.main import main
from jobs.check import check
from jobs.poll import poll
from tests.helpers import WRONG_TOTAL, type_into

UNITS = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nSYT,Sở Y tế,so_nganh,,\n"


@pytest.fixture
def ctx(provisioned):
    return provisioned(UNITS)


def path_of(ctx, code):
    return ctx.store.sheet(code, "2026-Q1").sheet_id


def fill(ctx, code, values):
    type_into(
        path_of(ctx, code), build_layout(ctx.schema, ctx.unit_by_code[code], ctx.period("2026-Q1")), values
    )


def check_tab_rows(ctx, code):
    ws = openpyxl.load_workbook(path_of(ctx, code))[CHECK_TAB]
    return [[c.value for c in row] for row in ws.iter_rows()], ws


def test_it_shows_each_unit_its_mistakes_with_links_to_the_cells(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", WRONG_TOTAL)
    poll(ctx, period)
    result = check(ctx, period)
    assert {o.unit: o.state for o in result.outcomes} == {"STP": "da_nop_con_loi", "SYT": "chua_mo"}
    rows, ws = check_tab_rows(ctx, "STP")
    at = next(i for i, r in enumerate(rows, start=1) if r[5] and "402" in str(r[5]))
    total_cell = build_layout(ctx.schema, ctx.unit_by_code["STP"], period).fields[
        "t_van_ban_dien_tu/don_vi[1]/vb_tong"
    ]
    assert rows[at - 1][0] == "Lỗi" and rows[at - 1][4] == total_cell.a1
    assert ws.cell(at, 5).hyperlink.location == f"'{total_cell.tab}'!{total_cell.a1}"
    cover = [c.value for c in openpyxl.load_workbook(path_of(ctx, "STP"))[COVER_TAB]["B"]]
    assert "đã nộp nhưng còn lỗi" in cover


def test_it_writes_each_units_check_result_beside_its_label_on_the_cover_whatever_its_name(provisioned):
    long_name = "Ban Quản lý các khu công nghiệp, khu kinh tế và khu công nghệ cao của tỉnh " * 3
    ctx = provisioned(
        f'code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nBQL,"{long_name.strip()}",so_nganh,,\n'
    )
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", WRONG_TOTAL)
    fill(ctx, "BQL", WRONG_TOTAL)
    poll(ctx, period)

    result = check(ctx, period)

    assert sorted(result.feedback_written) == ["BQL", "STP"]
    for code in ("STP", "BQL"):
        rows = [
            [c.value for c in r] for r in openpyxl.load_workbook(path_of(ctx, code))[COVER_TAB].iter_rows()
        ]
        by_label = {r[0]: r[1] for r in rows if r[0]}
        assert by_label["Đơn vị"] == ctx.unit_by_code[code].name
        assert "đã nộp nhưng còn lỗi" in by_label["Kết quả kiểm tra gần nhất"]
        assert by_label["Thời điểm kiểm tra"]


def test_it_never_touches_what_the_unit_typed_when_writing_feedback(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {**WRONG_TOTAL, "i1_chi_dao": "=1+1 là công thức?"})
    poll(ctx, period)
    before = ctx.backend.read(ctx.backend.find({"unit": "STP", "period": "2026-Q1"}))
    check(ctx, period)
    after = ctx.backend.read(ctx.backend.find({"unit": "STP", "period": "2026-Q1"}))
    for tab, grid in before.items():
        if tab in (CHECK_TAB, COVER_TAB):
            continue
        assert after[tab] == grid, tab


def test_it_keeps_feedback_for_a_workbook_open_elsewhere_and_writes_it_later(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", WRONG_TOTAL)
    poll(ctx, period)
    lock = ctx.config.sheets_dir / "2026-Q1" / ".~lock.STP.xlsx#"
    lock.write_text("LibreOffice", encoding="utf-8")
    first = check(ctx, period)
    assert "STP" in first.feedback_pending and "STP" not in first.feedback_written
    lock.unlink()
    second = check(ctx, period)
    assert "STP" in second.feedback_written
    rows, _ = check_tab_rows(ctx, "STP")
    assert any(r[5] and "402" in str(r[5]) for r in rows)


def test_it_does_not_rewrite_unchanged_feedback_nor_reread_its_own_write(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", WRONG_TOTAL)
    poll(ctx, period)
    assert "STP" in check(ctx, period).feedback_written
    assert poll(ctx, period).reads == 0  # our own feedback write is not a change by the unit
    assert check(ctx, period).feedback_written == []


def test_it_checks_a_lone_file_and_exits_non_zero_on_errors(ctx, capsys):
    fill(ctx, "STP", WRONG_TOTAL)
    assert main(["--home", str(ctx.config.home), "check", path_of(ctx, "STP"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    finding = next(f for f in out["findings"] if f["rule"] == "r14_vb_tong")
    assert set(finding) >= {"table", "row", "column", "cell", "severity", "message"}
    assert finding["table"] == "t_van_ban_dien_tu" and finding["severity"] == "error"


def test_it_prints_a_summary_and_the_states(ctx, capsys):
    fill(ctx, "STP", WRONG_TOTAL)
    home = str(ctx.config.home)
    assert main(["--home", home, "check", "--period", "2026-Q1"]) == 1
    summary = capsys.readouterr().out
    assert "STP" in summary and "đã nộp nhưng còn lỗi" in summary and "SYT" in summary
    assert main(["--home", home, "status", "--period", "2026-Q1"]) == 0
    assert "chưa mở" in capsys.readouterr().out


def test_it_counts_blank_required_cells_as_missing_not_as_errors(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", {"t_to_chuc_bo_may/phong_ban/bao_cao": 7})
    poll(ctx, period)
    stp = next(o for o in check(ctx, period).outcomes if o.unit == "STP")
    assert stp.state == "dang_nhap" and stp.errors == 0
    assert any(f.severity == "missing" for f in stp.findings)
    assert ctx.store.unit_state("STP", "2026-Q1")["errors"] == 0
    rows, _ = check_tab_rows(ctx, "STP")
    assert any(r[0] == "Chưa nhập" for r in rows)


def test_it_checks_one_unit_alone_and_keeps_the_other_units_findings_and_states(ctx):
    period = ctx.period("2026-Q1")
    fill(ctx, "STP", WRONG_TOTAL)
    fill(ctx, "SYT", WRONG_TOTAL)
    poll(ctx, period)
    check(ctx, period)
    fill(ctx, "STP", {"t_van_ban_dien_tu/don_vi[1]/vb_tong": 420})
    poll(ctx, period)

    result = check(ctx, period, units=["STP"])

    assert [o.unit for o in result.outcomes] == ["STP"]
    assert not [f for f in ctx.store.findings(period.id, "STP") if "402" in f["message"]]
    assert [f for f in ctx.store.findings(period.id, "SYT") if "402" in f["message"]]
    assert ctx.store.unit_state("SYT", period.id)["state"] == "da_nop_con_loi"


def test_it_makes_each_finding_row_tall_enough_for_its_longest_text():
    """The findings' rows are sized as they are filled; they must come out as fitting the whole
    tab afresh gives them (long messages, text on several lines, empty labels)."""
    from copy import deepcopy
    from datetime import datetime

    from bot.checks.completeness import Completeness
    from bot.checks.feedback import check_tab
    from bot.checks.report import Finding
    from bot.outline.layout import fit_row_heights

    def finding(message, cell="'Biểu 1'!C5", table="Biểu 1", row="Tổng số"):
        return Finding("STP", "r", "error", message, cell=cell, table_label=table, row_label=row)

    findings = [
        finding("Thiếu số liệu."),
        finding("Tổng số phải bằng tổng các dòng con; " * 8),
        finding("Dòng một\nDòng hai\nDòng ba", cell=None, table=None, row=None),
        finding("Ngắn.", table="Biểu 5. Kết quả giải quyết thủ tục hành chính của các cơ quan " * 2),
    ]
    tab = check_tab(
        "Đang nhập", Completeness(3, 9, {"s1": (3, 9)}), findings, {"s1": "Phần I"}, datetime(2026, 3, 2)
    )
    refitted = deepcopy(tab)
    refitted.row_heights.clear()
    fit_row_heights(refitted)
    assert tab.row_heights == refitted.row_heights
    height = {tab.cells[(r, 6)].value: tab.row_heights[r] for r, c in tab.cells if c == 6 and r > 7}
    assert [height[f.message] for f in findings] == [15, 75, 45, 75]  # 1, 5, 3 and 5 lines
