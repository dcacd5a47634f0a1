"""Who is due which reminder, when: a pure decision policy (no I/O, ``now`` is passed in).

Stages of one reporting period, with the default policy (deadline Wednesday 18/03/2026):

* ``truoc-7``, ``truoc-3``, ``truoc-1``, ``han``: N calendar days before the deadline (``han``
  is the deadline day). A stage falling on a weekend or holiday moves to the previous working
  day; when several land on the same day only the one closest to the deadline is kept.
* ``tre-<ISO date>``: every working day after the deadline while the report is not valid.

A stage is due on its day from ``policy.hour`` (Vietnam time) until midnight. Only the stage of
the current day is ever due: after downtime the missed days are not replayed. Stage keys are
stable for a given day, so the outbox, which de-duplicates on (unit, period, stage, channel),
sends each stage once however often the job runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.clock import TZ, local
from bot.messages.workdays import WorkCalendar

STATES = ("chua_mo", "dang_nhap", "da_nop", "da_nop_con_loi", "hop_le", "da_duyet", "tra_lai")
VALID_STATES = frozenset({"hop_le", "da_duyet"})
SUBMITTED_STATES = frozenset({"da_nop", "da_nop_con_loi", "hop_le", "da_duyet"})

# A chat message has to stay readable: longer lists are cut with "và N ... khác".
MAX_SECTIONS_IN_MESSAGE = 8
MAX_UNITS_IN_DIGEST = 20

STATE_SENTENCES = {
    "chua_mo": "Đơn vị chưa bắt đầu nhập báo cáo.",
    "da_nop": "Báo cáo đã nộp nhưng chưa được xác nhận hợp lệ.",
    "da_nop_con_loi": "Báo cáo đã nộp nhưng còn lỗi, đề nghị sửa và nộp lại.",
    "tra_lai": "Báo cáo đã bị trả lại, đề nghị chỉnh sửa và nộp lại.",
}


@dataclass(frozen=True)
class ReminderPolicy:
    days_before: tuple[int, ...] = (7, 3, 1, 0)  # calendar days before the deadline; 0 = the day itself
    after_deadline: bool = True  # every working day after the deadline until valid
    hour: int = 8  # local hour (Asia/Ho_Chi_Minh) from which a day's reminders are due
    digest_hour: int = 16

    def __post_init__(self):
        if any(n < 0 for n in self.days_before):
            raise ValueError(f"days_before must not be negative: {self.days_before}")
        for name in ("hour", "digest_hour"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValueError(f"{name} must be an hour 0..23, got {getattr(self, name)}")


@dataclass(frozen=True)
class UnitStatus:
    code: str
    name: str
    kind: str
    state: str  # one of STATES
    completeness: float  # 0..1
    errors: int
    warnings: int
    incomplete_sections: tuple[str, ...]  # Vietnamese section titles still incomplete
    sheet_url: str | None
    submitted_at: datetime | None = None
    last_change: datetime | None = None

    def __post_init__(self):
        if self.state not in STATES:
            raise ValueError(f"unknown report state {self.state!r} for unit {self.code}")

    @property
    def is_valid(self) -> bool:
        return self.state in VALID_STATES


@dataclass(frozen=True)
class Reminder:
    unit_code: str
    stage: str  # stable key of the reminder stage, e.g. "truoc-7", "han", "tre-2026-03-19"
    text: str  # Vietnamese message, plain text
    due_at: datetime


def stage_for(now: datetime, deadline: date, policy: ReminderPolicy, calendar: WorkCalendar) -> str | None:
    """The stage due at ``now``, if any: only today's, and only from ``policy.hour`` on."""
    moment = local(now)
    today = moment.date()
    if moment.hour < policy.hour or not calendar.is_working_day(today):
        return None
    if today > deadline:
        return f"tre-{today.isoformat()}" if policy.after_deadline else None
    return _pre_deadline_stages(deadline, policy, calendar).get(today)


def _pre_deadline_stages(deadline: date, policy: ReminderPolicy, calendar: WorkCalendar) -> dict[date, str]:
    """Working day -> stage key, after moving stages off days off.

    Stages are visited farthest first so that, on a collision, the closer one overwrites it.
    """
    stages: dict[date, str] = {}
    for days in sorted(set(policy.days_before), reverse=True):
        day = calendar.previous_working_day(deadline - timedelta(days=days))
        stages[day] = "han" if days == 0 else f"truoc-{days}"
    return stages


