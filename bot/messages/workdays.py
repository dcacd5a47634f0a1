"""Vietnam's working calendar for state offices: which days reminders may go out on.

A working day is Monday to Friday, minus public holidays, plus the Saturdays the Government
declares worked. Public holidays (with their Vietnamese names: "Tết Nguyên Đán", "Quốc khánh",
...) come from the ``holidays`` package, which also knows the day swaps it has been taught
(e.g. Saturday 26/04/2025 worked in exchange for Friday 02/05/2025).

Each year the Government announces further swaps for civil servants, mostly around Tết and
2/9, and the ``holidays`` package may lag behind. They are configured as two lists of ISO
dates, kept in the bot's configuration under the calendar key::

    {
      "extra_holidays": ["2026-02-13"],        # days off that the library does not know
      "extra_working_days": ["2026-02-07"]     # Saturdays/Sundays (or library holidays) worked
    }

Configured days win over the library; a date in both lists is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

EXTRA_HOLIDAY_NAME = "Ngày nghỉ (theo thông báo bổ sung)"


class CalendarConfigError(ValueError):
    """The calendar configuration is unusable; the message (Vietnamese) names the bad entry."""


class WorkCalendar:
    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        years: Iterable[int] | None = None,
    ):
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_working_days = frozenset(extra_working_days)
        both = sorted(self._extra_holidays & self._extra_working_days)
        if both:
            raise CalendarConfigError(
                f"Ngày {both[0].strftime('%d/%m/%Y')} vừa là ngày nghỉ vừa là ngày làm việc bổ sung."
            )
        # expand=True (the default) loads further years on demand.
        self._public = holidays.country_holidays("VN", language="vi", years=list(years or ()))

    def is_working_day(self, d: date) -> bool:
        if d in self._extra_working_days:
            return True
        if d in self._extra_holidays:
            return False
        # The membership test also loads d's year, which fills weekend_workdays for it.
        if d in self._public:
            return False
        if d.weekday() >= 5:
            return d in self._public.weekend_workdays
        return True

    def holiday_name(self, d: date) -> str | None:
        """The Vietnamese name of the day off ``d`` is, or None for a worked or ordinary day."""
        if d in self._extra_working_days:
            return None
        if d in self._extra_holidays:
            return self._public.get(d) or EXTRA_HOLIDAY_NAME
        return self._public.get(d)

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is worked, else the first working day after it."""
        return self._walk_to_working_day(d, timedelta(days=1))

    def previous_working_day(self, d: date) -> date:
        """``d`` itself if it is worked, else the last working day before it."""
        return self._walk_to_working_day(d, timedelta(days=-1))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: 0 when ``end`` is not after ``start``."""
        days = (end - start).days
        return sum(self.is_working_day(start + timedelta(days=n)) for n in range(1, days + 1))

    def _walk_to_working_day(self, d: date, step: timedelta) -> date:
        while not self.is_working_day(d):
            d += step
        return d


def calendar_from_config(cfg: dict) -> WorkCalendar:
    """Build the calendar from ``{"extra_holidays": [...], "extra_working_days": [...]}``."""
    return WorkCalendar(
        extra_holidays=_parse_dates(cfg, "extra_holidays"),
        extra_working_days=_parse_dates(cfg, "extra_working_days"),
    )


def _parse_dates(cfg: dict, key: str) -> list[date]:
    entries = cfg.get(key) or []
    if not isinstance(entries, list):
        raise CalendarConfigError(f"Mục '{key}' phải là danh sách ngày dạng YYYY-MM-DD.")
    return [_parse_date(key, entry) for entry in entries]


def _parse_date(key: str, entry: object) -> date:
    try:
        return date.fromisoformat(str(entry).strip())
    except ValueError:
        raise CalendarConfigError(
            f"Ngày không hợp lệ trong mục '{key}': '{entry}' (cần dạng YYYY-MM-DD, ví dụ 2026-02-14)."
        ) from None
