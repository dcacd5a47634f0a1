"""The consolidated Word report: the outline's sections, every unit's text, province tables."""

from __future__ import annotations

import docx
import pytest
from docx.shared import Pt

from bot.reporting.export import export
from bot.reporting.master import compile_master
from tests.helpers import HUYEN, NGANH, SO, UNITS, documents_line, report_for, state


@pytest.fixture(scope="module")  # one document, only read by the tests
def report(schema, period, tmp_path_factory):
    reports = [
        report_for(
            schema,
            SO,
            period,
            {
                **documents_line(1, 100, 90),
                "i1_chi_dao": "Sở đã ban hành Kế hoạch số 12/KH-STP.\nTổ chức 2 cuộc họp giao ban.",
                "t_thanh_tra/cchc/don_vi": "Phòng Hành chính tư pháp",
            },
        ),
        report_for(
            schema, HUYEN, period, {**documents_line(1, 10, 1), "i1_chi_dao": "Huyện đã quán triệt kế hoạch."}
        ),
        report_for(schema, NGANH, period, documents_line(1, 1000, 500)),
    ]
    master = compile_master(
        schema, UNITS, reports, [state("STP", "da_duyet")], {}, period=period, province="Tỉnh Lâm Đồng"
    )
    return docx.Document(str(export(master, "docx", tmp_path_factory.mktemp("word") / "bao_cao.docx")))


def texts(document):
    return [p.text for p in document.paragraphs]


def test_it_has_every_section_heading_in_the_outlines_order(report, schema):
    headings = [p.text for p in report.paragraphs if p.style.name.startswith("Heading")]
    expected = []
    for section in schema.sections:
        if section.group and section.group not in expected:
            expected.append(section.group)
        expected.append(section.title)
    assert headings == expected


def test_it_opens_with_the_title_period_and_province(report, schema):
    assert texts(report)[:5] == [
        schema.title,
        schema.subtitle,
        "Kỳ báo cáo: Quý I năm 2026",
        "Tỉnh Lâm Đồng",
        texts(report)[4],
    ]
    assert texts(report)[4].startswith("(Tổng hợp từ báo cáo của 3 đơn vị, trong đó 1 đơn vị đã được duyệt")


def test_it_puts_each_units_narrative_under_its_bold_name(report):
    paragraphs = report.paragraphs
    at = next(i for i, p in enumerate(paragraphs) if p.text == "Sở Tư pháp")
    assert paragraphs[at].style.font.bold  # the "Tên đơn vị" style: bold
    assert [p.text for p in paragraphs[at + 1 : at + 4]] == [
        "Sở đã ban hành Kế hoạch số 12/KH-STP.",
        "Tổ chức 2 cuộc họp giao ban.",
        "UBND huyện A",
    ]
    assert paragraphs[at + 4].text == "Huyện đã quán triệt kế hoạch."
    assert "Cục Thuế tỉnh" not in [p.text for p in paragraphs[at : at + 6]]  # wrote nothing here


def test_it_shows_province_totals_with_recomputed_rates(report):
    table = next(t for t in report.tables if t.rows[0].cells[1].text == "Số văn bản / Tổng")
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert rows[0][0] == "Nội dung" and rows[0][7] == "Tỷ lệ văn bản điện tử/tổng số văn bản"
    assert rows[1][0] == "Tổng (3 dòng của 3 đơn vị)"
    assert (
        rows[1][1] == "1.110" and rows[1][4] == "591" and rows[1][7] == "53,2"
    )  # 591 / 1.110, not the mean 50


def test_it_lists_each_units_entries_in_tables_of_text(report):
    table = next(t for t in report.tables if t.rows[0].cells[0].text == "Đơn vị")
    assert [c.text for c in table.rows[1].cells][:3] == [
        "Sở Tư pháp",
        "Cải cách hành chính",
        "Phòng Hành chính tư pháp",
    ]


def test_it_is_a4_in_times_new_roman_13(report):
    section = report.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert round(section.left_margin.cm, 1) == 3.0
    normal = report.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(13)
    assert report.styles["Heading 1"].font.name == "Times New Roman"
