"""The master sheet: every unit's report in one place, with province totals computed right."""

from __future__ import annotations

import math

import openpyxl
import pytest

from bot.context import open_context
from bot.outline.layout import build_layout
from bot.outline.units import Unit
from bot.reporting.gather import NothingPolled, gather
from bot.reporting.master import PROVINCE, compile_master
from bot.reporting.master_layout import master_layout
from bot.sheets.backends.workbook import WorkbookBackend
from cli.main import main
from jobs.compile import compile
from jobs.poll import poll
from jobs.provision import provision
from tests.helpers import HUYEN, NGANH, SO, UNITS, documents_line, report_for, state, type_into


@pytest.fixture
def three_units(schema, period):
    """Table 14 rates 90 %, 10 % and 50 %: their average (50) is not the province's rate."""
    return [
        report_for(
            schema, SO, period, {**documents_line(1, 100, 90), "i1_chi_dao": "Sở đã ban hành kế hoạch."}
        ),
        report_for(schema, HUYEN, period, {**documents_line(1, 10, 1), **documents_line(2, 10, 1)}),
        report_for(schema, NGANH, period, documents_line(1, 1000, 500)),
    ]


def test_it_recomputes_province_rates_from_summed_parts_never_averaging(schema, period, three_units):
    master = compile_master(schema, UNITS, three_units, {}, {}, period=period)
    province = master.province_row("t_van_ban_dien_tu", "tong")
    assert province["Số văn bản / Tổng"] == 1120
    assert province["Số văn bản điện tử / Tổng"] == 592
    assert province["Tỷ lệ văn bản điện tử/tổng số văn bản"] == 52.9  # 592 / 1120, rounded like ROUND(…, 1)
    unit_rates = master.tables["t_van_ban_dien_tu"].xs("tong", level="row")[
        "Tỷ lệ văn bản điện tử/tổng số văn bản"
    ]
    assert list(unit_rates.drop(PROVINCE)) == [90.0, 10.0, 50.0]


def test_it_sums_each_fixed_and_total_row_across_units(schema, period):
    reports = [
        report_for(
            schema,
            SO,
            period,
            {
                "t_tinh_gian/cong_chuc/de_nghi": 4,
                "t_tinh_gian/cong_chuc/phe_duyet": 3,
                "t_tinh_gian/vien_chuc/de_nghi": 6,
                "t_tinh_gian/vien_chuc/phe_duyet": 6,
            },
        ),
        report_for(
            schema, HUYEN, period, {"t_tinh_gian/cong_chuc/de_nghi": 10, "t_tinh_gian/cong_chuc/phe_duyet": 1}
        ),
    ]
    frame = compile_master(schema, UNITS, reports, {}, {}, period=period).tables["t_tinh_gian"]
    assert (
        frame.loc[("H_A", "tong"), "Số lượng đề nghị"] == 10
    )  # the unit's own total, as its sheet computes it
    assert frame.loc[(PROVINCE, "cong_chuc"), "Số lượng đề nghị"] == 14
    assert frame.loc[(PROVINCE, "vien_chuc"), "Số lượng được phê duyệt"] == 6
    assert frame.loc[(PROVINCE, "tong"), "Số lượng đề nghị"] == 20
    assert frame.loc[(PROVINCE, "tong"), "Tỷ lệ"] == 50.0  # 10 approved of 20
    assert list(frame.index.get_level_values("unit")) == ["STP"] * 3 + ["H_A"] * 3 + [PROVINCE] * 3


