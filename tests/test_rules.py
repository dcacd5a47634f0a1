"""The consistency rules, checked on workbooks provisioned from the real outline and typed into."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.checks.report import Report, report_from_document
from bot.checks.rules import derived_values, evaluate, evaluate_history
from bot.outline.layout import build_layout
from bot.outline.periods import parse_period
from bot.outline.schema import parse_schema
from bot.outline.units import Unit
from bot.sheets.backends.workbook import WorkbookBackend
from bot.sheets.document import extract
from tests.helpers import REPO, type_into

T14 = "t_van_ban_dien_tu/don_vi"


class Sheet:
    """One provisioned workbook: type into it by field key, read it back, check it."""

    _templates: dict[tuple, tuple] = {}  # (unit, kind, period) → (fresh workbook, layout), per run

    def __init__(self, schema, root, unit: Unit, period_id: str, templates):
        self.schema = schema
        self.kind = unit.kind
        self.backend = WorkbookBackend(root)
        template, self.layout = self._template(schema, templates, unit, period_id)
        self.ref = self.backend.allocate(self.layout.title, {"unit": unit.code, "period": period_id})
        shutil.copy(template, self.ref.id)  # provisioning is slow; a copy of a fresh one is the same
        self._read = None

    @classmethod
    def _template(cls, schema, templates, unit: Unit, period_id: str):
        key = (unit.code, unit.kind, period_id)
        if key not in cls._templates or not Path(cls._templates[key][0]).exists():
            backend = WorkbookBackend(templates)
            layout = build_layout(schema, unit, parse_period(period_id, schema))
            ref = backend.allocate(layout.title, {"unit": unit.code, "period": period_id})
            backend.lay_out(ref, layout)
            cls._templates[key] = (ref.id, layout)
        return cls._templates[key]

    def fill(self, values: dict) -> Sheet:
        type_into(self.ref.id, self.layout, values)
        self._read = None
        return self

    def read(self) -> tuple[Report, list]:
        if self._read is None:
            doc = extract(self.layout, self.backend.read(self.ref))
            self._read = report_from_document(doc, self.schema, self.kind)
        return self._read

    def findings(self, schema=None) -> list:
        report, read_findings = self.read()
        return read_findings + evaluate(schema or self.schema, [report], read_findings)

    def found(self, schema=None) -> set[tuple[str, str]]:
        """(rule, cell) of every finding but the ones about empty required cells."""
        return {(f.rule, f.cell) for f in self.findings(schema) if f.rule not in required_rules(self.schema)}

    def cell(self, key: str) -> str:
        spec = self.layout.fields[key]
        return f"'{spec.tab}'!{spec.a1}"


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def stp(schema, tmp_path, templates):
    return Sheet(schema, tmp_path, Unit("STP", "Sở Tư pháp", "so_nganh"), "2026-Q1", templates)


@pytest.fixture
def district(schema, tmp_path, templates):
    return Sheet(schema, tmp_path, Unit("H_PHULOC", "UBND huyện Phú Lộc", "huyen"), "2026-6T", templates)


def required_rules(schema) -> set[str]:
    return {r.id for t in schema.tables for r in t.rules if r.kind == "required"}


def e_documents(
    line: int, total, sent, received, e_total=None, e_sent=None, e_received=None, label="Văn phòng Sở"
):
    values = {
        f"{T14}[{line}]/_label": label,
        f"{T14}[{line}]/vb_tong": total,
        f"{T14}[{line}]/vb_gui": sent,
        f"{T14}[{line}]/vb_nhan": received,
    }
    if e_total is not None:
        values.update(
            {
                f"{T14}[{line}]/vbdt_tong": e_total,
                f"{T14}[{line}]/vbdt_gui": e_sent,
                f"{T14}[{line}]/vbdt_nhan": e_received,
            }
        )
    return values


def modified_schema(table_id: str, rule_id: str, **changes):
    raw = json.loads((REPO / "sheets_schema.json").read_text(encoding="utf-8"))
    for section in raw["sections"]:
        for part in section["parts"]:
            if part.get("id") == table_id:
                for rule in part["rules"]:
                    if rule["id"] == rule_id:
                        rule.update(changes)
    return parse_schema(raw)


# --- sum --------------------------------------------------------------------------------


def test_it_accepts_a_column_total_that_adds_up(stp):
    stp.fill(e_documents(1, 200, 120, 80))
    assert stp.found() == set()


def test_it_reports_a_column_total_that_does_not_add_up_with_the_expected_sum(stp):
    stp.fill(e_documents(2, 10, 4, 5, label="Phòng Hành chính tư pháp"))
    [finding] = [f for f in stp.findings() if f.rule == "r14_vb_tong"]
    assert finding.cell == stp.cell(f"{T14}[2]/vb_tong")
    assert finding.expected == 9 and dict(finding.values) == {"value": 10, "expected": 9}
    assert finding.message == (
        'Cột (3) Bảng 14, dòng "danh sách dòng 2 (Phòng Hành chính tư pháp)", cột "Số văn bản / Tổng" '
        "phải bằng Cột (4) + Cột (5) = 9, đang là 10"
    )
    assert (finding.table, finding.row, finding.column) == ("t_van_ban_dien_tu", "don_vi[2]", "vb_tong")
    assert finding.table_label.startswith("Bảng 14. ") and finding.column_label == "Số văn bản / Tổng"


def test_it_reports_a_total_typed_over_its_formula_once(stp):
    stp.fill(
        e_documents(1, 200, 120, 80)
        | e_documents(2, 100, 40, 60, label="Phòng B")
        | {"t_van_ban_dien_tu/tong/vb_tong": 250}
    )
    assert stp.found() == {("r14_tong", stp.cell("t_van_ban_dien_tu/tong/vb_tong"))}
    [finding] = [f for f in stp.findings() if f.rule == "r14_tong"]
    assert finding.expected == 300 and "= 300, đang là 250" in finding.message


def test_it_checks_a_row_sum_across_rows(stp):
    rows = "t_quan_ly_cbccvc/{}/q1"
    stp.fill(
        {
            rows.format("tuyen_dung"): 5,
            rows.format("tuyen_dung_cong_chuc"): 2,
            rows.format("tuyen_dung_vien_chuc"): 2,
        }
    )
    assert stp.found() == {("r10_tuyen_dung", stp.cell(rows.format("tuyen_dung")))}


# --- ratio ------------------------------------------------------------------------------


def test_it_accepts_a_rate_typed_by_hand_that_agrees_with_its_parts(stp):
    stp.fill(e_documents(1, 200, 120, 80, 91, 41, 50) | {f"{T14}[1]/ty_le_vbdt": "45,5"})
    assert stp.found() == set()


def test_it_reports_a_rate_typed_by_hand_that_disagrees_with_its_parts(stp):
    stp.fill(e_documents(1, 200, 120, 80, 91, 41, 50) | {f"{T14}[1]/ty_le_vbdt": 50})
    [finding] = [f for f in stp.findings() if f.rule == "r14_ty_le_vbdt"]
    assert finding.message == "Tỷ lệ văn bản điện tử phải bằng 45,5 (= 91 / 200 × 100), đang là 50"
    assert finding.cell == stp.cell(f"{T14}[1]/ty_le_vbdt") and finding.expected == 45.5


def test_it_computes_a_rate_that_still_holds_its_formula_and_raises_nothing_on_it(stp, schema):
    stp.fill(e_documents(1, 200, 120, 80, 91, 41, 50))
    report, _ = stp.read()
    assert f"{T14}[1]/ty_le_vbdt" in report.formulas
    assert derived_values(schema, [report])["STP"][f"{T14}[1]/ty_le_vbdt"] == 45.5
    assert stp.found() == set()


def test_it_recomputes_a_total_rate_from_summed_parts_not_by_adding_rates(stp, schema):
    stp.fill(e_documents(1, 3, 1, 2, 1, 1, 0) | e_documents(2, 1, 1, 0, 1, 1, 0, label="Phòng B"))
    report, _ = stp.read()
    derived = derived_values(schema, [report])["STP"]
    assert derived[f"{T14}[1]/ty_le_vbdt"] == 33.3 and derived[f"{T14}[2]/ty_le_vbdt"] == 100
    assert derived["t_van_ban_dien_tu/tong/vb_tong"] == 4 and derived["t_van_ban_dien_tu/tong/vbdt_tong"] == 2
    assert derived["t_van_ban_dien_tu/tong/ty_le_vbdt"] == 50
    assert derived["t_van_ban_dien_tu/tong/ty_le_ccvc"] is None  # nothing to divide by


def test_it_checks_a_total_rate_typed_by_hand_against_the_summed_parts(stp):
    stp.fill(
        e_documents(1, 3, 1, 2, 1, 1, 0)
        | e_documents(2, 1, 1, 0, 1, 1, 0, label="Phòng B")
        | {"t_van_ban_dien_tu/tong/ty_le_vbdt": 133.3}
    )
    [finding] = [f for f in stp.findings() if f.rule == "r14_ty_le_vbdt"]
    assert finding.cell == stp.cell("t_van_ban_dien_tu/tong/ty_le_vbdt") and finding.expected == 50


def test_it_reports_a_filled_rate_whose_denominator_is_zero(stp):
    rate = "t_tinh_gian/cong_chuc/ty_le"
    stp.fill({"t_tinh_gian/cong_chuc/de_nghi": 0, "t_tinh_gian/cong_chuc/phe_duyet": 0, rate: 5})
    [finding] = [f for f in stp.findings() if f.rule == "r9_ty_le"]
    assert finding.cell == stp.cell(rate)
    assert "bằng 0 nên không tính được tỷ lệ" in finding.message and '"Số lượng đề nghị"' in finding.message


def test_it_accepts_an_empty_rate_whose_denominator_is_zero(stp, schema):
    stp.fill({"t_tinh_gian/cong_chuc/de_nghi": 0, "t_tinh_gian/cong_chuc/phe_duyet": 0})
    assert stp.found() == set()
    report, _ = stp.read()
    assert derived_values(schema, [report])["STP"]["t_tinh_gian/cong_chuc/ty_le"] is None
    stp.fill({"t_tinh_gian/cong_chuc/ty_le": None})  # a clerk who also clears the formula
    assert stp.found() == set()


# --- le / ge ----------------------------------------------------------------------------


def test_it_reports_more_e_documents_than_documents(stp):
    stp.fill(e_documents(1, 50, 20, 30, 60, 20, 40))
    [finding] = [f for f in stp.findings() if f.rule == "r14_vbdt_le_vb"]
    assert finding.cell == stp.cell(f"{T14}[1]/vbdt_tong")
    assert finding.message == "Số văn bản điện tử (60) không được lớn hơn tổng số văn bản (50)"
    # the computed rate of 120 is not blamed; the received e-documents exceed the received ones
    assert stp.found() == {
        ("r14_vbdt_le_vb", finding.cell),
        ("r14_vbdt_nhan_le", stp.cell(f"{T14}[1]/vbdt_nhan")),
    }


def test_it_reports_more_e_documents_sent_or_received_than_documents_sent_or_received(stp):
    stp.fill(e_documents(1, 50, 20, 30, 50, 25, 25))
    [finding] = [f for f in stp.findings() if f.rule == "r14_vbdt_gui_le"]
    assert stp.found() == {("r14_vbdt_gui_le", stp.cell(f"{T14}[1]/vbdt_gui"))}
    assert finding.message.startswith("Cột (7) Bảng 14, dòng ")
    assert finding.message.endswith(
        "số văn bản điện tử gửi đi (25) không được lớn hơn số văn bản gửi đi ở Cột (4) (20)"
    )
    stp.fill(e_documents(1, 50, 20, 30, 50, 15, 35))
    assert stp.found() == {("r14_vbdt_nhan_le", stp.cell(f"{T14}[1]/vbdt_nhan"))}


def test_it_reports_a_training_group_smaller_than_one_of_its_sub_rows(district):
    group, sub = "t_dao_tao/cong_chuc_hc/{}", "t_dao_tao/cong_chuc_hc_trung_cap/{}"
    district.fill({group.format("q1"): 3, group.format("m6"): 6, sub.format("q1"): 2, sub.format("m6"): 7})
    assert district.found() == {("r11_cong_chuc_hc_trung_cap_le_nhom", district.cell(group.format("m6")))}
    district.fill({sub.format("m6"): 6})
    assert district.found() == set()


def test_it_accepts_as_many_e_documents_as_documents(stp):
    stp.fill(e_documents(1, 50, 20, 30, 50, 20, 30))
    assert stp.found() == set()


def test_it_reports_fewer_received_files_than_level_3_and_4_files(stp):
    line = "t_dvc_truc_tuyen/thu_tuc[1]"
    stp.fill(
        {
            f"{line}/_label": "Cấp phiếu lý lịch tư pháp",
            f"{line}/hs_tiep_nhan": 10,
            f"{line}/hs_muc_3": 6,
            f"{line}/hs_muc_4": 5,
        }
    )
    assert stp.found() == {("r16_tiep_nhan_ge", stp.cell(f"{line}/hs_tiep_nhan"))}
    stp.fill({f"{line}/hs_tiep_nhan": 11})
    assert stp.found() == set()


def test_it_gives_warnings_their_own_severity(stp):
    stp.fill({"t_bien_che/bien_che/giao_bien_che": 40, "t_bien_che/bien_che/thuc_hien_bien_che": 41})
    [finding] = [f for f in stp.findings() if f.rule == "r8_bien_che_le_giao"]
    assert finding.severity == "warning"


# --- range ------------------------------------------------------------------------------


def test_it_reports_a_percentage_of_120_by_the_global_rule(stp):
    stp.fill({"t_chu_ky_so/lanh_dao_ky_so/ty_le": 120, "t_chu_ky_so/ky_so_ban_co_yeu/ty_le": 100})
    [finding] = [f for f in stp.findings() if f.rule == "percent_0_100"]
    assert finding.cell == stp.cell("t_chu_ky_so/lanh_dao_ky_so/ty_le")
    assert finding.message.endswith("phải nằm trong khoảng 0–100, đang là 120")


def test_it_reports_a_negative_count_by_the_global_rule(stp):
    stp.fill({"t_kiem_tra_ra_soat/kiem_tra/so_vb": -3, "t_kiem_tra_ra_soat/ra_soat/so_vb": 0})
    assert stp.found() == {("count_non_negative", stp.cell("t_kiem_tra_ra_soat/kiem_tra/so_vb"))}


def test_it_applies_a_tables_own_range_to_decimal_rates(district):
    rate = "t_cap_xa/can_bo_ty_le/q1"
    district.fill({rate: 120, "t_cap_xa/can_bo_ty_le/m6": 95.5})
    [finding] = [f for f in district.findings() if f.rule == "r12_can_bo_ty_le"]
    assert finding.cell == district.cell(rate)
    assert finding.message == (
        'Bảng 12, dòng "Tỷ lệ đạt chuẩn", cột "Năm báo cáo / Quí I" (tỷ lệ cán bộ cấp xã đạt chuẩn) '
        "phải nằm trong khoảng 0–100, đang là 120"
    )


# --- required ---------------------------------------------------------------------------


def test_it_reports_each_missing_required_cell(stp):
    stp.fill({"t_to_chuc_bo_may/phong_ban/bao_cao": 4})
    missing = [f for f in stp.findings() if f.rule == "r7_required"]
    assert [f.cell for f in missing] == [stp.cell("t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao")]
    assert missing[0].message.startswith('Chưa nhập Bảng 7, dòng "2. Số đơn vị sự nghiệp')


def test_it_does_not_ask_for_periods_not_reported_yet(stp):
    rules = {f.rule for f in stp.findings()}
    assert "r10_required_q1" in rules
    assert not rules & {"r10_required_q2", "r10_required_q3", "r10_required_nam", "r11_required_m6"}


def test_it_asks_for_one_line_of_a_list_and_is_satisfied_by_any_line(stp):
    [finding] = [f for f in stp.findings() if f.rule == "r14_required"]
    assert finding.cell == stp.cell(f"{T14}[1]/vb_tong")
    stp.fill(e_documents(3, 10, 4, 6))
    assert "r14_required" not in {f.rule for f in stp.findings()}


def test_it_keeps_the_declared_severity_of_a_required_rule(stp):
    [finding] = [f for f in stp.findings() if f.rule == "r1_required"]
    assert finding.severity == "warning"
    stp.fill({"t_thanh_tra/cchc/don_vi": "Không"})
    assert "r1_required" not in {f.rule for f in stp.findings()}


# --- monotone ---------------------------------------------------------------------------


def test_it_reports_a_cumulative_figure_smaller_than_the_period_before(district):
    row = "t_dao_tao/cong_chuc_hc/{}"
    district.fill({row.format("q1"): 5, row.format("m6"): 3})
    assert district.found() == {("r11_luy_ke", district.cell(row.format("m6")))}
    [finding] = [f for f in district.findings() if f.rule == "r11_luy_ke"]
    assert finding.message.endswith("số liệu lũy kế (3) không được nhỏ hơn số của kỳ trước đó (5)")


@pytest.fixture
def district_9t(schema, tmp_path, templates):
    return Sheet(schema, tmp_path, Unit("H_PHULOC", "UBND huyện Phú Lộc", "huyen"), "2026-9T", templates)


def test_it_only_warns_when_quarter_iii_of_table_11_is_below_six_months(district_9t):
    """Table 11's "Quí III" may be the third quarter alone: a correct report must get no error."""
    row = "t_dao_tao/cong_chuc_hc/{}"
    district_9t.fill({row.format("q1"): 5, row.format("m6"): 8, row.format("q3"): 3})
    findings = [f for f in district_9t.findings() if f.rule not in required_rules(district_9t.schema)]
    assert [(f.rule, f.severity, f.cell) for f in findings] == [
        ("r11_quy_iii_luy_ke", "warning", district_9t.cell(row.format("q3")))
    ]


