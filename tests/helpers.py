"""Helpers shared by several test files (fixtures live in conftest.py): the repository root, a
clerk typing into a workbook, a small unit list, a recording channel and hand-made reports."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, time
from pathlib import Path

import openpyxl

from bot.checks.report import Report
from bot.clock import TZ
from bot.config import Config
from bot.context import Context
from bot.messages.channels import Channel
from bot.outline.layout import build_layout
from bot.outline.units import Unit
from bot.sheets.backends.base import field_edits
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.backends.xlsx_parts.edits import (
    apply_edits as clerks_writer,
)  # bound here: tests patch the bot's
from bot.sheets.backends.xlsx_parts.package import Unsure
from bot.store import Store

REPO = Path(__file__).resolve().parent.parent
PORTAL_PASSWORD = "mat-khau-dai-1"


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in the province's time zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def log_in(client, name="cchc", password=PORTAL_PASSWORD):
    """A coordinator's login through the portal's form, CSRF token included."""
    token = csrf_of(client.get("/dang-nhap").text)
    return client.post(
        "/dang-nhap", data={"name": name, "password": password, "csrf": token}, follow_redirects=False
    )


# One unit of each kind a province has (a district committee only before the 2025 reform): enough
# for everything that is not about the number of units, and four times quicker than the sample list.
SMALL_UNITS_CSV = (
    "code,name,kind,emails,chat_ids\n"
    "STP,Sở Tư pháp,so_nganh,vanthu@sotuphap.tinh.example.vn,zalo:1000070\n"
    "ND_THUE,Cục Thuế tỉnh,nganh_doc,vanthu@cucthue.nganhdoc.example.vn,zalo:1001750\n"
    "X_PHUXUAN,UBND phường Phú Xuân,xa,vanthu@phuxuan.tinh.example.vn,zalo:1002590\n"
    "H_TPHUE,UBND thành phố Huế,huyen,vanthu@tphue.tinh.example.vn,zalo:1000910\n"
)


# A submitted report whose Table 14 total (402) is not sent + received (160 + 260).
WRONG_TOTAL = {
    "t_van_ban_dien_tu/don_vi[1]/vb_tong": 402,
    "t_van_ban_dien_tu/don_vi[1]/vb_gui": 160,
    "t_van_ban_dien_tu/don_vi[1]/vb_nhan": 260,
    "_cover/status": "Đã nộp",
}


def type_into(path: str, layout, values: dict) -> None:
    """Type ``values`` (field key → what a clerk types) into the workbook and save it. Saved by
    the part-level writer, which writes what openpyxl writes (tests/test_fast_paths.py), and by
    openpyxl itself for what that writer leaves to it (a formula, a date, a boolean): the same
    file in a tenth of the time. The writer is bound when this module is imported, so a test
    that replaces the bot's ``xlsx_parts.apply_edits`` does not replace the clerk's too."""
    edits = field_edits(layout, values)
    target = f"{path}.typing"
    try:
        clerks_writer(path, target, edits)
        os.replace(target, path)
        return
    except Unsure:
        pass
    finally:
        if os.path.exists(target):
            os.remove(target)
    wb = openpyxl.load_workbook(path)
    for edit in edits:
        for (row, col), value in edit.cells.items():
            wb[edit.tab].cell(row=row, column=col).value = value
    wb.save(path)


# --- messages -------------------------------------------------------------------------------------


class RecordingChannel(Channel):
    """A channel that records every call that reached the provider; ``script`` says what the next
    calls do: None delivers, an exception is raised (after the call has reached the provider)."""

    max_length = 2000

    def __init__(self, kind: str = "zalo_bot", script=()):
        self.kind = kind
        self.calls: list[tuple[str, object]] = []
        self.script = list(script)

    def send(self, address, message):
        self.calls.append((address, message))
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return f"{self.kind}-{len(self.calls)}"

    @property
    def addresses(self) -> list[str]:
        return [address for address, _ in self.calls]


def make_context(tmp_path, schema, units, **settings) -> Context:
    config = Config(home=tmp_path, **settings)
    return Context(config, schema, units, Store(config.state_path), WorkbookBackend(tmp_path / "sheets"))


def set_state(store, unit: str, state: str, *, filled=4, required=10, errors=0, sections=()) -> None:
    store.save_check(
        "2026-Q1",
        [
            {
                "unit": unit,
                "state": state,
                "filled": filled,
                "required": required,
                "errors": errors,
                "warnings": 0,
                "incomplete_sections": json.dumps(list(sections), ensure_ascii=False),
                "last_change": None,
                "submitted_at": None,
                "checked_at": "2026-03-01T08:00:00+07:00",
                "snapshot_id": None,
                "feedback_hash": None,
                "inputs_key": None,
            }
        ],
        {},
        [unit],
    )


# --- hand-made reports (master sheet, export, Word report) ---------------------------------------


SO = Unit("STP", "Sở Tư pháp", "so_nganh")
HUYEN = Unit("H_A", "UBND huyện A", "huyen")
NGANH = Unit("CT", "Cục Thuế tỉnh", "nganh_doc")
UNITS = [SO, HUYEN, NGANH]


def report_for(schema, unit, period, typed: dict, *, lines: dict | None = None) -> Report:
    """A report as reading ``unit``'s fresh workbook would give it after ``typed`` was typed:
    every field present, computed cells still holding their formulas. ``lines`` sets how many
    lines a list has (a unit may insert lines; the template has ``min_rows``)."""
    layout = build_layout(schema, unit, period)
    report = Report(unit.code, unit.kind, period.id)
    for key, spec in layout.fields.items():
        if spec.block == "_cover":
            continue
        report.values[key] = None
        if spec.computed:
            report.formulas.add(key)
    for table in schema.tables_for(unit.kind):
        for row in table.rows:
            if row.kind == "list":
                report.list_lines[(table.id, row.id)] = (lines or {}).get((table.id, row.id), row.min_rows)
    report.values.update(typed)
    return report


def state(unit, name="hop_le", **fields):
    return {
        "unit": unit,
        "state": name,
        "filled": 10,
        "required": 10,
        "errors": 0,
        "warnings": 0,
        "last_change": None,
        "submitted_at": None,
        "approval": None,
        **fields,
    }


def documents_line(n, total, electronic):
    prefix = f"t_van_ban_dien_tu/don_vi[{n}]"
    return {
        f"{prefix}/_label": f"Văn phòng {n}",
        f"{prefix}/vb_tong": total,
        f"{prefix}/vbdt_tong": electronic,
    }


# --- a careful unit's figures --------------------------------------------------------------------


T14 = "t_van_ban_dien_tu/don_vi"


def careful_values(schema) -> dict:
    """Sở Tư pháp's Q1 report as a careful clerk types it: complete, and every rule holds."""
    values = {
        n.id: "Đơn vị đã triển khai theo kế hoạch; chi tiết tại báo cáo kèm theo."
        for n in schema.narratives_for("so_nganh")
    }
    values |= {
        "t_thanh_tra/cchc/don_vi": "Phòng Công chứng số 1",
        "t_tuyen_truyen/cchc/so_luong": 3,
        "t_van_ban_ban_hanh/van_ban[1]/so_hieu": "12/2026/QĐ-UBND",
        "t_kiem_tra_ra_soat/kiem_tra/so_vb": 10,
        "t_kiem_tra_ra_soat/kiem_tra/so_vb_khong_phu_hop": 2,
        "t_kiem_tra_ra_soat/ra_soat/so_vb": 5,
        "t_kiem_tra_ra_soat/ra_soat/so_vb_khong_phu_hop": 0,
        "t_mot_cua/tthc/tong_bao_cao": 120,
        "t_mot_cua/tthc/mot_cua_bao_cao": "120",
        "t_mot_cua/tthc/egov_bao_cao": 100,
        "t_mot_cua/dvc_items[1]/_label": "Cấp phiếu lý lịch tư pháp",
        "t_mot_cua/dvc_items[1]/tong_bao_cao": 1,
        "t_mot_cua/dvc_items[1]/mot_cua_bao_cao": 1,
        "t_mot_cua/dvc_items[1]/egov_bao_cao": 1,
        "t_lien_thong/thu_tuc[1]/_label": "Đăng ký khai sinh",
        "t_lien_thong/thu_tuc[1]/theo_quy_dinh": "Có",
        "t_lien_thong/thu_tuc[1]/chu_dong": "Không",
        "t_lien_thong/thu_tuc[1]/don_vi_lien_thong": "Công an tỉnh",
        "t_lien_thong/thu_tuc[1]/so_van_ban": 1,
        "t_lien_thong/thu_tuc[1]/egov": "Có",
        "t_to_chuc_bo_may/phong_ban/bao_cao": 5,
        "t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao": 2,
        "t_bien_che/bien_che/giao_bien_che": 40,
        "t_bien_che/bien_che/giao_hop_dong": 5,
        "t_bien_che/bien_che/giao_su_nghiep": 30,
        "t_bien_che/bien_che/thuc_hien_bien_che": 38,
        "t_bien_che/bien_che/thuc_hien_hop_dong": 5,
        "t_bien_che/bien_che/thuc_hien_su_nghiep": 28,
        "t_tinh_gian/cong_chuc/de_nghi": 2,
        "t_tinh_gian/cong_chuc/phe_duyet": 1,
        "t_tinh_gian/vien_chuc/de_nghi": 4,
        "t_tinh_gian/vien_chuc/phe_duyet": 4,
        "t_tu_chu_tai_chinh/tu_chu/nd130_tong": 10,
        "t_tu_chu_tai_chinh/tu_chu/nd130_da_thuc_hien": 8,
        "t_tu_chu_tai_chinh/tu_chu/nd16_tong": 5,
        "t_tu_chu_tai_chinh/tu_chu/nd16_da_thuc_hien": 3,
        "t_tu_chu_tai_chinh/tu_chu/nd16_du_dieu_kien": 2,
        "t_tu_chu_tai_chinh/tu_chu/nd16_phe_duyet": 1,
        "t_chu_ky_so/lanh_dao_ky_so/so_luong": 5,
        "t_chu_ky_so/lanh_dao_ky_so/ty_le": 100,
        "t_chu_ky_so/ky_so_ban_co_yeu/so_luong": 4,
        "t_chu_ky_so/ky_so_ban_co_yeu/ty_le": "80%",
        "t_dvc_truc_tuyen/thu_tuc[1]/_label": "Cấp phiếu lý lịch tư pháp",
        "t_dvc_truc_tuyen/thu_tuc[1]/hs_tiep_nhan": 200,
        "t_dvc_truc_tuyen/thu_tuc[1]/hs_muc_3": 50,
        "t_dvc_truc_tuyen/thu_tuc[1]/hs_muc_4": 120,
        "t_trang_ttdt/chat_luong/kip_thoi": "Tốt",
        "t_trang_ttdt/chat_luong/day_du": "Khá",
        "t_trang_ttdt/chat_luong/thuan_tien": "Tốt",
    }
    values |= {
        f"t_quan_ly_cbccvc/{row}/q1": 0
        for row in (
            "truong_pho_phong",
            "bo_nhiem_moi",
            "bo_nhiem_lai",
            "luan_chuyen",
            "mien_nhiem",
            "ky_luat",
        )
    }
    values |= {
        "t_quan_ly_cbccvc/tuyen_dung/q1": 3,
        "t_quan_ly_cbccvc/tuyen_dung_cong_chuc/q1": 1,
        "t_quan_ly_cbccvc/tuyen_dung_vien_chuc/q1": 2,
    }
    values |= {f"t_dao_tao/{row.id}/q1": 1 for row in schema.table_by_id["t_dao_tao"].rows}
    values |= e_document_lines()
    return values


def e_document_lines() -> dict:
    lines = {
        1: ("Văn phòng Sở", 200, 120, 80, 91, 41, 50, 20, 18),
        2: ("Phòng Hành chính tư pháp", 90, 40, 50, 45, 20, 25, 10, 9),
        3: ("Phòng Bổ trợ tư pháp", 50, 20, 30, 25, 10, 15, 8, 8),
    }
    columns = (
        "_label",
        "vb_tong",
        "vb_gui",
        "vb_nhan",
        "vbdt_tong",
        "vbdt_gui",
        "vbdt_nhan",
        "ccvc_tong",
        "ccvc_su_dung",
    )
    return {f"{T14}[{n}]/{col}": v for n, line in lines.items() for col, v in zip(columns, line, strict=True)}