def due_reminders(
    now: datetime,
    period_label: str,
    deadline: date,
    units: list[UnitStatus],
    policy: ReminderPolicy,
    calendar: WorkCalendar,
) -> list[Reminder]:
    """One reminder per unit whose report is not valid, for the stage due now (if any)."""
    stage = stage_for(now, deadline, policy, calendar)
    if stage is None:
        return []
    today = local(now).date()
    due_at = datetime.combine(today, time(policy.hour), tzinfo=TZ)
    return [
        Reminder(unit.code, stage, reminder_text(unit, period_label, deadline, today, calendar), due_at)
        for unit in units
        if not unit.is_valid
    ]


def reminder_text(
    unit: UnitStatus, period_label: str, deadline: date, today: date, calendar: WorkCalendar
) -> str:
    """The message to a unit. ``period_label`` reads after "báo cáo", e.g. "CCHC Quý I năm 2026"."""
    sentences = [_opening(unit, period_label, deadline, today, calendar)]
    sentences.append(f"Mức độ hoàn thành: {_percent(unit.completeness)}%.")
    if unit.state in STATE_SENTENCES:
        sentences.append(STATE_SENTENCES[unit.state])
    if unit.incomplete_sections:
        shown = _cut_list(list(unit.incomplete_sections), MAX_SECTIONS_IN_MESSAGE, "phần")
        sentences.append(f"Các phần chưa hoàn thành: {shown}.")
    if unit.errors:
        sentences.append(f"Còn {unit.errors} lỗi cần sửa.")
    if unit.warnings:
        sentences.append(f"Có {unit.warnings} cảnh báo cần xem lại.")
    if unit.sheet_url:
        sentences.append(f"Bảng báo cáo: {unit.sheet_url}")
    return " ".join(sentences)


def _opening(unit: UnitStatus, period_label: str, deadline: date, today: date, calendar: WorkCalendar) -> str:
    head = f"Kính gửi {unit.name}: báo cáo {period_label}"
    timing = deadline_phrase(today, deadline, calendar)
    if today > deadline:
        return f"{head} có hạn hoàn thành ngày {_dmy(deadline)} ({timing})."
    return f"{head} cần hoàn thành trước ngày {_dmy(deadline)} ({timing})."


def deadline_phrase(today: date, deadline: date, calendar: WorkCalendar) -> str:
    """Days left: "còn 3 ngày", "hôm nay là hạn cuối" or "đã quá hạn 2 ngày làm việc" (the one
    deadline sentence of reminders, digests and chat replies)."""
    if today > deadline:
        return f"đã quá hạn {calendar.working_days_between(deadline, today)} ngày làm việc"
    if today == deadline:
        return "hôm nay là hạn cuối"
    phrase = f"còn {(deadline - today).days} ngày"
    if calendar.working_days_between(today, deadline) == 0:
        # The deadline falls in a holiday: today is the last day anyone is at work for it.
        phrase += ", hôm nay là ngày làm việc cuối cùng trước hạn"
    return phrase


def digest(
    now: datetime,
    period_label: str,
    deadline: date,
    units: list[UnitStatus],
    calendar: WorkCalendar | None = None,
) -> str:
    """The coordinator's daily summary; without a calendar, the default one (weekends, holidays)."""
    today = local(now).date()
    late = [u for u in units if today > deadline and not u.is_valid]
    with_errors = [u for u in units if u.errors and not u.is_valid]
    total = len(units)
    lines = [
        f"Tổng hợp báo cáo {period_label} ngày {_dmy(today)}",
        f"Hạn hoàn thành: {_dmy(deadline)} ({deadline_phrase(today, deadline, calendar or WorkCalendar())})",
        f"Đã nộp: {_count(units, SUBMITTED_STATES)}/{total}; hợp lệ: {_count(units, VALID_STATES)}/{total}; "
        f"trễ hạn: {len(late)}; chưa mở: {_count(units, {'chua_mo'})}",
    ]
    if late:
        lines.append("Đơn vị trễ hạn: " + _cut_list([u.name for u in late], MAX_UNITS_IN_DIGEST, "đơn vị"))
    if with_errors:
        named = [f"{u.name} ({u.errors} lỗi)" for u in with_errors]
        lines.append("Đơn vị còn lỗi: " + _cut_list(named, MAX_UNITS_IN_DIGEST, "đơn vị"))
    return "\n".join(lines)


def _count(units: list[UnitStatus], states: set[str] | frozenset[str]) -> int:
    return sum(u.state in states for u in units)


def _cut_list(items: list[str], limit: int, noun: str) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" và {len(items) - limit} {noun} khác"


def _percent(completeness: float) -> int:
    # Floor, so that an unfinished report never shows 100%.
    return math.floor(max(0.0, min(1.0, completeness)) * 100 + 1e-9)


def _dmy(d: date) -> str:
    return d.strftime("%d/%m/%Y")