def test_it_accepts_quarters_of_table_10_that_add_up_to_less_than_the_year_alone(district_9t):
    row = "t_quan_ly_cbccvc/bo_nhiem_moi/{}"
    district_9t.fill({row.format("q1"): 2, row.format("q2"): 1, row.format("q3"): 1})
    assert district_9t.found() == set()


def test_it_accepts_cumulative_figures_that_grow(district):
    row = "t_dao_tao/cong_chuc_hc/{}"
    district.fill(
        {row.format("q1"): 3, row.format("m6"): 3, "t_dao_tao/vien_chuc/q1": 0, "t_dao_tao/vien_chuc/m6": 4}
    )
    assert district.found() == set()


# --- missing values ---------------------------------------------------------------------


def test_it_skips_a_rule_when_an_operand_is_empty_by_default(stp):
    stp.fill({f"{T14}[1]/_label": "Văn phòng Sở", f"{T14}[1]/vb_tong": 10, f"{T14}[1]/vb_gui": 4})
    assert stp.found() == set()


def test_it_counts_empty_operands_as_zero_when_a_rule_never_skips(stp):
    schema = modified_schema("t_van_ban_dien_tu", "r14_vb_tong", missing="never_skip")
    stp.fill({f"{T14}[1]/_label": "Văn phòng Sở", f"{T14}[1]/vb_tong": 10, f"{T14}[1]/vb_gui": 4})
    [finding] = [f for f in stp.findings(schema) if f.rule == "r14_vb_tong"]
    assert finding.expected == 4 and finding.cell == stp.cell(f"{T14}[1]/vb_tong")


