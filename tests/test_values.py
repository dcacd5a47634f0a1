"""What a clerk types into a cell becomes a typed value or a Vietnamese finding, never a guess."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time

import pytest

from bot.sheets.arithmetic import evaluate_arithmetic, parse_typed_formula
from bot.sheets.parsed import Parsed, format_number
from bot.sheets.values import is_formula, parse_cell

CHOICES = ["Đã hoàn thành", "Đang thực hiện", "Chưa thực hiện"]


def parsed(raw, col_type, choices=None) -> Parsed:
    return parse_cell(raw, col_type, CHOICES if col_type == "choice" and choices is None else choices)


# raw, column type, expected value: every row must parse without a finding.
VALUES = [
    # thousands separators, Vietnamese style
    ("1.234", "count", 1234),
    ("1.234.567", "count", 1234567),
    ("1.234", "decimal", 1234.0),
    ("1.234.567", "decimal", 1234567.0),
    ("1.500", "count", 1500),
    ("1.500", "percent", 1500.0),  # 1500 %: the range rule reports it, not the parser
    ("1.000,00", "count", 1000),
    # decimal comma
    ("1.234,5", "decimal", 1234.5),
    ("12,5", "decimal", 12.5),
    ("12,5", "percent", 12.5),
    ("1.234,5", "percent", 1234.5),
    ("12,50", "decimal", 12.5),
    ("0,500", "decimal", 0.5),
    (",5", "decimal", 0.5),
    ("1234,567", "decimal", 1234.567),
    # English grouping, when both separators make it unambiguous
    ("1,234.5", "decimal", 1234.5),
    ("1,234,567", "count", 1234567),
    ("1,234,567.25", "decimal", 1234567.25),
    # a dot before not-exactly-three digits is a decimal point
    ("1.5", "decimal", 1.5),
    ("1234.5", "decimal", 1234.5),
    ("0.455", "decimal", 0.455),
    ("12.0", "count", 12),
    # percentages
    ("12,5%", "percent", 12.5),
    ("50 %", "percent", 50.0),
    ("50%", "percent", 50.0),
    ("50\u00a0%", "percent", 50.0),
    (45.5, "percent", 45.5),
    (45.5, "percent", 45.5),  # raw numbers are taken as they are (0–100 is the caller's job)
    (50, "percent", 50.0),
    # spaces and text
    (" 7 ", "count", 7),
    ("7", "count", 7),
    ("\t7\n", "count", 7),
    ("1 234", "count", 1234),
    ("1\u00a0234", "count", 1234),
    ("1\u2009234", "count", 1234),
    ("1\u202f234\u202f567", "count", 1234567),
    ("1 234,5", "decimal", 1234.5),
    ("\u200b42\ufeff", "count", 42),
    ("'1234", "count", 1234),
    ("’1.234", "count", 1234),
    ("007", "count", 7),
    # zero and negatives
    ("0", "count", 0),
    (0, "count", 0),
    ("0,0", "decimal", 0.0),
    ("-5", "count", -5),
    ("−5", "count", -5),
    ("- 5", "count", -5),
    ("+5", "count", 5),
    ("-1.234,5", "decimal", -1234.5),
    (-5, "count", -5),
    # raw numbers
    (12, "count", 12),
    (12.0, "count", 12),
    (12.000000000001, "count", 12),
    (12, "decimal", 12.0),
    (2.5, "decimal", 2.5),
    # yes/no
    ("Có", "bool", True),
    ("có", "bool", True),
    ("CÓ", "bool", True),
    ("co", "bool", True),
    ("x", "bool", True),
    ("X", "bool", True),
    ("1", "bool", True),
    (1, "bool", True),
    (True, "bool", True),
    ("Không", "bool", False),
    ("không", "bool", False),
    ("khong", "bool", False),
    ("0", "bool", False),
    (0, "bool", False),
    (False, "bool", False),
    (unicodedata.normalize("NFD", "Không"), "bool", False),
    # choices
    ("Đã hoàn thành", "choice", "Đã hoàn thành"),
    ("  đã   hoàn THÀNH ", "choice", "Đã hoàn thành"),
    (unicodedata.normalize("NFD", "Đang thực hiện"), "choice", "Đang thực hiện"),
    # dates
    (date(2026, 3, 14), "date", date(2026, 3, 14)),
    (datetime(2026, 3, 14, 8, 30), "date", date(2026, 3, 14)),
    ("14/3/2026", "date", date(2026, 3, 14)),
    ("14/03/2026", "date", date(2026, 3, 14)),
    ("14-03-2026", "date", date(2026, 3, 14)),
    ("14.03.2026", "date", date(2026, 3, 14)),
    ("14 / 03 / 2026", "date", date(2026, 3, 14)),
    ("2026-03-14", "date", date(2026, 3, 14)),
    ("2026-03-14T00:00:00", "date", date(2026, 3, 14)),
    ("14/03/2026 08:30", "date", date(2026, 3, 14)),
    ("05/03/2026", "date", date(2026, 3, 5)),
    ("14/3/26", "date", date(2026, 3, 14)),
    ("1/1/99", "date", date(1999, 1, 1)),
    ("ngày 14 tháng 3 năm 2026", "date", date(2026, 3, 14)),
    (46095, "date", date(2026, 3, 14)),
    (46095.75, "date", date(2026, 3, 14)),
    (18264, "date", date(1950, 1, 1)),
    (73050.5, "date", date(2099, 12, 31)),
    ("29/02/2028", "date", date(2028, 2, 29)),
    # text
    ("  Ủy ban nhân dân xã  ", "text", "Ủy ban nhân dân xã"),
    (unicodedata.normalize("NFD", "Thủ tục hành chính"), "text", "Thủ tục hành chính"),
    ("'Một cửa' liên thông", "text", "'Một cửa' liên thông"),
    (912345678, "text", "912345678"),
    (912345678.0, "text", "912345678"),
    (12.5, "text", "12,5"),
    (date(2026, 3, 14), "text", "14/03/2026"),
    (True, "text", "Có"),
]


@pytest.mark.parametrize("raw, col_type, expected", VALUES, ids=[f"{t}:{r!r}" for r, t, _ in VALUES])
def test_it_reads_what_a_clerk_typed_as_a_value(raw, col_type, expected):
    result = parsed(raw, col_type)

    assert result == Parsed(expected)
    assert type(result.value) is type(expected)


def test_it_gives_counts_as_int_and_percent_and_decimal_as_float():
    assert type(parse_cell("1.234", "count").value) is int
    assert type(parse_cell("12", "decimal").value) is float
    assert type(parse_cell(50, "percent").value) is float


def test_it_keeps_text_in_nfc_so_pasted_vietnamese_compares_equal():
    decomposed = unicodedata.normalize("NFD", "Quyết định")

    assert parse_cell(decomposed, "text").value == "Quyết định"
    assert unicodedata.is_normalized("NFC", parse_cell(decomposed, "text").value)


MISSING_INPUTS = [None, "", "   ", "\u00a0", "-", "—", "–", "−", " - ", "---", "\u200b"]
ALL_TYPES = ["count", "percent", "decimal", "text", "date", "bool", "choice"]


@pytest.mark.parametrize("col_type", ALL_TYPES)
@pytest.mark.parametrize("raw", MISSING_INPUTS, ids=repr)
def test_it_reads_blanks_and_dashes_as_missing_not_zero(raw, col_type):
    assert parsed(raw, col_type) == Parsed(None)


@pytest.mark.parametrize("col_type", [t for t in ALL_TYPES if t != "text"])
def test_it_reads_a_lone_text_apostrophe_as_missing_outside_text_columns(col_type):
    assert parsed("'", col_type) == Parsed(None)
    assert parsed("'-", col_type) == Parsed(None)


def test_it_keeps_a_lone_apostrophe_in_text_as_the_clerk_typed_it():
    assert parse_cell("'", "text") == Parsed("'")


@pytest.mark.parametrize("col_type", ALL_TYPES)
@pytest.mark.parametrize("raw", ["=SUM(C5:C9)", "=C5/D5*100", "=IF(A1>0;1;0)"])
def test_it_treats_formulas_as_no_value_and_no_finding(raw, col_type):
    assert is_formula(raw)
    assert parsed(raw, col_type) == Parsed(None)


def test_it_recognises_openpyxl_array_formulas_without_importing_openpyxl():
    class ArrayFormula:  # stand-in with openpyxl's class name
        text = "=SUM(A1:A3*B1:B3)"

    assert is_formula(ArrayFormula())
    assert parse_cell(ArrayFormula(), "count") == Parsed(None)


@pytest.mark.parametrize("raw", [None, 5, 5.0, "5", " =5", "'=5", date(2026, 1, 1)], ids=repr)
def test_it_does_not_take_values_for_formulas(raw):
    assert not is_formula(raw)


# raw, column type, words the finding must contain: every row must give a finding and no value.
FINDINGS = [
    # not a whole number in a count
    ("1.234,5", "count", ['Ô số nguyên nhưng nhập "1.234,5" (có phần thập phân)']),
    ("12,5", "count", ['"12,5"', "phần thập phân"]),
    ("1.5", "count", ['"1.5"', "phần thập phân"]),
    (12.5, "count", ['Ô số nguyên nhưng nhập "12,5" (có phần thập phân)']),
    # a lone comma before three digits: thousands or decimal comma?
    ("1,234", "decimal", ['"1,234" không rõ là 1234 hay 1 phẩy 234', "hãy nhập 1234", "1,2340"]),
    ("1,234", "percent", ['"1,234" không rõ là 1234 hay 1 phẩy 234']),
    ("1,234", "count", ['"1,234" không rõ là 1234 hay 1 phẩy 234', "hãy nhập 1234 (không có dấu phẩy)"]),
    ("-1,234", "decimal", ["-1234 hay -1 phẩy 234"]),
    ("12,345%", "percent", ["12345 hay 12 phẩy 345"]),
    # text where a number is expected
    ("năm", "count", ['"năm" không phải là số', "một số nguyên"]),
    ("khoảng 10", "count", ['"khoảng 10" không phải là số']),
    ("10 văn bản", "count", ['"10 văn bản" không phải là số']),
    ("N/A", "decimal", ['"N/A" không phải là số', "một số"]),
    ("cao", "percent", ["một tỉ lệ phần trăm"]),
    ("không", "count", ["nếu là số không, hãy nhập 0", "để trống"]),
    ("1e5", "count", ['"1e5" không phải là số']),
    # negative in brackets
    ("(5)", "count", ['"(5)" không phải là số', "hãy nhập -5"]),
    ("(1.234)", "decimal", ["hãy nhập -1.234"]),
    # badly grouped digits
    ("1.2.3", "count", ['Không đọc được số "1.2.3"', "dấu chấm tách hàng nghìn"]),
    ("12,", "decimal", ['Không đọc được số "12,"']),
    ("12 34", "count", ['Không đọc được số "12 34"']),
    ("1.234,5.6", "decimal", ["Không đọc được số"]),
    ("--5", "count", ['"--5" không phải là số']),
    # signs that do not belong
    ("50%", "count", ['"50%" là tỉ lệ phần trăm nhưng ô này cần một số nguyên']),
    ("50%", "decimal", ["là tỉ lệ phần trăm"]),
    ("nhiều%", "count", ['"nhiều%" không phải là số']),
    ("cao %", "percent", ['"cao %" không phải là số']),
    ("1,2.3%", "percent", ['Không đọc được số "1,2.3%"']),
    (True, "count", ["Nhận giá trị Có/Không (Có) nhưng ô này cần một số nguyên"]),
    (date(2026, 3, 14), "decimal", ["Nhập ngày 14/03/2026 nhưng ô này cần một số"]),
    (time(8, 30), "count", ['Không đọc được giá trị "08:30:00"']),
    (float("nan"), "decimal", ["không phải là số hữu hạn"]),
    ("#DIV/0!", "percent", ["báo lỗi #DIV/0!"]),
    ("#N/A", "date", ["báo lỗi #N/A"]),
    # yes/no
    ("có lẽ", "bool", ['"có lẽ" không rõ là Có hay Không', "hãy nhập Có hoặc Không"]),
    (2, "bool", ['"2" không rõ là Có hay Không']),
    ("Đã có", "bool", ["Có hay Không"]),
    # choices
    (
        "Xong",
        "choice",
        ['"Xong" không có trong danh sách', '"Đã hoàn thành", "Đang thực hiện", "Chưa thực hiện"'],
    ),
    ("Da hoan thanh", "choice", ["không có trong danh sách"]),
    # dates
    ("03/14/2026", "date", ['Không có ngày "03/14/2026": không có tháng 14', "ngày/tháng/năm"]),
    ("31/02/2026", "date", ["tháng 2 năm 2026 không có ngày 31"]),
    ("29/02/2026", "date", ["không có ngày 29"]),
    ("0/3/2026", "date", ["không có ngày 0"]),
    ("hôm qua", "date", ['"hôm qua" không phải là ngày', "ví dụ 14/03/2026"]),
    ("14/03", "date", ["không phải là ngày"]),
    ("14/03-2026", "date", ["không phải là ngày"]),
    ("46095", "date", ['"46095" không phải là ngày']),
    (2026, "date", ['"2026" không phải là ngày']),
    (5_000_000, "date", ["không phải là ngày"]),
    (18263, "date", ['"18263" không phải là ngày']),
    (73051, "date", ['"73051" không phải là ngày']),
    (True, "date", ["không phải là ngày"]),
]


@pytest.mark.parametrize("raw, col_type, phrases", FINDINGS, ids=[f"{t}:{r!r}" for r, t, _ in FINDINGS])
def test_it_reports_a_finding_instead_of_guessing(raw, col_type, phrases):
    result = parsed(raw, col_type)

    assert result.value is None
    assert result.problem is not None
    for phrase in phrases:
        assert phrase in result.problem


@pytest.mark.parametrize("raw, col_type, _", FINDINGS, ids=[f"{t}:{r!r}" for r, t, _ in FINDINGS])
def test_it_words_findings_as_one_short_vietnamese_sentence(raw, col_type, _):
    problem = parsed(raw, col_type).problem

    assert "\n" not in problem
    assert len(problem) <= 200
    assert unicodedata.is_normalized("NFC", problem)


def test_it_shows_long_text_shortened_in_a_finding():
    problem = parse_cell("rất nhiều " * 30, "count").problem

    assert "…" in problem
    assert len(problem) < 150


def test_it_refuses_unknown_column_types_and_choice_columns_without_choices():
    with pytest.raises(ValueError):
        parse_cell("5", "money")
    with pytest.raises(ValueError):
        parse_cell("Đã hoàn thành", "choice", None)


FORMATTED = [
    (45.5, 1, "45,5"),
    (1234, 1, "1.234"),
    (1234.5, 1, "1.234,5"),
    (50.0, 1, "50"),
    (0, 1, "0"),
    (1234567.891, 2, "1.234.567,89"),
    (45.55, 1, "45,6"),  # half up, on the decimal digits shown (not binary 45.549999…)
    (2.25, 1, "2,3"),
    (-1234.5, 1, "-1.234,5"),
    (-0.04, 1, "0"),
    (12.34, 0, "12"),
    (0.1 + 0.2, 6, "0,3"),
]


@pytest.mark.parametrize("value, decimals, expected", FORMATTED, ids=[repr(v) for v, _, _ in FORMATTED])
def test_it_formats_numbers_the_vietnamese_way(value, decimals, expected):
    assert format_number(value, decimals) == expected


def test_it_formats_with_one_decimal_by_default():
    assert format_number(2 / 3) == "0,7"


@pytest.mark.parametrize("text", ["45,5", "1.234", "1.234,5", "50", "-1.234.567,25"])
def test_it_reads_back_what_it_formats(text):
    assert format_number(parse_cell(text, "decimal").value, decimals=2) == text


# --- bounds, typed formulas, debatable inputs (issue 9, items 17, 20, 25) --------------------


@pytest.mark.parametrize(
    "raw",
    ["9" * 400, "9" * 4300, 10**400, 10**4400 // 7, 1e20, "1.000.000.000.001"],
    ids=["400 digits", "4300 digits", "10^400", "4400 digits", "1e20", "10^12 + 1"],
)
def test_it_reports_a_count_too_large_to_be_one_at_its_cell_instead_of_reading_it(raw):
    result = parsed(raw, "count")
    assert result.value is None and ("quá lớn" in result.problem or "quá dài" in result.problem)


def test_it_reads_a_count_up_to_a_million_millions():
    assert parsed("1.000.000.000.000", "count") == Parsed(10**12)


def test_it_reports_a_decimal_beyond_what_a_spreadsheet_holds():
    assert parsed(1e16, "decimal").problem and parsed(10**400, "percent").problem
    assert parsed(1e14, "decimal") == Parsed(1e14)


def test_it_takes_a_telephone_number_in_a_count_for_what_it_is():
    result = parsed("+84912345678", "count")
    assert result.value is None and "số điện thoại" in result.problem
    assert parsed("+5", "count") == Parsed(5)


def test_it_keeps_a_fraction_typed_in_a_percent_cell_but_asks_whether_a_hundred_times_more_was_meant():
    result = parsed(0.5, "percent")
    assert result.value == 0.5 and result.problem is None
    assert "50" in result.warning
    assert parsed(0, "percent") == Parsed(0.0) and parsed(1, "percent") == Parsed(1.0)


@pytest.mark.parametrize(
    "formula, col_type, expected",
    [
        ("=12+3", "count", 15),
        ("=(10-2)*1.5", "decimal", 12.0),
        ("= 4 / 2 ", "count", 2),
        ("=-3+5", "count", 2),
    ],
)
def test_it_computes_plain_arithmetic_a_clerk_typed_as_a_formula(formula, col_type, expected):
    assert parse_typed_formula(formula, col_type) == Parsed(expected)


@pytest.mark.parametrize(
    "formula", ["=B5+C5", "=SUM(1,2)", "=1/0", "=2*", "=__import__('os')", "=1e400", "=(" * 150 + "1"]
)
def test_it_asks_for_a_number_instead_of_a_formula_it_cannot_safely_compute(formula):
    result = parse_typed_formula(formula, "count")
    assert result.value is None and "nhập số, không nhập công thức" in result.problem


def test_it_asks_for_text_instead_of_a_formula_in_a_text_cell():
    result = parse_typed_formula("=A1&B1", "text")
    assert result.value is None and "không nhập công thức" in result.problem


def test_it_never_evaluates_arithmetic_beyond_numbers_and_the_four_operations():
    assert evaluate_arithmetic("=2**10") is None and evaluate_arithmetic("=1;2") is None
