"""What a clerk typed into a cell, turned into a typed value or a finding — never a silent guess.

Pure functions: no spreadsheet library is imported. ``raw`` is whatever a backend hands over:
None, int, float, bool, ``datetime``/``date`` (openpyxl), or str (typed text, numbers stored as
text, Google's unformatted values). Column types are those of :mod:`bot.outline.schema`.

Conventions, all Vietnamese:

* Numbers: "." groups thousands and "," is the decimal comma ("1.234,5" is 1234.5). A lone
  separator followed by exactly three digits after a short leading group is a thousands
  separator when it is "." ("1.500" is 1500) and ambiguous when it is "," ("1,234" is reported,
  not guessed). Any other lone separator is a decimal one ("12,5", "1.5"). When both appear,
  the last one is the decimal separator ("1,234.5" is 1234.5). Spaces of any width may group
  thousands ("1 234"). A leading apostrophe (Excel's "store as text") is ignored.
* Missing: empty text, whitespace and dashes ("-", "–", "—") are missing (None), never 0.
* Percentages are stored 0–100. A raw number is taken as it is — a backend that reads a cell
  formatted as a percentage (where 45,5 % is stored as 0.455) must scale it before calling
  :func:`parse_cell` — and a "45,5%" string is taken as its number, 45.5.
* Dates are day first ("05/03/2026" is 5 March): read in :mod:`bot.sheets.dates`.
* Formulas (strings starting with "=") are not values: :func:`parse_cell` parses them to missing
  without a finding (a computed cell holds the template's formula). A formula a clerk typed into
  an input cell goes through :func:`bot.sheets.arithmetic.parse_typed_formula` instead: plain
  arithmetic on numbers ("=12+3", "=(10-2)*1.5") is computed by a small parser (never ``eval``)
  and read as if the result had been typed; anything else (cell references, functions) is a
  finding at its cell.
* Bounds: a count above 10^12 and any number above 10^15 in absolute value (the limit of the
  template's data validation and of a spreadsheet's 15 significant digits) is a finding, not a
  value: "1e20" is not a headcount, and a 400-digit number must not reach the rules as an int
  that no float can hold. A count typed as "+" followed by nine or more digits
  ("+84912345678") is a telephone number typed in the wrong cell: a finding as well.
* Percent cells: a number strictly between 0 and 1 (0,5) is read as it is (0,5 %), with a
  warning asking whether 50 % was meant: a percentage typed as a fraction would otherwise be a
  hundred times too small without anyone noticing, and a real rate below 1 % is possible.

Findings are short Vietnamese sentences that say what was found and what is expected; the
caller adds the table, row, column and cell.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from bot.outline.schema import COLUMN_TYPES
from bot.sheets.dates import parse_date
from bot.sheets.parsed import MISSING, Parsed, _shown, format_number

# What a numeric column expects, for the end of a finding.
_EXPECTED = {
    "count": "một số nguyên, ví dụ 12",
    "decimal": "một số, ví dụ 12,5",
    "percent": "một tỉ lệ phần trăm, ví dụ 45,5",
}

_DASHES = re.compile(r"[-‐‑‒–—―−]+")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_EDGES = re.compile(rf"^[\s{_INVISIBLE}]+|[\s{_INVISIBLE}]+$")
_APOSTROPHES = "'‘’"
_SPREADSHEET_ERRORS = {
    "#NULL!",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#SPILL!",
    "#CALC!",
    "#GETTING_DATA",
    "#ERROR!",
}
_ZERO_WORDS = {"không", "khong", "ko"}

_TRUE_WORDS = {"có", "co", "x", "✓", "✔", "1", "đúng", "true"}
_FALSE_WORDS = {"không", "khong", "ko", "0", "sai", "false"}

MAX_COUNT = Decimal(10) ** 12
MAX_NUMBER = Decimal(10) ** 15
MAX_DIGITS = 40  # longer digit strings are refused before Decimal or int ever sees them
# What a spreadsheet program takes for the start of a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class Text(str):
    """Text the spreadsheet stores as text although it begins with "=" (a clerk typed '=…):
    backends that can tell return it as this type, so it is read as text, not as a formula."""


def is_formula(raw) -> bool:
    """Whether ``raw`` is a formula rather than a value (openpyxl array formulas included)."""
    if isinstance(raw, Text):
        return False
    if isinstance(raw, str):
        return raw.startswith("=")
    # openpyxl's formula objects, recognised by name to keep this module free of openpyxl
    return type(raw).__name__ in ("ArrayFormula", "DataTableFormula")


def is_formula_like(value) -> bool:
    """Text a spreadsheet program would take for a formula (OWASP CSV injection)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def quote_formula_like(value):
    """OWASP's defence: a single quote before text that would start a formula."""
    return "'" + value if is_formula_like(value) else value


def unquote_formula_like(value):
    """The text :func:`quote_formula_like` quoted, for a writer that stores text as text anyway."""
    if isinstance(value, str) and value.startswith("'") and is_formula_like(value[1:]):
        return value[1:]
    return value


def parse_cell(raw, col_type: str, choices: list[str] | None = None) -> Parsed:
    """Turn one cell's raw content into a value of ``col_type``, or a finding saying why not."""
    if col_type not in COLUMN_TYPES:
        raise ValueError(f"unknown column type {col_type!r}")
    if col_type == "choice" and not choices:
        raise ValueError("a 'choice' column needs its list of choices")
    if raw is None or is_formula(raw):
        return MISSING
    if isinstance(raw, str):
        raw = _clean(raw)
        if _is_missing_text(raw):
            return MISSING
        if col_type != "text":
            raw = _unquote(raw)
            if _is_missing_text(raw):
                return MISSING
            if raw.upper() in _SPREADSHEET_ERRORS:
                return Parsed(None, f"Ô đang báo lỗi {raw}: hãy nhập giá trị thay cho lỗi này")
    if col_type in _EXPECTED:
        return _parse_number(raw, col_type)
    if col_type == "choice":
        return _parse_choice(raw, choices)
    return {"text": _parse_text, "date": parse_date, "bool": _parse_bool}[col_type](raw)


# --- text clean-up ----------------------------------------------------------------------


def _clean(text: str) -> str:
    """NFC (some tools paste decomposed Vietnamese), without surrounding or invisible spaces."""
    return _EDGES.sub("", unicodedata.normalize("NFC", text))


def _unquote(text: str) -> str:
    """Drop the apostrophe that makes a spreadsheet keep what follows as text ("'1234")."""
    return _clean(text[1:]) if text[:1] in _APOSTROPHES else text


def _is_missing_text(text: str) -> bool:
    return text == "" or _DASHES.fullmatch(text) is not None


# --- numbers ----------------------------------------------------------------------------


class _Unreadable(Exception):
    """The text is not a number; the message says why (formatted later with the input)."""


class _AmbiguousComma(Exception):
    """A lone "," before exactly three digits: a thousands separator or a decimal comma."""

    def __init__(self, whole: str, fraction: str):
        self.whole = whole
        self.fraction = fraction


_SIGN = re.compile(r"^([+\-−]?)\s*(.*)$", re.DOTALL)
_NUMBER_CHARS = re.compile(r"[0-9.,\s]*[0-9][0-9.,\s]*")
_SPACE_GROUPED = re.compile(r"([0-9]{1,3}(?:\s[0-9]{3})+)(?:[.,]([0-9]+))?")
_PARENTHESISED = re.compile(r"\(\s*([0-9][0-9.,\s]*)\s*\)")
_PERCENT_SIGN = re.compile(r"\s*%$")
_PHONE_LIKE = re.compile(r"\+\s*[0-9](?:[\s.]?[0-9]){8,}")


def _parse_number(raw, col_type: str) -> Parsed:
    expected = _EXPECTED[col_type]
    if isinstance(raw, bool):
        return Parsed(None, f"Nhận giá trị Có/Không ({_shown(raw)}) nhưng ô này cần {expected}")
    if isinstance(raw, datetime | date):
        return Parsed(None, f"Nhập ngày {_shown(raw)} nhưng ô này cần {expected}")
    if isinstance(raw, int | float | Decimal):
        return _typed_number(Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw), raw, col_type)
    if not isinstance(raw, str):
        return Parsed(None, f'Không đọc được giá trị "{_shown(raw)}": ô này cần {expected}')
    return _parse_number_text(raw, col_type)