def test_it_skips_only_when_every_operand_is_empty_with_skip_if_all(stp):
    schema = modified_schema("t_van_ban_dien_tu", "r14_vb_tong", missing="skip_if_all")
    stp.fill(
        e_documents(1, 200, 120, 80) | {f"{T14}[2]/_label": "Phòng B", f"{T14}[2]/ghi_chu": "chưa có số liệu"}
    )
    assert stp.found(schema) == set()
    stp.fill({f"{T14}[2]/vb_gui": 4})
    [finding] = [f for f in stp.findings(schema) if f.rule == "r14_vb_tong"]
    assert finding.cell == stp.cell(f"{T14}[2]/vb_tong")
    assert finding.expected == 4 and dict(finding.values)["value"] is None
    assert finding.message.endswith("= 4, đang là (để trống)")


# --- many units, unreadable parts -------------------------------------------------------


def test_it_evaluates_all_units_of_a_period_in_one_call(stp, schema, tmp_path, templates):
    other = Sheet(schema, tmp_path, Unit("STC", "Sở Tài chính", "so_nganh"), "2026-Q1", templates)
    stp.fill(e_documents(1, 10, 4, 5))
    other.fill(e_documents(1, 50, 20, 30, 60, 20, 40))
    reports = [stp.read()[0], other.read()[0]]
    found = {(f.unit, f.rule) for f in evaluate(schema, reports) if f.rule not in required_rules(schema)}
    assert found == {("STP", "r14_vb_tong"), ("STC", "r14_vbdt_le_vb"), ("STC", "r14_vbdt_nhan_le")}