def test_it_lists_every_line_of_a_list_table_beside_its_unit(schema, period):
    line = "t_dvc_truc_tuyen/thu_tuc[{}]/{}"
    reports = [
        report_for(
            schema,
            SO,
            period,
            {
                line.format(1, "_label"): "Cấp phiếu lý lịch tư pháp",
                line.format(1, "hs_tiep_nhan"): 40,
                line.format(7, "_label"): "Chứng thực bản sao",
                line.format(7, "hs_tiep_nhan"): 60,
            },
            lines={("t_dvc_truc_tuyen", "thu_tuc"): 7},
        ),
        report_for(
            schema,
            HUYEN,
            period,
            {line.format(2, "_label"): "Đăng ký khai sinh", line.format(2, "hs_tiep_nhan"): 5},
        ),
    ]
    frame = compile_master(schema, UNITS, reports, {}, {}, period=period).tables["t_dvc_truc_tuyen"]
    lines = frame[frame.index.get_level_values("row").str.startswith("thu_tuc[")]
    assert list(zip(lines["Mã đơn vị"], lines["Tên đơn vị"], lines["Dòng"], strict=True)) == [
        ("STP", "Sở Tư pháp", "Cấp phiếu lý lịch tư pháp"),
        ("STP", "Sở Tư pháp", "Chứng thực bản sao"),  # a line the unit inserted, past the template's five
        ("H_A", "UBND huyện A", "Đăng ký khai sinh"),
    ]  # untouched template lines are not listed
    province = frame.loc[(PROVINCE, "tong")]
    assert province["Tổng số hồ sơ đã tiếp nhận"] == 105
    assert province["Dòng"] == "Tổng số: (3 dòng của 2 đơn vị)"


def test_it_gives_a_list_without_total_row_its_own_province_row(schema, period):
    issued = "t_van_ban_ban_hanh/van_ban[{}]/{}"
    reports = [
        report_for(
            schema,
            SO,
            period,
            {issued.format(1, "so_hieu"): "12/2026/QĐ-UBND", issued.format(1, "co_quan"): "UBND tỉnh"},
        )
    ]
    frame = compile_master(schema, UNITS, reports, {}, {}, period=period).tables["t_van_ban_ban_hanh"]
    assert frame.loc[("STP", "van_ban[1]"), "Số hiệu/thời gian ban hành"] == "12/2026/QĐ-UBND"
    assert frame.loc[(PROVINCE, "van_ban"), "Dòng"] == "Tổng (1 dòng của 1 đơn vị)"
    assert frame.loc[(PROVINCE, "van_ban"), "Cơ quan ban hành"] is None  # text is never totalled


def test_it_keeps_counts_whole_and_leaves_blank_what_nobody_typed(schema, period):
    reports = [
        report_for(
            schema, SO, period, {"t_tinh_gian/cong_chuc/de_nghi": 4, "t_tinh_gian/vien_chuc/de_nghi": 2.5}
        ),
        report_for(schema, HUYEN, period, {"t_tinh_gian/cong_chuc/de_nghi": "không rõ"}),
    ]
    frame = compile_master(schema, UNITS, reports, {}, {}, period=period).tables["t_tinh_gian"]
    approved = frame["Số lượng được phê duyệt"]
    assert str(approved.dtype) == "Int64"  # whole numbers: the master shows no "4.0"
    assert approved.isna().all()  # nothing typed: blank, not 0
    asked = frame["Số lượng đề nghị"]
    assert asked.dtype == "float64"  # one count is not whole: the column keeps its decimals
    assert asked[("STP", "vien_chuc")] == 2.5
    assert math.isnan(asked[("H_A", "cong_chuc")])  # text in a count is not a number
    assert asked[(PROVINCE, "cong_chuc")] == 4
    assert frame["Tên đơn vị"].dtype == object
    assert frame.loc[("STP", "cong_chuc"), "Mã đơn vị"] == "STP"


def test_it_counts_yes_answers_on_total_rows(schema, period):
    line = "t_lien_thong/thu_tuc[{}]/{}"
    reports = [
        report_for(
            schema,
            SO,
            period,
            {
                line.format(1, "_label"): "Cấp giấy phép xây dựng",
                line.format(1, "egov"): True,
                line.format(2, "_label"): "Đăng ký đất đai",
                line.format(2, "egov"): False,
            },
        ),
        report_for(
            schema,
            HUYEN,
            period,
            {line.format(1, "_label"): "Đăng ký hộ kinh doanh", line.format(1, "egov"): True},
        ),
    ]
    frame = compile_master(schema, UNITS, reports, {}, {}, period=period).tables["t_lien_thong"]
    assert frame.loc[("STP", "thu_tuc[2]"), "Cấu hình trên phần mềm Egov"] == "Không"
    assert frame.loc[("STP", "tong"), "Cấu hình trên phần mềm Egov"] == 1
    assert frame.loc[(PROVINCE, "tong"), "Cấu hình trên phần mềm Egov"] == 2