def _parse_number_text(text: str, col_type: str) -> Parsed:
    expected = _EXPECTED[col_type]
    if sum(ch.isdigit() for ch in text) > MAX_DIGITS:
        return Parsed(None, f'Số "{_shown(text)}" quá dài: ô này cần {expected}')
    if col_type == "count" and _PHONE_LIKE.fullmatch(text):
        return Parsed(
            None, f'"{_shown(text)}" trông như số điện thoại, không phải số lượng: ô này cần {expected}'
        )
    body = _PERCENT_SIGN.sub("", text)
    if body != text and col_type != "percent" and _NUMBER_CHARS.fullmatch(_SIGN.match(body).group(2)):
        return Parsed(None, f'"{_shown(text)}" là tỉ lệ phần trăm nhưng ô này cần {expected}')
    try:
        number = _read_number(body if col_type == "percent" else text)
    except _AmbiguousComma as e:
        return Parsed(None, _ambiguous_comma_problem(text, e, col_type))
    except _Unreadable:
        return Parsed(None, _not_a_number_problem(text, col_type))
    return _typed_number(number, text, col_type)


def _typed_number(number: Decimal, raw, col_type: str) -> Parsed:
    if not number.is_finite():
        return Parsed(None, f"Giá trị không phải là số hữu hạn: ô này cần {_EXPECTED[col_type]}")
    limit = MAX_COUNT if col_type == "count" else MAX_NUMBER
    if abs(number) > limit:
        return Parsed(
            None,
            f'Số "{_shown(raw)}" quá lớn (vượt {format_number(limit, 0)}): hãy kiểm tra lại; ô này cần {_EXPECTED[col_type]}',
        )
    if col_type == "percent" and 0 < number < 1:
        return Parsed(
            float(number),
            warning=f"Tỉ lệ {format_number(number, 6)} % rất nhỏ: nếu là "
            f"{format_number(number * 100, 4)} %, hãy nhập {format_number(number * 100, 4)}",
        )
    if col_type != "count":
        return Parsed(float(number))
    whole = number.to_integral_value(rounding=ROUND_HALF_UP)
    # A float that is whole up to binary noise (e.g. 12.000000000001 from a sum) is whole.
    if number == whole or (isinstance(raw, float) and abs(number - whole) < Decimal("1e-9")):
        return Parsed(int(whole))
    return Parsed(None, f'Ô số nguyên nhưng nhập "{_shown(raw)}" (có phần thập phân)')