def test_it_raises_nothing_on_a_table_that_could_not_be_read(stp, schema):
    stp.fill(e_documents(1, 10, 4, 5))
    report, _ = stp.read()
    report.unreadable.add("t_van_ban_dien_tu")
    assert not [f for f in evaluate(schema, [report]) if f.table == "t_van_ban_dien_tu"]


def test_it_leaves_an_unparseable_cell_to_the_reader(stp):
    stp.fill({"t_to_chuc_bo_may/phong_ban/bao_cao": "mười", "t_to_chuc_bo_may/don_vi_su_nghiep/bao_cao": 2})
    cell = stp.cell("t_to_chuc_bo_may/phong_ban/bao_cao")
    assert [f.rule for f in stp.findings() if f.cell == cell] == ["parse"]


# --- history ----------------------------------------------------------------------------


def history_report(period: str, values: dict, unit: str = "STP") -> Report:
    return Report(unit, "so_nganh", period, values=dict(values), cells={k: f"'Tab'!{k}" for k in values})


def test_it_warns_when_a_figure_already_reported_goes_down(schema):
    key = "t_dao_tao/cong_chuc_hc/q1"
    previous = {"STP": [history_report("2026-Q1", {key: 5})]}
    [finding] = evaluate_history(schema, [history_report("2026-6T", {key: 4})], previous)
    assert (finding.rule, finding.severity, finding.cell) == ("history_decrease", "warning", f"'Tab'!{key}")
    assert "kỳ này báo cáo 4, nhỏ hơn số đã báo cáo ở kỳ trước (5)" in finding.message
    assert evaluate_history(schema, [history_report("2026-6T", {key: 6})], previous) == []