def test_it_includes_only_units_a_table_applies_to_and_leaves_rate_rows_blank(schema, period):
    commune = Unit("X_B", "UBND xã B", "xa")  # reports what the outline asks of districts
    quality = {"t_cap_xa/can_bo_tong/q1": 20, "t_cap_xa/can_bo_ty_le/q1": 90.0}
    reports = [
        report_for(schema, SO, period, {}),
        report_for(schema, HUYEN, period, quality),
        report_for(schema, commune, period, quality),
    ]
    frame = compile_master(schema, [SO, HUYEN, commune], reports, {}, {}, period=period).tables["t_cap_xa"]
    assert set(frame.index.get_level_values("unit")) == {"H_A", "X_B", PROVINCE}
    assert frame.loc[(PROVINCE, "can_bo_tong"), "Năm báo cáo / Quí I"] == 40
    assert math.isnan(frame.loc[(PROVINCE, "can_bo_ty_le"), "Năm báo cáo / Quí I"])  # 180 % would be nonsense


def test_it_marks_approved_reports_final(schema, period, three_units):
    states = [state("STP", "da_duyet"), state("H_A", "hop_le")]
    master = compile_master(schema, UNITS, three_units, states, {}, period=period)
    approved = master.tables["t_van_ban_dien_tu"].xs("tong", level="row")["Đã duyệt"]
    assert approved.to_dict() == {"STP": "Có", "H_A": "", "CT": "", PROVINCE: ""}
    assert master.units_approved == 1


def test_it_shows_where_each_unit_stands_in_the_status_frame(schema, period, three_units):
    states = [
        state(
            "STP",
            "da_nop_con_loi",
            filled=3,
            required=4,
            errors=2,
            warnings=1,
            last_change="2026-03-10T02:30:00+00:00",
            submitted_at="2026-03-11T09:00:00+07:00",
        )
    ]
    urls = {"STP": "https://sheets.example/stp", "H_A": "https://sheets.example/ha"}
    status = compile_master(schema, UNITS, three_units[:1], states, urls, period=period).status
    assert status.loc["STP"].to_dict() == {
        "Mã đơn vị": "STP",
        "Tên đơn vị": "Sở Tư pháp",
        "Loại đơn vị": "Sở, ban, ngành thuộc tỉnh",
        "Tình trạng": "Đã nộp nhưng còn lỗi",
        "Hoàn thành (%)": 75.0,
        "Số lỗi": 2,
        "Số cảnh báo": 1,
        "Thay đổi gần nhất": "10/03/2026 09:30",
        "Thời điểm nộp": "11/03/2026 09:00",
        "Đã duyệt": "",
        "Liên kết bảng tính": "https://sheets.example/stp",
    }
    assert status.loc["H_A", "Tình trạng"] == "Chưa kiểm tra"
    assert status.loc["CT", "Tình trạng"] == "Chưa tạo bảng tính"


def test_it_gathers_every_units_text_for_each_narrative(schema, period):
    reports = [
        report_for(schema, SO, period, {"ii221_mot_cua": "Trung tâm hành chính công tiếp nhận 1.200 hồ sơ."}),
        report_for(schema, HUYEN, period, {"ii221_mot_cua": "Bộ phận một cửa được nâng cấp."}),
        report_for(schema, NGANH, period, {}),
    ]
    narratives = compile_master(schema, UNITS, reports, {}, {}, period=period).narratives
    one_stop = narratives.loc["ii221_mot_cua"]
    assert one_stop["Nội dung báo cáo"].to_dict() == {
        "STP": "Trung tâm hành chính công tiếp nhận 1.200 hồ sơ.",
        "H_A": "Bộ phận một cửa được nâng cấp.",
    }
    assert set(one_stop["Mục"]) == {"II.2.2.1"}  # not asked of vertically managed agencies
    assert narratives.loc[("v_kien_nghi", "CT"), "Nội dung báo cáo"] == ""  # asked, not answered


# --- the master spreadsheet ---------------------------------------------------------------------

