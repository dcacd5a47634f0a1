"""How complete a report is, and the state a unit's report is in."""

from __future__ import annotations

import pytest

from bot.checks.completeness import STATE_LABELS, Completeness, completeness, completeness_many, state_of
from bot.checks.findings import assess_reports, check_reports
from bot.checks.report import Finding, Report, report_from_document
from bot.checks.rules import evaluate
from bot.messages.reminders import STATES
from bot.sheets.document import extract
from tests.helpers import careful_values, type_into


@pytest.fixture
def sheet(workbook, schema):
    """(type values, read the report back) for a fresh workbook of Sở Tư pháp, Q1 2026."""
    backend, ref, layout = workbook

    def fill(values: dict) -> None:
        type_into(ref.id, layout, values)

    def read() -> Report:
        return report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")[0]

    return fill, read


def state(schema, report: Report, **decisions) -> str:
    errors = sum(f.severity == "error" for f in evaluate(schema, [report]))
    return state_of(report, completeness(schema, report), errors, opened=True, **decisions)


def test_it_finds_an_untouched_workbook_not_opened_with_nothing_filled(sheet, schema):
    _, read = sheet
    report = read()
    result = completeness(schema, report)
    assert result.filled == 0 and result.required > 0 and result.ratio == 0
    assert state_of(report, result, 0, opened=False) == "chua_mo"
    assert state_of(report, result, 0, opened=True) == "chua_mo"  # touched, but nothing typed
    assert state_of(None, None, 0, opened=False) == "chua_mo"


def test_it_counts_what_a_unit_must_fill_for_its_kind_and_period(sheet, schema):
    _, read = sheet
    result = completeness(schema, read())
    # Table 10 asks only its Q1 column in Q1 (9 rows, its group row included), table 11 likewise (18 rows).
    assert result.by_section["s_ii_4"] == (0, 9 + 18)
    # I: three narratives, table 1's and table 2's required cells
    assert result.by_section["s_i"] == (0, 5)
    # a list asked for one line counts once (tables 14 and 16), table 15 four cells, table 17 three
    assert result.by_section["s_ii_6"] == (0, 1 + 4 + 1 + 3 + 1)
    assert "s_ii_4" in result.by_section and set(result.by_section) == {
        s.id for s in schema.sections_for("so_nganh")
    }


def test_it_names_the_incomplete_sections_of_a_report_being_typed(sheet, schema):
    fill, read = sheet
    everything = careful_values(schema)
    fill(
        {
            k: v
            for k, v in everything.items()
            if k in ("i1_chi_dao", "i2_thanh_tra", "i4_nguoi_dung_dau")
            or k.startswith(("t_thanh_tra/", "t_tuyen_truyen/"))
        }
    )
    report = read()
    result = completeness(schema, report)
    assert result.by_section["s_i"] == (5, 5)
    assert result.filled == 5 and 0 < result.ratio < 1
    titles = {s.id: s.title for s in schema.sections}
    assert titles["s_i"] not in result.incomplete_sections
    assert result.incomplete_sections[0] == titles["s_ii_1"] and titles["s_v"] in result.incomplete_sections
    assert state(schema, report) == "dang_nhap"


def test_it_marks_a_submitted_report_with_errors(sheet, schema):
    fill, read = sheet
    fill(careful_values(schema) | {"t_van_ban_dien_tu/don_vi[2]/vb_tong": 100, "_cover/status": "Đã nộp"})
    report = read()
    assert report.submitted and completeness(schema, report).ratio == 1.0
    assert state(schema, report) == "da_nop_con_loi"


def test_it_marks_a_complete_valid_submitted_report_valid(sheet, schema):
    fill, read = sheet
    fill(careful_values(schema) | {"_cover/status": "Đã nộp"})
    report = read()
    result = completeness(schema, report)
    assert result.filled == result.required and result.ratio == 1.0 and result.incomplete_sections == ()
    assert state(schema, report) == "hop_le"
    assert state(schema, report, approved=True) == "da_duyet"
    assert state(schema, report, returned=True) == "tra_lai"


def test_it_marks_a_submitted_report_without_errors_but_missing_a_narrative_as_submitted(sheet, schema):
    fill, read = sheet
    fill(
        {k: v for k, v in careful_values(schema).items() if k != "v_kien_nghi"} | {"_cover/status": "Đã nộp"}
    )
    report = read()
    result = completeness(schema, report)
    assert result.by_section["s_v"] == (0, 1) and result.incomplete_sections == ("V. KIẾN NGHỊ, ĐỀ XUẤT",)
    assert state(schema, report) == "da_nop"


def test_it_keeps_a_report_not_submitted_in_progress_whatever_it_holds(sheet, schema):
    fill, read = sheet
    fill(careful_values(schema))
    assert state(schema, read()) == "dang_nhap"


def test_it_does_not_count_a_blank_list_line_or_a_text_in_a_count_as_filled(sheet, schema):
    fill, read = sheet
    fill({"t_to_chuc_bo_may/phong_ban/bao_cao": "mười", "t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao": 0})
    assert completeness(schema, read()).by_section["s_ii_3"][0] == 1


def test_it_computes_many_units_at_once_like_one_by_one(sheet, schema):
    fill, read = sheet
    fill(careful_values(schema))
    typed = read()
    empty = Report("STC", "so_nganh", "2026-Q1")
    district = Report("H_PHULOC", "huyen", "2026-Q1", values={"t_cap_xa/can_bo_tong/q1": 12})
    many = completeness_many(schema, [typed, empty, district])
    for report in (typed, empty, district):
        assert many[report.unit] == completeness(schema, report)
    assert many["H_PHULOC"].required > many["STC"].required  # table 12 is asked of districts only
    assert many["H_PHULOC"].filled == 1


def test_it_labels_every_state_in_vietnamese():
    assert tuple(STATE_LABELS) == STATES
    assert STATE_LABELS["da_nop_con_loi"] == "đã nộp nhưng còn lỗi" and STATE_LABELS["chua_mo"] == "chưa mở"


def test_it_calls_a_report_with_nothing_required_complete():
    assert Completeness(0, 0, {}).ratio == 1.0


def test_it_counts_the_same_from_the_rules_frame_with_unreadable_cells(sheet, schema):
    fill, read = sheet
    fill({**careful_values(schema), "t_to_chuc_bo_may/phong_ban/bao_cao": "1.2.3"})
    typed = read()
    typed.unreadable.add("t_van_ban_dien_tu")  # a block the reader lost
    district = Report("H_PHULOC", "huyen", "2026-Q1", values={"t_cap_xa/can_bo_tong/q1": 12})
    parse = Finding(typed.unit, "parse", "error", "…", cell="x", table="t_to_chuc_bo_may")
    read_findings = {typed.unit: [parse], "H_PHULOC": []}

    findings, shared = assess_reports(schema, [typed, district], read_findings)

    assert shared == completeness_many(schema, [typed, district])
    assert findings == check_reports(schema, [typed, district], read_findings)
    assert parse in findings[typed.unit]