def test_it_compares_period_columns_only_within_a_year(schema):
    key = "t_dao_tao/cong_chuc_hc/q1"
    previous = {"STP": [history_report("2025-N", {key: 50})]}
    assert evaluate_history(schema, [history_report("2026-Q1", {key: 4})], previous) == []


def test_it_warns_about_a_value_far_outside_the_units_history_by_z_score(schema):
    key = "t_to_chuc_bo_may/phong_ban/bao_cao"
    previous = {
        "STP": [
            history_report(p, {key: v})
            for p, v in (("2025-Q1", 10), ("2025-6T", 11), ("2025-9T", 12), ("2025-N", 11))
        ]
    }
    [finding] = evaluate_history(schema, [history_report("2026-Q1", {key: 25})], previous)
    assert finding.rule == "history_outlier" and "khác xa số liệu các kỳ trước" in finding.message
    assert evaluate_history(schema, [history_report("2026-Q1", {key: 12})], previous) == []


def test_it_warns_about_a_tenfold_jump_with_a_short_history(schema):
    key = "t_to_chuc_bo_may/phong_ban/bao_cao"
    previous = {"STP": [history_report("2025-N", {key: 5})]}
    assert [f.rule for f in evaluate_history(schema, [history_report("2026-Q1", {key: 51})], previous)] == [
        "history_outlier"
    ]
    assert evaluate_history(schema, [history_report("2026-Q1", {key: 40})], previous) == []
    assert evaluate_history(schema, [history_report("2026-Q1", {key: 5})], {}) == []


