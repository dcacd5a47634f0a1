"""A date a clerk typed or a spreadsheet stored, read day first — or a finding saying why not.

Dates are day first ("05/03/2026" is 5 March); two-digit years 00–69 are 20xx and 70–99 are
19xx; a raw number in a date column is an Excel/Google serial day (1 = 1900-01-01, epoch
1899-12-30) and must fall between 1950 and 2099 to count as a date. Called by
:func:`bot.sheets.values.parse_cell` for date columns.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

from bot.sheets.parsed import Parsed, _shown

_HOW_TO_WRITE_DATE = "hãy nhập theo thứ tự ngày/tháng/năm, ví dụ 14/03/2026"

# Excel's 1900 date system as Google Sheets and openpyxl count it (Excel's phantom 29 Feb 1900
# only shifts serials below 61, long before any report).
_SERIAL_EPOCH = date(1899, 12, 30)
# Serials outside 1950–2099 are more likely a year or a count typed in the wrong cell.
_FIRST_SERIAL = (date(1950, 1, 1) - _SERIAL_EPOCH).days
_LAST_SERIAL = (date(2099, 12, 31) - _SERIAL_EPOCH).days

_TIME_SUFFIX = r"(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DAY_FIRST = re.compile(rf"(\d{{1,2}})\s*([/.\-])\s*(\d{{1,2}})\s*\2\s*(\d{{4}}|\d{{2}}){_TIME_SUFFIX}")
_YEAR_FIRST = re.compile(rf"(\d{{4}})([/.\-])(\d{{1,2}})\2(\d{{1,2}}){_TIME_SUFFIX}")
_IN_WORDS = re.compile(r"(?:ngày\s*)?(\d{1,2})\s+tháng\s+(\d{1,2})\s*,?\s*năm\s+(\d{4})", re.IGNORECASE)


def parse_date(raw) -> Parsed:
    if isinstance(raw, datetime):
        return Parsed(raw.date())
    if isinstance(raw, date):
        return Parsed(raw)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return Parsed(None, f'"{_shown(raw)}" không phải là ngày: {_HOW_TO_WRITE_DATE}')
    if isinstance(raw, int | float):
        return _date_from_serial(raw)
    return _date_from_text(raw)


def _date_from_serial(serial: int | float) -> Parsed:
    """A spreadsheet serial day (what a date cell holds when it is not formatted as a date)."""
    if math.isfinite(serial) and _FIRST_SERIAL <= serial < _LAST_SERIAL + 1:
        return Parsed(_SERIAL_EPOCH + timedelta(days=math.floor(serial)))
    return Parsed(None, f'"{_shown(serial)}" không phải là ngày: {_HOW_TO_WRITE_DATE}')


def _date_from_text(text: str) -> Parsed:
    if match := _DAY_FIRST.fullmatch(text):
        day, _, month, year = match.groups()
    elif match := _YEAR_FIRST.fullmatch(text):
        year, _, month, day = match.groups()
    elif match := _IN_WORDS.fullmatch(text):
        day, month, year = match.groups()
    else:
        return Parsed(None, f'"{_shown(text)}" không phải là ngày: {_HOW_TO_WRITE_DATE}')
    return _checked_date(text, int(day), int(month), _full_year(year))


def _full_year(year: str) -> int:
    if len(year) == 4:
        return int(year)
    return (2000 if int(year) < 70 else 1900) + int(year)


def _checked_date(text: str, day: int, month: int, year: int) -> Parsed:
    if not 1 <= month <= 12:
        return Parsed(
            None,
            f'Không có ngày "{_shown(text)}": không có tháng {month} ({_HOW_TO_WRITE_DATE})',
        )
    try:
        return Parsed(date(year, month, day))
    except ValueError:
        return Parsed(
            None,
            f'Không có ngày "{_shown(text)}": tháng {month} năm {year} không có ngày {day}',
        )
