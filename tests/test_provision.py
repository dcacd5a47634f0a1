"""Provisioning: one ready-to-fill workbook per unit per period, and nothing a unit typed is lost."""

from __future__ import annotations

import json
from datetime import datetime

import openpyxl
import pytest

from bot.checks.completeness import Completeness
from bot.checks.feedback import check_tab
from bot.context import open_context
from bot.outline.layout import CHECK_TAB, COVER_TAB, build_layout
from bot.outline.units import Unit
from bot.sheets.backends.base import ReplaceTab, SheetRef
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.document import extract, to_json
from cli.main import main
from jobs.provision import provision
from tests.helpers import SMALL_UNITS_CSV, type_into


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(SMALL_UNITS_CSV, encoding="utf-8")
    return home


def provision_cli(home, *extra):
    return main(["--home", str(home), "provision", "--period", "2026-Q1", *extra])


def test_it_provisions_one_workbook_per_unit(home, capsys):
    assert provision_cli(home, "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    ctx = open_context(home)
    assert len(rows) == len(ctx.units) == 4
    assert {r["unit"] for r in rows} == {u.code for u in ctx.units}
    assert all(r["action"] == "created" and r["location"].endswith(".xlsx") for r in rows)
    assert len(list((home / "sheets" / "2026-Q1").glob("*.xlsx"))) == len(ctx.units)


def test_it_gives_each_unit_kind_its_own_tabs(home, schema):
    provision_cli(home)
    for code, kind in (
        ("STP", "so_nganh"),
        ("ND_THUE", "nganh_doc"),
        ("X_PHUXUAN", "xa"),
        ("H_TPHUE", "huyen"),
    ):
        wb = openpyxl.load_workbook(home / "sheets" / "2026-Q1" / f"{code}.xlsx")
        expected = [COVER_TAB] + [s.tab for s in schema.sections_for(kind)] + [CHECK_TAB]
        assert wb.sheetnames == expected
        anchors = {str(c.value) for ws in wb.worksheets for c in ws["A"] if c.value}
        has_table_12 = any(a.startswith("Bảng 12 ") for a in anchors)
        assert has_table_12 == schema.applies(schema.table_by_id["t_cap_xa"].applies_to, kind)


def test_it_leaves_table_12_to_district_and_commune_committees(schema):
    kinds = [k.id for k in schema.unit_kinds if any(t.id == "t_cap_xa" for t in schema.tables_for(k.id))]
    assert kinds == ["huyen", "xa"]


def test_it_reads_back_typed_values_under_their_ids_and_cells(workbook, schema):
    backend, ref, layout = workbook
    type_into(
        ref.id,
        layout,
        {
            "t_van_ban_dien_tu/don_vi[1]/_label": "Văn phòng Sở",
            "t_van_ban_dien_tu/don_vi[1]/vb_tong": 200,
            "t_van_ban_dien_tu/don_vi[1]/vb_gui": "1.234",
            "t_van_ban_dien_tu/don_vi[2]/vb_nhan": " 7 ",
            "i1_chi_dao": "Đã ban hành Kế hoạch số 12/KH-STP.",
        },
    )
    doc = to_json(extract(layout, backend.read(ref)), schema)
    line = doc["tables"]["t_van_ban_dien_tu"]["don_vi"]
    assert line[0]["_label"]["value"] == "Văn phòng Sở"
    assert line[0]["vb_tong"] == {
        "value": 200,
        "cell": layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"].tab
        and f"'II.6 Hiện đại hóa'!{layout.fields['t_van_ban_dien_tu/don_vi[1]/vb_tong'].a1}",
    }
    assert line[0]["vb_gui"]["value"] == 1234
    assert line[1]["vb_nhan"]["value"] == 7
    assert doc["narratives"]["i1_chi_dao"]["value"] == "Đã ban hành Kế hoạch số 12/KH-STP."
    assert doc["problems"] == []


def test_it_keeps_typed_values_when_provisioning_again(home, capsys):
    provision_cli(home)
    ctx = open_context(home)
    path = ctx.store.sheet("STP", "2026-Q1").sheet_id
    layout_key = "t_van_ban_dien_tu/don_vi[1]/vb_tong"
    from bot.outline.layout import build_layout

    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], ctx.period("2026-Q1"))
    type_into(path, layout, {layout_key: 321})
    before = open(path, "rb").read()
    capsys.readouterr()
    assert provision_cli(home, "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["action"] for r in rows} == {"existing"}
    assert open(path, "rb").read() == before


def test_it_finishes_a_run_killed_after_the_sheet_was_recorded(home):
    ctx = open_context(home)
    period = ctx.period("2026-Q1")
    ref = ctx.backend.allocate("x", {"unit": "STP", "period": period.id})
    ctx.store.record_sheet("STP", period.id, "workbook", ref.id, ref.url, ctx.schema.version)
    results = {r.unit: r.action for r in provision(ctx, period)}
    assert results["STP"] == "resumed"
    assert ctx.store.sheet("STP", period.id).status == "ready"
    assert len(ctx.store.sheets(period.id)) == len(ctx.units)


def test_it_protects_every_tab_and_unlocks_only_input_cells(workbook):
    _, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    inputs = {(s.tab, s.row, s.col) for s in layout.fields.values() if s.input}
    assert inputs
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None or (ws.title, cell.row, cell.column) in inputs:
                    unlocked = not cell.protection.locked
                    assert unlocked == ((ws.title, cell.row, cell.column) in inputs), (
                        ws.title,
                        cell.coordinate,
                    )
    assert wb.security.lockStructure


def test_it_writes_computed_cells_as_formulas_guarded_against_zero(workbook):
    _, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    rate = layout.fields["t_van_ban_dien_tu/don_vi[1]/ty_le_vbdt"]
    vb, vbdt = (
        layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"],
        layout.fields["t_van_ban_dien_tu/don_vi[1]/vbdt_tong"],
    )
    formula = wb[rate.tab][rate.a1].value
    assert formula.startswith("=IF(N(") and f"{vbdt.a1}/{vb.a1}*100" in formula
    total = layout.fields["t_van_ban_dien_tu/tong/vb_tong"]
    assert wb[total.tab][total.a1].value.startswith("=SUM(")
    assert all(s.computed for s in layout.fields.values() if s.key.endswith("/ty_le_vbdt"))


def test_it_validates_numbers_and_choices(workbook):
    _, ref, layout = workbook
    ws = openpyxl.load_workbook(ref.id)[layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"].tab]
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert "whole" in kinds
    cover = openpyxl.load_workbook(ref.id)[COVER_TAB]
    status = layout.fields["_cover/status"]
    lists = [dv for dv in cover.data_validations.dataValidation if dv.type == "list"]
    assert lists and status.a1 in str(lists[0].sqref) and "Đã nộp" in lists[0].formula1


def test_it_follows_list_lines_a_unit_inserted(workbook, schema):
    backend, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    first = layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"]
    ws = wb[first.tab]
    ws.insert_rows(first.row + 2, 3)
    wb.save(ref.id)
    total = layout.fields["t_van_ban_dien_tu/tong/vb_tong"]
    doc = extract(layout, backend.read(ref))
    assert doc.problems == []
    assert doc.list_lines[("t_van_ban_dien_tu", "don_vi")] == 6 + 3
    assert doc.cells["t_van_ban_dien_tu/tong/vb_tong"].row == total.row + 3


def test_it_reports_a_renamed_tab_instead_of_reading_shifted_data(workbook):
    backend, ref, layout = workbook
    wb = openpyxl.load_workbook(ref.id)
    tab = layout.fields["t_van_ban_dien_tu/don_vi[1]/vb_tong"].tab
    wb[tab].title = "Trang 6"
    wb.save(ref.id)
    doc = extract(layout, backend.read(ref))
    assert any(tab in p.message and "đổi tên" in p.message for p in doc.problems)
    assert "t_van_ban_dien_tu/don_vi[1]/vb_tong" not in doc.cells


def refusal_of(home, capsys, units_csv: str) -> str:
    """What provisioning says (exit code 2) about the unit list ``units_csv``."""
    (home / "units.csv").write_text(units_csv, encoding="utf-8")
    assert provision_cli(home) == 2
    return capsys.readouterr().err


def test_it_refuses_a_bad_unit_file_with_the_line_and_reason(home, capsys):
    err = refusal_of(
        home,
        capsys,
        "code,name,kind,emails,chat_ids\nA1,Sở A,so_nganh,a@x.vn,\nA1,Sở B,so_nganh,,\nB2,Huyện C,quan,,\n",
    )
    assert "dòng 3" in err and "trùng" in err
    assert "dòng 4" in err and "'quan'" in err


def test_it_says_which_line_has_an_unquoted_comma_in_a_unit_name(home, capsys):
    err = refusal_of(
        home,
        capsys,
        "code,name,kind,emails,chat_ids\nA1,Sở A,so_nganh,,,,\nB2,Ban Quản lý, khu kinh tế,so_nganh,,\n",
    )
    assert "dòng 3" in err and "ngoặc kép" in err
    assert "dòng 2" not in err  # trailing empty fields, as spreadsheet programs export them
    assert "Traceback" not in err


def test_it_refuses_a_unit_file_missing_a_column(home, capsys):
    err = refusal_of(home, capsys, "code,name,kind\nA1,Sở A,so_nganh\n")
    assert "thiếu cột emails, chat_ids" in err


def test_it_refuses_an_unknown_period(home, capsys):
    assert main(["--home", str(home), "provision", "--period", "2026-Q5"]) == 2
    assert "2026-Q5" in capsys.readouterr().err


def test_it_reads_a_percentage_excel_stored_as_a_fraction_as_typed(workbook):
    backend, ref, layout = workbook
    spec = layout.fields["t_chu_ky_so/lanh_dao_ky_so/ty_le"]
    wb = openpyxl.load_workbook(ref.id)
    cell = wb[spec.tab][spec.a1]
    cell.value, cell.number_format = 0.455, "0.0%"  # what Excel saves when a clerk types 45,5%
    wb.save(ref.id)
    assert extract(layout, backend.read(ref)).cells[spec.key].raw == 45.5


def test_it_reads_text_that_begins_with_an_equals_sign_as_text(workbook, schema):
    backend, ref, layout = workbook
    spec = layout.fields["i1_chi_dao"]
    wb = openpyxl.load_workbook(ref.id)
    cell = wb[spec.tab][spec.a1]
    cell.value = "=1+1 là cách viết tắt của chúng tôi"
    cell.data_type = "s"  # what Excel saves when a clerk types '=1+1 …
    wb.save(ref.id)
    doc = to_json(extract(layout, backend.read(ref)), schema)
    assert doc["narratives"]["i1_chi_dao"]["value"] == "=1+1 là cách viết tắt của chúng tôi"
    assert "formula" not in doc["narratives"]["i1_chi_dao"]


def test_it_writes_many_workbooks_and_reports_each_failure(tmp_path, schema, period):
    backend = WorkbookBackend(tmp_path / "sheets")
    refs = []
    for i in range(9):
        layout = build_layout(schema, Unit(f"U{i}", f"Đơn vị {i}", "so_nganh"), period)
        refs.append(backend.allocate(layout.title, {"unit": f"U{i}", "period": period.id}))
        backend.lay_out(refs[-1], layout)
    missing = SheetRef(str(tmp_path / "sheets" / "2026-Q1" / "DA_XOA.xlsx"), "")
    tab = check_tab("đang nhập", Completeness(1, 2, {}), [], {}, datetime(2026, 3, 10, 8, 0))
    failed = backend.write_many([(ref, [ReplaceTab(tab)]) for ref in [*refs, missing]])
    assert [failed[ref.id] for ref in refs] == [None] * len(refs)
    assert "DA_XOA.xlsx" in str(failed[missing.id])
    assert all(
        openpyxl.load_workbook(ref.id, read_only=True)[CHECK_TAB]["A3"].value == "Tình trạng: đang nhập"
        for ref in refs
    )


def test_it_asks_a_commune_what_the_outline_asks_a_district_in_a_communes_words(schema, period):
    layout = build_layout(schema, Unit("X", "UBND phường X", "xa"), period)
    texts = [
        spec.value
        for tab in layout.tabs
        for spec in tab.cells.values()
        if isinstance(spec.value, str) and spec.style != "anchor"
    ]
    assert [t for t in texts if "huyện" in t] == []  # table titles (anchors) keep the outline's words
    assert any(t.startswith("b) UBND xã, phường, đặc khu") and "06a, 07a, 07b, 07g" in t for t in texts)
    assert "t_cap_xa/can_bo_tong/q1" in layout.fields


def test_it_reads_a_communes_relabelled_rows_back(tmp_path, schema, period):
    backend = WorkbookBackend(tmp_path / "sheets")
    layout = build_layout(schema, Unit("X", "UBND phường X", "xa"), period)
    ref = backend.allocate(layout.title, {"unit": "X", "period": period.id})
    backend.lay_out(ref, layout)
    type_into(ref.id, layout, {"t_to_chuc_bo_may/phong_ban/bao_cao": 4})
    doc = extract(layout, backend.read(ref))
    assert doc.problems == [] and doc.cells["t_to_chuc_bo_may/phong_ban/bao_cao"].raw == 4


def test_it_asks_figures_on_table_10s_group_row(workbook):
    _, _, layout = workbook
    spec = layout.fields["t_quan_ly_cbccvc/truong_pho_phong/q1"]
    assert spec.input and spec.type == "count"


def test_it_asks_whole_numbers_for_table_12s_headcounts_and_reads_a_fraction_as_a_mistake(
    tmp_path, schema, period
):
    backend = WorkbookBackend(tmp_path / "sheets")
    layout = build_layout(schema, Unit("H", "UBND huyện H", "huyen"), period)
    ref = backend.allocate(layout.title, {"unit": "H", "period": period.id})
    backend.lay_out(ref, layout)
    headcount, rate = layout.fields["t_cap_xa/can_bo_tong/q1"], layout.fields["t_cap_xa/can_bo_ty_le/q1"]
    cells = layout.tab(headcount.tab).cells
    assert (
        cells[(headcount.row, headcount.col)].validation.kind,
        cells[(rate.row, rate.col)].validation.kind,
    ) == ("whole", "decimal")
    type_into(ref.id, layout, {headcount.key: "212,5", rate.key: "96,2"})
    values = to_json(extract(layout, backend.read(ref)), schema)
    assert values["tables"]["t_cap_xa"]["can_bo_tong"]["q1"].get("problem")
    assert values["tables"]["t_cap_xa"]["can_bo_ty_le"]["q1"]["value"] == 96.2


def test_it_takes_table_17s_assessment_in_the_units_own_words(workbook, schema):
    backend, ref, layout = workbook
    key = "t_trang_ttdt/chat_luong/kip_thoi"
    spec = layout.fields[key]
    assert layout.tab(spec.tab).cells[(spec.row, spec.col)].validation is None
    type_into(ref.id, layout, {key: "Tin bài cập nhật trong ngày"})
    entry = to_json(extract(layout, backend.read(ref)), schema)["tables"]["t_trang_ttdt"]["chat_luong"][
        "kip_thoi"
    ]
    assert entry == {"value": "Tin bài cập nhật trong ngày", "cell": entry["cell"]}


def test_it_carries_every_list_line_a_unit_inserted_into_the_next_report(provisioned):
    from bot.checks.carry_over import carried_values
    from bot.outline.layout import list_key
    from jobs.poll import poll

    ctx = provisioned("code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,vt@stp.example.vn,\n")
    q1, m6 = ctx.period("2026-Q1"), ctx.period("2026-6T")
    path = ctx.store.sheet("STP", q1.id).sheet_id
    layout = build_layout(ctx.schema, ctx.unit_by_code["STP"], q1)
    first = layout.fields[list_key("t_mot_cua", "dvc_items", 1, "tong_bao_cao")]
    wb = openpyxl.load_workbook(path)
    wb[first.tab].insert_rows(first.row + 2, 3)  # 5 template lines become 8
    label_col = layout.fields[list_key("t_mot_cua", "dvc_items", 1, "_label")].col
    for n in (1, 8):
        wb[first.tab].cell(row=first.row + n - 1, column=label_col).value = f"Dịch vụ {n}"
        wb[first.tab].cell(row=first.row + n - 1, column=first.col).value = 10 * n
    wb.save(path)
    poll(ctx, q1)
    provision(ctx, m6, prefill=carried_values(ctx))

    record = ctx.store.sheet("STP", m6.id)
    doc = extract(
        build_layout(ctx.schema, ctx.unit_by_code["STP"], m6),
        ctx.backend.read(SheetRef(record.sheet_id, record.url)),
    )
    assert doc.list_lines[("t_mot_cua", "dvc_items")] == 8
    carried = {
        n: (
            doc.cells[list_key("t_mot_cua", "dvc_items", n, "_label")].raw,
            doc.cells[list_key("t_mot_cua", "dvc_items", n, "tong_truoc")].raw,
        )
        for n in (1, 8)
    }
    assert carried == {1: ("Dịch vụ 1", 10), 8: ("Dịch vụ 8", 80)}