def _read_number(text: str) -> Decimal:
    """Read a signed number written with Vietnamese (or unambiguous English) separators."""
    sign, body = _SIGN.match(text).groups()
    body = "".join(ch for ch in body if ch not in _INVISIBLE)
    if not _NUMBER_CHARS.fullmatch(body):
        raise _Unreadable
    digits = _space_grouped(body) if re.search(r"\s", body) else _separator_grouped(body)
    return Decimal(("-" if sign in ("-", "−") else "") + digits)


def _space_grouped(body: str) -> str:
    """ "1 234" or "1 234,5": spaces group thousands, so a "." or "," after them is decimal."""
    match = _SPACE_GROUPED.fullmatch(body)
    if not match:
        raise _Unreadable
    whole = re.sub(r"\s", "", match.group(1))
    return whole + ("." + match.group(2) if match.group(2) else "")


def _separator_grouped(body: str) -> str:
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal_sep = "." if body.rfind(".") > body.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        whole, _, fraction = body.rpartition(decimal_sep)
        if decimal_sep in whole or not fraction:
            raise _Unreadable
        return _ungroup(whole, group_sep) + "." + fraction
    if dots + commas == 0:
        return body
    separator = "." if dots else ","
    if dots + commas > 1:
        return _ungroup(body, separator)
    return _lone_separator(body, separator)


