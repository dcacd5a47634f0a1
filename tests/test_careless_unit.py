"""A careless unit's workbook: every mistake is reported once, at its cell, and nothing else is."""

from __future__ import annotations

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from bot.checks.report import report_from_document
from bot.checks.rules import evaluate
from bot.sheets.document import extract
from tests.helpers import T14, careful_values, type_into


def findings_of(schema, backend, ref, layout) -> list:
    report, read_findings = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    return read_findings + evaluate(schema, [report], read_findings)


def delete_row(path: str, layout, key: str) -> None:
    """Delete the worksheet row holding ``key`` the way a clerk would (rows below move up)."""
    spec = layout.fields[key]
    wb = openpyxl.load_workbook(path)
    wb[spec.tab].delete_rows(spec.row)
    wb.save(path)


@pytest.fixture
def careful(workbook, schema):
    backend, ref, layout = workbook
    type_into(ref.id, layout, careful_values(schema))
    return backend, ref, layout


def test_it_finds_nothing_in_a_careful_units_workbook(careful, schema):
    assert findings_of(schema, *careful) == []


def test_it_reports_every_mistake_of_a_careless_unit_once_at_its_cell(careful, schema):
    backend, ref, layout = careful
    where = lambda key: f"'{layout.fields[key].tab}'!{layout.fields[key].a1}"  # noqa: E731
    type_into(
        ref.id,
        layout,
        {
            f"{T14}[1]/ty_le_vbdt": 50,  # a rate typed over its formula: 91 / 200 is 45,5
            f"{T14}[2]/vb_tong": 100,  # column (3) is not (4) + (5) = 90
            f"{T14}[3]/vbdt_tong": 60,
            f"{T14}[3]/vbdt_gui": 20,
            f"{T14}[3]/vbdt_nhan": 40,  # 60 e-documents of 50, 40 received of 30
            "t_chu_ky_so/lanh_dao_ky_so/ty_le": 120,  # a percentage of 120
            "t_to_chuc_bo_may/phong_ban/bao_cao": "mười",  # words in a count
            "t_tu_chu_tai_chinh/tu_chu/nd130_tong": "1.234,5",  # a fraction in a count
        },
    )
    delete_row(ref.id, layout, "t_tinh_gian/tong/de_nghi")  # the total row of table 9, deleted
    total_row = layout.fields["t_tinh_gian/tong/de_nghi"]
    label_column = get_column_letter(next(b for b in layout.blocks if b.id == "t_tinh_gian").label_col)
    found = findings_of(schema, backend, ref, layout)
    assert sorted((f.rule, f.cell) for f in found) == sorted(
        [
            ("r14_ty_le_vbdt", where(f"{T14}[1]/ty_le_vbdt")),
            ("r14_vb_tong", where(f"{T14}[2]/vb_tong")),
            ("r14_vbdt_le_vb", where(f"{T14}[3]/vbdt_tong")),
            ("r14_vbdt_nhan_le", where(f"{T14}[3]/vbdt_nhan")),
            ("percent_0_100", where("t_chu_ky_so/lanh_dao_ky_so/ty_le")),
            ("parse", where("t_to_chuc_bo_may/phong_ban/bao_cao")),
            ("parse", where("t_tu_chu_tai_chinh/tu_chu/nd130_tong")),
            ("structure", f"'{total_row.tab}'!{label_column}{total_row.row}"),
        ]
    )
    by_rule = {f.rule: f for f in found}
    assert (
        by_rule["r14_ty_le_vbdt"].message
        == "Tỷ lệ văn bản điện tử phải bằng 45,5 (= 91 / 200 × 100), đang là 50"
    )
    assert all(f.severity == "error" for f in found)


def test_it_reads_the_rest_of_a_tab_whose_total_row_was_deleted(careful, schema):
    backend, ref, layout = careful
    delete_row(ref.id, layout, "t_tinh_gian/tong/de_nghi")
    report, _ = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert "t_tinh_gian/tong" in report.unreadable
    assert (
        report.values["ii3c_phan_cap"] == careful_values(schema)["ii3c_phan_cap"]
    )  # the narrative below moved up
    assert [f.rule for f in evaluate(schema, [report]) if f.table == "t_tinh_gian"] == []


def test_it_reports_a_deleted_row_inside_a_table_once_and_checks_nothing_that_needs_it(careful, schema):
    backend, ref, layout = careful
    delete_row(ref.id, layout, "t_tinh_gian/vien_chuc/de_nghi")  # the total below now adds up a missing row
    [finding] = findings_of(schema, backend, ref, layout)
    assert finding.rule == "structure" and '"Viên chức"' in finding.message