def schema_with_history_checks(**checks):
    raw = json.loads((REPO / "sheets_schema.json").read_text(encoding="utf-8"))
    for check, limits in checks.items():
        raw["history_checks"][check].update(limits)
    return parse_schema(raw)


def test_it_takes_the_outlier_thresholds_from_the_schema():
    key = "t_to_chuc_bo_may/phong_ban/bao_cao"
    short = {"STP": [history_report("2025-N", {key: 5})]}
    wider = schema_with_history_checks(outlier={"factor_limit": 20})
    assert evaluate_history(wider, [history_report("2026-Q1", {key: 51})], short) == []
    assert [f.rule for f in evaluate_history(wider, [history_report("2026-Q1", {key: 101})], short)] == [
        "history_outlier"
    ]
    long = {
        "STP": [
            history_report(p, {key: v})
            for p, v in (("2025-Q1", 10), ("2025-6T", 11), ("2025-9T", 12), ("2025-N", 11))
        ]
    }
    assert (
        evaluate_history(
            schema_with_history_checks(outlier={"z_limit": 20}), [history_report("2026-Q1", {key: 25})], long
        )
        == []
    )
    by_factor = schema_with_history_checks(
        outlier={"min_history_for_z": 5}
    )  # four values: the factor rule applies
    assert evaluate_history(by_factor, [history_report("2026-Q1", {key: 25})], long) == []


def test_it_lets_the_schema_tolerate_a_small_decrease():
    key = "t_dao_tao/cong_chuc_hc/q1"
    tolerant = schema_with_history_checks(decrease={"min_drop": 1})
    previous = {"STP": [history_report("2026-Q1", {key: 5})]}
    assert evaluate_history(tolerant, [history_report("2026-6T", {key: 4})], previous) == []
    assert [f.rule for f in evaluate_history(tolerant, [history_report("2026-6T", {key: 3})], previous)] == [
        "history_decrease"
    ]