UNITS_CSV = "code,name,kind,emails,chat_ids\nSTP,Sở Tư pháp,so_nganh,,\nH_A,UBND huyện A,huyen,,\n"


@pytest.fixture
def ctx(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    context = open_context(home)
    provision(context, context.period("2026-Q1"))
    yield context
    context.close()


def type_and_poll(ctx, code, values):
    period = ctx.period("2026-Q1")
    path = ctx.store.sheet(code, period.id).sheet_id
    type_into(path, build_layout(ctx.schema, ctx.unit_by_code[code], period), values)
    ctx.store.set_poll_mark(code, period.id, None, None)  # forget the last read: the file changed
    poll(ctx, period)


def master_cell(path, tab, label, row_label):
    ws = openpyxl.load_workbook(path)[tab]
    header = next(r for r in ws.iter_rows(min_row=3, max_row=3))
    col = next(c.column for c in header if c.value == label)
    row = next(r for r in ws.iter_rows(min_row=4) if row_label in [c.value for c in r])
    return row[col - 1]


def test_it_writes_one_master_spreadsheet_and_updates_it_in_place(ctx):
    period = ctx.period("2026-Q1")
    type_and_poll(ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 4})
    first = compile(ctx, period)
    type_and_poll(ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 9})
    second = compile(ctx, period)
    assert first == second
    masters = [p for p in (ctx.config.sheets_dir / period.id).iterdir() if p.name.startswith("_master")]
    assert [p.name for p in masters] == ["_master.xlsx"]
    cell = master_cell(masters[0], "Bảng 9. Thực hiện tinh giản", "Số lượng đề nghị", "Toàn tỉnh")
    assert cell.value == 9


def test_it_recomputes_the_totals_of_a_unit_that_changed_and_keeps_the_others(ctx):
    period = ctx.period("2026-Q1")
    type_and_poll(ctx, "STP", {"t_tinh_gian/cong_chuc/de_nghi": 4, "t_tinh_gian/vien_chuc/de_nghi": 1})
    type_and_poll(ctx, "H_A", {"t_tinh_gian/cong_chuc/de_nghi": 10})
    first = gather(ctx, period).tables["t_tinh_gian"]["Số lượng đề nghị"]
    type_and_poll(ctx, "H_A", {"t_tinh_gian/vien_chuc/de_nghi": 5})  # only H_A changed since
    second = gather(ctx, period).tables["t_tinh_gian"]["Số lượng đề nghị"]
    assert (first[("STP", "tong")], first[("H_A", "tong")]) == (5, 10)
    assert (second[("STP", "tong")], second[("H_A", "tong")]) == (5, 15)  # its sheet's own total
    assert second[(PROVINCE, "tong")] == 20


def test_it_never_lets_unit_text_run_as_a_formula_in_the_master_spreadsheet(schema, period, tmp_path):
    reports = [report_for(schema, SO, period, {"v_kien_nghi": "=1+1"})]  # as a cell typed '=1+1 reads
    master = compile_master(schema, [SO], reports, {}, {}, period=period)
    backend = WorkbookBackend(tmp_path)
    ref = backend.allocate("Tổng hợp", {"unit": "_master", "period": period.id})
    backend.lay_out(ref, master_layout(master, period))
    ws = openpyxl.load_workbook(ref.id)["Nội dung"]
    typed = [c for r in ws.iter_rows(min_row=4) for c in r if c.value == "=1+1"]  # shown exactly as typed
    assert len(typed) == 1 and typed[0].data_type == "s"


def test_it_refuses_to_compile_a_period_nobody_has_been_read_for(ctx):
    with pytest.raises(NothingPolled):
        compile(ctx, ctx.period("2026-Q1"))


def test_it_prints_where_the_master_is_and_explains_when_nothing_was_read(ctx, capsys):
    home = str(ctx.config.home)
    assert main(["--home", home, "compile", "--period", "2026-Q1"]) == 2
    assert "python -m bot poll --period 2026-Q1" in capsys.readouterr().err
    poll(ctx, ctx.period("2026-Q1"))
    assert main(["--home", home, "compile", "--period", "2026-Q1"]) == 0
    assert "Đã cập nhật bảng tổng hợp Quý I năm 2026: file://" in capsys.readouterr().out
