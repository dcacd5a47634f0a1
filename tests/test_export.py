"""Exports of the master: xlsx, csv, json — and never a formula from what a unit typed."""

from __future__ import annotations

import json
import zipfile

import openpyxl
import pytest

from bot.context import open_context
from bot.reporting.export import ExportError, export
from bot.reporting.master import compile_master
from cli.main import main
from jobs.poll import poll
from jobs.provision import provision
from tests.helpers import HUYEN, SO, UNITS, report_for


@pytest.fixture
def master(schema, period):
    reports = [
        report_for(
            schema,
            SO,
            period,
            {
                "v_kien_nghi": "=1+1",
                "iv_phuong_huong": "@SUM(A1)",
                "iii2_tich_cuc": "- Cải thiện chỉ số PAR.",
                "t_van_ban_dien_tu/don_vi[1]/_label": "+Văn phòng Sở",
                "t_van_ban_dien_tu/don_vi[1]/vb_tong": 100,
                "t_van_ban_dien_tu/don_vi[1]/vbdt_tong": 90,
            },
        ),
        report_for(
            schema, HUYEN, period, {"t_cap_xa/can_bo_tong/q1": -1.5, "v_kien_nghi": "Đề nghị tăng biên chế."}
        ),
    ]
    return compile_master(schema, UNITS, reports, [], {}, period=period)


def cells(ws):
    return [c for row in ws.iter_rows() for c in row if c.value is not None]


def test_it_exports_unit_text_that_looks_like_a_formula_as_text_in_xlsx(master, tmp_path):
    path = export(master, "xlsx", tmp_path / "tong_hop.xlsx")
    wb = openpyxl.load_workbook(path)
    typed = {c.value: c for c in cells(wb["Nội dung"])}
    for text in ("=1+1", "@SUM(A1)", "- Cải thiện chỉ số PAR."):
        assert typed[text].data_type == "s"  # a string cell: not a formula, and shown exactly as typed
    assert typed["=1+1"].quotePrefix
    assert "+Văn phòng Sở" in {c.value for c in cells(wb["Bảng 14. Kết quả sử dụng phần"])}


def test_it_keeps_negative_numbers_as_numbers(master, tmp_path):
    wb = openpyxl.load_workbook(export(master, "xlsx", tmp_path / "tong_hop.xlsx"))
    number = next(c for c in cells(wb["Bảng 12. Đánh giá chất lượng"]) if c.value == -1.5)
    assert number.data_type == "n"
    zipped = export(master, "csv", tmp_path / "tong_hop.zip")
    text = zipfile.ZipFile(zipped).read("bang_12_t_cap_xa.csv").decode("utf-8-sig")
    assert ",-1.5," in text


def test_it_writes_one_xlsx_sheet_per_frame_with_excel_safe_names(master, schema, tmp_path):
    wb = openpyxl.load_workbook(export(master, "xlsx", tmp_path / "tong_hop.xlsx"))
    assert wb.sheetnames[:2] == ["Tình trạng", "Nội dung"]
    assert len(wb.sheetnames) == 2 + len(schema.tables) == len(set(wb.sheetnames))
    assert all(len(name) <= 31 and not set(name) & set("[]:*?/\\") for name in wb.sheetnames)
    assert wb["Bảng 9. Thực hiện tinh giản"]["A1"].value == "Mã đơn vị"


def test_it_writes_csv_in_utf8_with_bom_and_quotes_formula_like_text(master, tmp_path):
    folder = export(master, "csv", tmp_path / "csv")
    raw = (folder / "01_noi_dung.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so Excel reads Vietnamese as UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "Mục,Nội dung đề cương,Mã đơn vị,Tên đơn vị,Loại đơn vị,Nội dung báo cáo,Đã duyệt"
    assert any(line.endswith(",'=1+1,") for line in lines)
    assert any(",'@SUM(A1)," in line for line in lines)
    assert any(",Đề nghị tăng biên chế.," in line for line in lines)  # ordinary text untouched


def test_it_zips_one_csv_per_frame(master, schema, tmp_path):
    names = zipfile.ZipFile(export(master, "csv", tmp_path / "tong_hop.zip")).namelist()
    assert names[:2] == ["00_tinh_trang.csv", "01_noi_dung.csv"]
    assert len(names) == 2 + len(schema.tables) and "bang_14_t_van_ban_dien_tu.csv" in names


def test_it_exports_json_with_row_ids_and_province_totals(master, tmp_path):
    doc = json.loads(export(master, "json", tmp_path / "tong_hop.json").read_text(encoding="utf-8"))
    assert doc["period"] == "2026-Q1" and doc["period_label"] == "Quý I năm 2026"
    table = next(t for t in doc["tables"] if t["id"] == "t_van_ban_dien_tu")
    province = next(r for r in table["rows"] if r["unit"] == "_tinh" and r["row"] == "tong")
    assert province["Số văn bản / Tổng"] == 100 and province["Tỷ lệ văn bản điện tử/tổng số văn bản"] == 90.0
    assert {r["unit"] for r in doc["status"]} == {"STP", "H_A", "CT"}


def test_it_refuses_an_unknown_format(master, tmp_path):
    with pytest.raises(ExportError, match="không được hỗ trợ"):
        export(master, "pdf", tmp_path / "x.pdf")


UNITS_CSV = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\n"


def test_it_exports_from_the_command_line_and_explains_when_nothing_was_read(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    out = tmp_path / "tong_hop.xlsx"
    argv = ["--home", str(home), "export", "--period", "2026-Q1", "--format", "xlsx", "--out", str(out)]
    ctx = open_context(home)
    provision(ctx, ctx.period("2026-Q1"))
    assert main(argv) == 2
    assert "Chưa có số liệu nào của kỳ 2026-Q1" in capsys.readouterr().err
    poll(ctx, ctx.period("2026-Q1"))
    ctx.close()
    assert main(argv) == 0
    assert f"ra {out}" in capsys.readouterr().out
    assert openpyxl.load_workbook(out)["Tình trạng"]["A2"].value == "STP"
