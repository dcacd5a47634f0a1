"""A careless unit's workbook: every mistake is reported once, at its cell, and nothing else is."""

from __future__ import annotations

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from bot.checks.report import report_from_document
from bot.checks.rules import evaluate
from bot.sheets.document import extract
from tests.conftest import type_into

T14 = "t_van_ban_dien_tu/don_vi"


def careful_values(schema) -> dict:
    """Sở Tư pháp's Q1 report as a careful clerk types it: complete, and every rule holds."""
    values = {n.id: "Đơn vị đã triển khai theo kế hoạch; chi tiết tại báo cáo kèm theo." for n in schema.narratives_for("so_nganh")}
    values |= {
        "t_thanh_tra/cchc/don_vi": "Phòng Công chứng số 1", "t_tuyen_truyen/cchc/so_luong": 3,
        "t_van_ban_ban_hanh/van_ban[1]/so_hieu": "12/2026/QĐ-UBND",
        "t_kiem_tra_ra_soat/kiem_tra/so_vb": 10, "t_kiem_tra_ra_soat/kiem_tra/so_vb_khong_phu_hop": 2,
        "t_kiem_tra_ra_soat/ra_soat/so_vb": 5, "t_kiem_tra_ra_soat/ra_soat/so_vb_khong_phu_hop": 0,
        "t_mot_cua/tthc/tong_bao_cao": 120, "t_mot_cua/tthc/mot_cua_bao_cao": "120", "t_mot_cua/tthc/egov_bao_cao": 100,
        "t_mot_cua/dvc_items[1]/_label": "Cấp phiếu lý lịch tư pháp", "t_mot_cua/dvc_items[1]/tong_bao_cao": 1,
        "t_mot_cua/dvc_items[1]/mot_cua_bao_cao": 1, "t_mot_cua/dvc_items[1]/egov_bao_cao": 1,
        "t_lien_thong/thu_tuc[1]/_label": "Đăng ký khai sinh", "t_lien_thong/thu_tuc[1]/theo_quy_dinh": "Có",
        "t_lien_thong/thu_tuc[1]/chu_dong": "Không", "t_lien_thong/thu_tuc[1]/don_vi_lien_thong": "Công an tỉnh",
        "t_lien_thong/thu_tuc[1]/so_van_ban": 1, "t_lien_thong/thu_tuc[1]/egov": "Có",
        "t_to_chuc_bo_may/phong_ban/bao_cao": 5, "t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao": 2,
        "t_bien_che/bien_che/giao_bien_che": 40, "t_bien_che/bien_che/giao_hop_dong": 5,
        "t_bien_che/bien_che/giao_su_nghiep": 30, "t_bien_che/bien_che/thuc_hien_bien_che": 38,
        "t_bien_che/bien_che/thuc_hien_hop_dong": 5, "t_bien_che/bien_che/thuc_hien_su_nghiep": 28,
        "t_tinh_gian/cong_chuc/de_nghi": 2, "t_tinh_gian/cong_chuc/phe_duyet": 1,
        "t_tinh_gian/vien_chuc/de_nghi": 4, "t_tinh_gian/vien_chuc/phe_duyet": 4,
        "t_tu_chu_tai_chinh/tu_chu/nd130_tong": 10, "t_tu_chu_tai_chinh/tu_chu/nd130_da_thuc_hien": 8,
        "t_tu_chu_tai_chinh/tu_chu/nd16_tong": 5, "t_tu_chu_tai_chinh/tu_chu/nd16_da_thuc_hien": 3,
        "t_tu_chu_tai_chinh/tu_chu/nd16_du_dieu_kien": 2, "t_tu_chu_tai_chinh/tu_chu/nd16_phe_duyet": 1,
        "t_chu_ky_so/lanh_dao_ky_so/so_luong": 5, "t_chu_ky_so/lanh_dao_ky_so/ty_le": 100,
        "t_chu_ky_so/ky_so_ban_co_yeu/so_luong": 4, "t_chu_ky_so/ky_so_ban_co_yeu/ty_le": "80%",
        "t_dvc_truc_tuyen/thu_tuc[1]/_label": "Cấp phiếu lý lịch tư pháp", "t_dvc_truc_tuyen/thu_tuc[1]/hs_tiep_nhan": 200,
        "t_dvc_truc_tuyen/thu_tuc[1]/hs_muc_3": 50, "t_dvc_truc_tuyen/thu_tuc[1]/hs_muc_4": 120,
        "t_trang_ttdt/chat_luong/kip_thoi": "Tốt", "t_trang_ttdt/chat_luong/day_du": "Khá",
        "t_trang_ttdt/chat_luong/thuan_tien": "Tốt",
    }  # fmt: skip
    values |= {f"t_quan_ly_cbccvc/{row}/q1": 0 for row in ("truong_pho_phong", "bo_nhiem_moi", "bo_nhiem_lai", "luan_chuyen", "mien_nhiem", "ky_luat")}
    values |= {"t_quan_ly_cbccvc/tuyen_dung/q1": 3, "t_quan_ly_cbccvc/tuyen_dung_cong_chuc/q1": 1,
               "t_quan_ly_cbccvc/tuyen_dung_vien_chuc/q1": 2}  # fmt: skip
    values |= {f"t_dao_tao/{row.id}/q1": 1 for row in schema.table_by_id["t_dao_tao"].rows}
    values |= e_document_lines()
    return values