def _ungroup(whole: str, separator: str) -> str:
    """ "1.234.567" → "1234567"; groups after the first must have exactly three digits."""
    groups = whole.split(separator)
    if not (1 <= len(groups[0]) <= 3) or any(len(g) != 3 for g in groups[1:]):
        raise _Unreadable
    return "".join(groups)


def _lone_separator(body: str, separator: str) -> str:
    whole, _, fraction = body.partition(separator)
    if not fraction:
        raise _Unreadable  # "12," may be a cut-off "12,5": ask rather than guess
    looks_grouped = len(fraction) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")
    if looks_grouped and separator == ".":
        return whole + fraction  # Vietnamese thousands: "1.500" is 1500
    if looks_grouped:
        raise _AmbiguousComma(whole, fraction)
    return (whole or "0") + "." + fraction


def _not_a_number_problem(text: str, col_type: str) -> str:
    expected = _EXPECTED[col_type]
    shown = _shown(text)
    if text.casefold() in _ZERO_WORDS:
        return f'"{shown}" không phải là số: nếu là số không, hãy nhập 0; nếu chưa có số liệu, hãy để trống'
    negative = _PARENTHESISED.fullmatch(text)
    if negative:
        return f'"{shown}" không phải là số: nếu là số âm, hãy nhập -{negative.group(1).strip()}'
    if _NUMBER_CHARS.fullmatch(_SIGN.match(_PERCENT_SIGN.sub("", text)).group(2)):
        return (
            f'Không đọc được số "{shown}": ô này cần {expected} '
            f"(dấu chấm tách hàng nghìn, dấu phẩy trước phần thập phân)"
        )
    return f'"{shown}" không phải là số: ô này cần {expected}'


def _ambiguous_comma_problem(text: str, e: _AmbiguousComma, col_type: str) -> str:
    minus = "-" if text.lstrip().startswith(("-", "−")) else ""
    thousands = f"{minus}{e.whole}{e.fraction}"
    decimal_reading = f"{minus}{e.whole} phẩy {e.fraction}"
    question = f'"{_shown(text)}" không rõ là {thousands} hay {decimal_reading}'
    if col_type == "count":
        return f"{question}: nếu là {thousands}, hãy nhập {thousands} (không có dấu phẩy)"
    return (
        f"{question}: nếu là số nghìn, hãy nhập {thousands}; "
        f"nếu là số thập phân, hãy nhập {minus}{e.whole},{e.fraction}0"
    )


# --- text, choices, yes/no --------------------------------------------------------------


def _parse_text(raw) -> Parsed:
    if isinstance(raw, str):
        return Parsed(raw)  # already NFC and stripped; empty was missing
    if isinstance(raw, bool | datetime | date):
        return Parsed(_shown(raw))
    if isinstance(raw, float) and raw.is_integer():
        return Parsed(str(int(raw)))  # a code typed as a number (e.g. 912345678), no grouping
    if isinstance(raw, float):
        return Parsed(str(raw).replace(".", ","))
    return Parsed(_clean(str(raw)) or None)


def _comparable(text: str) -> str:
    """The form two labels are compared in: NFC, single spaces, case folded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def _parse_choice(raw, choices: list[str]) -> Parsed:
    text = _parse_text(raw).value
    if text is None:
        return MISSING
    for choice in choices:
        if _comparable(choice) == _comparable(text):
            return Parsed(choice)
    allowed = ", ".join(f'"{c}"' for c in choices)
    return Parsed(None, f'"{_shown(text)}" không có trong danh sách: hãy chọn một trong {allowed}')


def _parse_bool(raw) -> Parsed:
    if isinstance(raw, bool):
        return Parsed(raw)
    if isinstance(raw, int | float) and raw in (0, 1):
        return Parsed(raw == 1)
    word = _comparable(str(raw)) if isinstance(raw, str) else None
    if word in _TRUE_WORDS:
        return Parsed(True)
    if word in _FALSE_WORDS:
        return Parsed(False)
    return Parsed(None, f'"{_shown(raw)}" không rõ là Có hay Không: hãy nhập Có hoặc Không')
