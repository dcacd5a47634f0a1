"""Reporting periods: ids such as ``2026-Q1``, ``2026-6T``, ``2026-9T``, ``2026-N``.

The data cut-off, the submission deadline and the day the period opens are days of the year
in the schema (``cutoff_start`` 15 Dec, per Decree 09/2019/NĐ-CP; ``cutoff_end`` 14 Mar /
14 Jun / 14 Sep / 14 Dec); configuration may override the deadline and the opening day. A
cut-off start later in the year than its end lies in the previous year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.outline.schema import PeriodKind, Schema

PERIOD_ID = re.compile(r"^(\d{4})-([A-Z0-9]+)$")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    id: str  # e.g. "2026-Q1"
    year: int
    kind: PeriodKind
    cutoff_start: date
    cutoff_end: date
    opens: date
    deadline: date

    @property
    def label(self) -> str:
        """Vietnamese name, e.g. 'Quý I năm 2026'."""
        return f"{self.kind.label} năm {self.year}"


def _month_day(year: int, mmdd: str) -> date:
    month, day = (int(x) for x in mmdd.split("-"))
    return date(year, month, day)


def _cutoff_start(year: int, kind: PeriodKind) -> date:
    """The first day of the period's data: in the year before when it falls after the end."""
    start = _month_day(year, kind.cutoff_start)
    return start if start <= _month_day(year, kind.cutoff_end) else start.replace(year=year - 1)


def parse_period(period_id: str, schema: Schema, overrides: dict | None = None) -> Period:
    """Build a :class:`Period`; ``overrides`` maps period ids to {"deadline"/"opens": ISO date}."""
    m = PERIOD_ID.match(period_id or "")
    if not m or m.group(2) not in schema.period_by_id:
        known = ", ".join(f"YYYY-{p.id}" for p in schema.periods)
        raise PeriodError(f"Kỳ báo cáo '{period_id}' không hợp lệ; dùng dạng {known}, ví dụ 2026-Q1.")
    year, kind = int(m.group(1)), schema.period_by_id[m.group(2)]
    own = (overrides or {}).get(period_id, {})
    try:
        deadline = date.fromisoformat(own["deadline"]) if "deadline" in own else None
        opens = date.fromisoformat(own["opens"]) if "opens" in own else None
    except ValueError as e:
        raise PeriodError(
            f"Cấu hình kỳ {period_id}: ngày không hợp lệ ({e}); dùng dạng YYYY-MM-DD."
        ) from None
    return Period(
        id=period_id,
        year=year,
        kind=kind,
        cutoff_start=_cutoff_start(year, kind),
        cutoff_end=_month_day(year, kind.cutoff_end),
        opens=opens or _month_day(year, kind.opens),
        deadline=deadline or _month_day(year, kind.default_deadline),
    )


def previous_period(period: Period, schema: Schema, overrides: dict | None = None) -> Period:
    """The report before this one in the sequence Q1, 6T, 9T, N, N of last year before Q1."""
    ordered = sorted(schema.periods, key=lambda p: p.order)
    i = ordered.index(period.kind)
    if i > 0:
        return parse_period(f"{period.year}-{ordered[i - 1].id}", schema, overrides)
    return parse_period(f"{period.year - 1}-{ordered[-1].id}", schema, overrides)


def period_for_date(day: date, schema: Schema, overrides: dict | None = None) -> Period | None:
    """The period that is open on ``day`` (opened and not yet past its deadline), if any."""
    for kind in schema.periods:
        period = parse_period(f"{day.year}-{kind.id}", schema, overrides)
        if period.opens <= day <= period.deadline:
            return period
    return None