def e_document_lines() -> dict:
    lines = {
        1: ("Văn phòng Sở", 200, 120, 80, 91, 41, 50, 20, 18),
        2: ("Phòng Hành chính tư pháp", 90, 40, 50, 45, 20, 25, 10, 9),
        3: ("Phòng Bổ trợ tư pháp", 50, 20, 30, 25, 10, 15, 8, 8),
    }
    columns = ("_label", "vb_tong", "vb_gui", "vb_nhan", "vbdt_tong", "vbdt_gui", "vbdt_nhan", "ccvc_tong", "ccvc_su_dung")
    return {f"{T14}[{n}]/{col}": v for n, line in lines.items() for col, v in zip(columns, line, strict=True)}


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
    type_into(ref.id, layout, {
        f"{T14}[1]/ty_le_vbdt": 50,  # a rate typed over its formula: 91 / 200 is 45,5
        f"{T14}[2]/vb_tong": 100,  # column (3) is not (4) + (5) = 90
        f"{T14}[3]/vbdt_tong": 60, f"{T14}[3]/vbdt_gui": 20, f"{T14}[3]/vbdt_nhan": 40,  # 60 e-documents of 50, 40 received of 30
        "t_chu_ky_so/lanh_dao_ky_so/ty_le": 120,  # a percentage of 120
        "t_to_chuc_bo_may/phong_ban/bao_cao": "mười",  # words in a count
        "t_tu_chu_tai_chinh/tu_chu/nd130_tong": "1.234,5",  # a fraction in a count
    })  # fmt: skip
    delete_row(ref.id, layout, "t_tinh_gian/tong/de_nghi")  # the total row of table 9, deleted
    total_row = layout.fields["t_tinh_gian/tong/de_nghi"]
    label_column = get_column_letter(next(b for b in layout.blocks if b.id == "t_tinh_gian").label_col)
    found = findings_of(schema, backend, ref, layout)
    assert sorted((f.rule, f.cell) for f in found) == sorted([
        ("r14_ty_le_vbdt", where(f"{T14}[1]/ty_le_vbdt")),
        ("r14_vb_tong", where(f"{T14}[2]/vb_tong")),
        ("r14_vbdt_le_vb", where(f"{T14}[3]/vbdt_tong")),
        ("r14_vbdt_nhan_le", where(f"{T14}[3]/vbdt_nhan")),
        ("percent_0_100", where("t_chu_ky_so/lanh_dao_ky_so/ty_le")),
        ("parse", where("t_to_chuc_bo_may/phong_ban/bao_cao")),
        ("parse", where("t_tu_chu_tai_chinh/tu_chu/nd130_tong")),
        ("structure", f"'{total_row.tab}'!{label_column}{total_row.row}"),
    ])  # fmt: skip
    by_rule = {f.rule: f for f in found}
    assert by_rule["r14_ty_le_vbdt"].message == "Tỷ lệ văn bản điện tử phải bằng 45,5 (= 91 / 200 × 100), đang là 50"
    assert all(f.severity == "error" for f in found)


def test_it_reads_the_rest_of_a_tab_whose_total_row_was_deleted(careful, schema):
    backend, ref, layout = careful
    delete_row(ref.id, layout, "t_tinh_gian/tong/de_nghi")
    report, _ = report_from_document(extract(layout, backend.read(ref)), schema, "so_nganh")
    assert "t_tinh_gian/tong" in report.unreadable
    assert report.values["ii3c_phan_cap"] == careful_values(schema)["ii3c_phan_cap"]  # the narrative below moved up
    assert [f.rule for f in evaluate(schema, [report]) if f.table == "t_tinh_gian"] == []


def test_it_reports_a_deleted_row_inside_a_table_once_and_checks_nothing_that_needs_it(careful, schema):
    backend, ref, layout = careful
    delete_row(ref.id, layout, "t_tinh_gian/vien_chuc/de_nghi")  # the total below now adds up a missing row
    [finding] = findings_of(schema, backend, ref, layout)
    assert finding.rule == "structure" and '"Viên chức"' in finding.message
