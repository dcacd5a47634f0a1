from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.messages.reminders import ReminderPolicy, UnitStatus, digest, due_reminders, stage_for
from bot.messages.workdays import WorkCalendar
from tests.helpers import at

PERIOD = "CCHC Quý I năm 2026"
MARCH_DEADLINE = date(2026, 3, 18)  # a Wednesday
TET_DEADLINE = date(2026, 2, 18)  # Mùng hai Tết, inside the 14–22/02 holiday
POLICY = ReminderPolicy()
CALENDAR = WorkCalendar()


def unit(code="STP", name="Sở Tư pháp", state="dang_nhap", **changes) -> UnitStatus:
    status = UnitStatus(
        code=code,
        name=name,
        kind="so",
        state=state,
        completeness=0.4,
        errors=2,
        warnings=0,
        incomplete_sections=("II.1 Công tác chỉ đạo", "II.6 Cải cách tài chính công"),
        sheet_url="https://docs.google.com/spreadsheets/d/abc",
    )
    return replace(status, **changes)


def days_of(first: date, last: date):
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def simulate(first, last, deadline, calendar=CALENDAR, policy=POLICY, units=None):
    """Run the reminder job every day at 09:00; the stage sent on each day that sent one."""
    units = units or [unit()]
    sent = {}
    for day in days_of(first, last):
        stages = {r.stage for r in due_reminders(at(day), PERIOD, deadline, units, policy, calendar)}
        assert len(stages) <= 1, (day, stages)
        if stages:
            sent[day] = stages.pop()
    return sent


def test_it_reminds_on_the_right_working_days_in_a_month_around_the_deadline():
    sent = simulate(date(2026, 3, 1), date(2026, 3, 31), MARCH_DEADLINE)
    late_days = [19, 20, 23, 24, 25, 26, 27, 30, 31]
    assert sent == {
        date(2026, 3, 11): "truoc-7",
        date(2026, 3, 13): "truoc-3",  # Sunday 15 moved back to Friday 13
        date(2026, 3, 17): "truoc-1",
        date(2026, 3, 18): "han",
        **{date(2026, 3, d): f"tre-2026-03-{d:02d}" for d in late_days},
    }


def test_it_sends_nothing_on_weekends_and_holidays():
    sent = simulate(date(2026, 2, 1), date(2026, 3, 31), MARCH_DEADLINE)
    for day in sent:
        assert CALENDAR.is_working_day(day), day
    assert stage_for(at(date(2026, 3, 21)), MARCH_DEADLINE, POLICY, CALENDAR) is None  # late, but Saturday


def test_it_moves_stages_inside_tet_to_the_last_working_day_before_it():
    sent = simulate(date(2026, 2, 1), date(2026, 2, 28), TET_DEADLINE)
    # truoc-3 (15/02), truoc-1 (17/02) and han (18/02) all land on Friday 13: the closest wins.
    assert sent == {
        date(2026, 2, 11): "truoc-7",
        date(2026, 2, 13): "han",
        **{date(2026, 2, d): f"tre-2026-02-{d}" for d in (23, 24, 25, 26, 27)},
    }


def test_it_sends_a_stage_on_a_configured_swapped_working_saturday():
    calendar = WorkCalendar(extra_working_days=[date(2026, 2, 14), date(2026, 3, 21)])
    tet = simulate(date(2026, 2, 1), date(2026, 2, 23), TET_DEADLINE, calendar=calendar)
    assert tet == {
        date(2026, 2, 11): "truoc-7",
        date(2026, 2, 14): "han",
        date(2026, 2, 23): "tre-2026-02-23",
    }
    march = simulate(date(2026, 3, 20), date(2026, 3, 23), MARCH_DEADLINE, calendar=calendar)
    assert march == {
        date(2026, 3, 20): "tre-2026-03-20",
        date(2026, 3, 21): "tre-2026-03-21",
        date(2026, 3, 23): "tre-2026-03-23",
    }


def test_it_moves_a_stage_off_a_configured_extra_holiday():
    calendar = WorkCalendar(extra_holidays=[date(2026, 3, 17)])
    sent = simulate(date(2026, 3, 14), date(2026, 3, 18), MARCH_DEADLINE, calendar=calendar)
    assert sent == {date(2026, 3, 16): "truoc-1", date(2026, 3, 18): "han"}


def test_it_makes_a_day_stage_due_from_the_policy_hour_local_time():
    day = date(2026, 3, 11)
    assert stage_for(at(day, 7, 59), MARCH_DEADLINE, POLICY, CALENDAR) is None
    assert stage_for(at(day, 8, 0), MARCH_DEADLINE, POLICY, CALENDAR) == "truoc-7"
    assert stage_for(at(day, 23, 59), MARCH_DEADLINE, POLICY, CALENDAR) == "truoc-7"
    eight_in_hanoi = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert stage_for(eight_in_hanoi, MARCH_DEADLINE, POLICY, CALENDAR) == "truoc-7"
    assert stage_for(eight_in_hanoi, MARCH_DEADLINE, ReminderPolicy(hour=10), CALENDAR) is None


def test_it_dates_a_reminder_at_the_policy_hour_of_its_day():
    [reminder] = due_reminders(at(date(2026, 3, 11), 15), PERIOD, MARCH_DEADLINE, [unit()], POLICY, CALENDAR)
    assert reminder.due_at == at(date(2026, 3, 11), 8)


def test_it_reminds_only_units_whose_report_is_not_valid():
    units = [unit(code=state, state=state) for state in ("chua_mo", "dang_nhap", "da_nop", "da_nop_con_loi")]
    units += [
        unit(code="TRA", state="tra_lai"),
        unit(code="OK", state="hop_le"),
        unit(code="DD", state="da_duyet"),
    ]
    reminders = due_reminders(at(MARCH_DEADLINE), PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
    assert [r.unit_code for r in reminders] == ["chua_mo", "dang_nhap", "da_nop", "da_nop_con_loi", "TRA"]


def test_it_sends_nothing_once_every_unit_is_valid():
    units = [unit(code="A", state="hop_le"), unit(code="B", state="da_duyet")]
    assert simulate(date(2026, 3, 1), date(2026, 3, 31), MARCH_DEADLINE, units=units) == {}


def test_it_gives_the_same_stage_keys_when_run_again():
    units = [unit(code="A"), unit(code="B", state="tra_lai")]
    for moment in (at(date(2026, 3, 13)), at(date(2026, 3, 19))):
        first = due_reminders(moment, PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
        again = due_reminders(moment, PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
        later = due_reminders(moment + timedelta(hours=6), PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
        assert first == again
        assert [(r.unit_code, r.stage) for r in later] == [(r.unit_code, r.stage) for r in first]
        assert len(first) == 2


def test_it_does_not_replay_days_missed_while_the_bot_was_down():
    # Last run on the deadline; the bot is down for 5 days and comes back on Wednesday 25/03.
    units = [unit(code="A"), unit(code="B")]
    back = due_reminders(at(date(2026, 3, 25)), PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
    assert [(r.unit_code, r.stage) for r in back] == [("A", "tre-2026-03-25"), ("B", "tre-2026-03-25")]
    # Down from Tuesday 10/03 (missing truoc-7 and truoc-3) to Tuesday 17/03: only truoc-1.
    back = due_reminders(at(date(2026, 3, 17)), PERIOD, MARCH_DEADLINE, units, POLICY, CALENDAR)
    assert {r.stage for r in back} == {"truoc-1"}


def test_it_sends_nothing_before_the_hour_even_if_yesterday_was_missed():
    assert due_reminders(at(date(2026, 3, 12), 7), PERIOD, MARCH_DEADLINE, [unit()], POLICY, CALENDAR) == []


def test_it_follows_a_custom_policy():
    policy = ReminderPolicy(days_before=(2,), after_deadline=False)
    sent = simulate(date(2026, 3, 1), date(2026, 3, 31), MARCH_DEADLINE, policy=policy)
    assert sent == {date(2026, 3, 16): "truoc-2"}


def test_it_refuses_a_negative_reminder_offset():
    with pytest.raises(ValueError):
        ReminderPolicy(days_before=(3, -1))


def test_it_refuses_an_unknown_report_state():
    with pytest.raises(ValueError, match="nop_roi"):
        unit(state="nop_roi")


def reminder_text_on(day: date, status: UnitStatus | None = None, deadline=MARCH_DEADLINE) -> str:
    [reminder] = due_reminders(at(day), PERIOD, deadline, [status or unit()], POLICY, CALENDAR)
    return reminder.text


def test_it_writes_a_message_naming_unit_period_deadline_gaps_errors_and_link():
    text = reminder_text_on(date(2026, 3, 13))
    assert text.startswith(
        "Kính gửi Sở Tư pháp: báo cáo CCHC Quý I năm 2026 cần hoàn thành trước ngày 18/03/2026 (còn 5 ngày)."
    )
    assert "Mức độ hoàn thành: 40%." in text
    assert "Các phần chưa hoàn thành: II.1 Công tác chỉ đạo, II.6 Cải cách tài chính công." in text
    assert "Còn 2 lỗi cần sửa." in text
    assert text.endswith("Bảng báo cáo: https://docs.google.com/spreadsheets/d/abc")


def test_it_says_how_many_days_are_left_or_overdue():
    assert "(còn 1 ngày)" in reminder_text_on(date(2026, 3, 17))
    assert "(hôm nay là hạn cuối)" in reminder_text_on(date(2026, 3, 18))
    late = reminder_text_on(date(2026, 3, 23))
    assert "có hạn hoàn thành ngày 18/03/2026 (đã quá hạn 3 ngày làm việc)" in late


def test_it_tells_when_the_deadline_falls_in_a_holiday():
    text = reminder_text_on(date(2026, 2, 13), deadline=TET_DEADLINE)
    assert "18/02/2026 (còn 5 ngày, hôm nay là ngày làm việc cuối cùng trước hạn)" in text
    assert "(đã quá hạn 1 ngày làm việc)" in reminder_text_on(date(2026, 2, 23), deadline=TET_DEADLINE)


def test_it_leaves_out_what_a_unit_does_not_lack():
    status = unit(errors=0, incomplete_sections=(), sheet_url=None, completeness=1.0)
    text = reminder_text_on(date(2026, 3, 17), status)
    assert "Mức độ hoàn thành: 100%." in text
    assert "lỗi" not in text and "chưa hoàn thành" not in text and "Bảng báo cáo" not in text


def test_it_never_rounds_an_unfinished_report_up_to_100_percent():
    assert "Mức độ hoàn thành: 99%." in reminder_text_on(date(2026, 3, 17), unit(completeness=0.996))


def test_it_explains_a_returned_report():
    assert "đã bị trả lại" in reminder_text_on(date(2026, 3, 17), unit(state="tra_lai"))


def test_it_shortens_a_long_list_of_incomplete_sections():
    sections = tuple(f"Phần {n}" for n in range(1, 13))
    text = reminder_text_on(date(2026, 3, 17), unit(incomplete_sections=sections))
    assert "Phần 8 và 4 phần khác." in text and "Phần 9" not in text


UNITS = [
    unit(code="STP", name="Sở Tư pháp", state="dang_nhap", errors=2),
    unit(code="SYT", name="Sở Y tế", state="chua_mo", errors=0),
    unit(code="SXD", name="Sở Xây dựng", state="da_nop_con_loi", errors=1),
    unit(code="STC", name="Sở Tài chính", state="hop_le", errors=0),
    unit(code="SNV", name="Sở Nội vụ", state="da_duyet", errors=0),
]


def test_it_digests_counts_late_units_and_units_with_errors_for_the_coordinator():
    text = digest(at(date(2026, 3, 20), 16), PERIOD, MARCH_DEADLINE, UNITS, calendar=CALENDAR)
    assert text.splitlines() == [
        "Tổng hợp báo cáo CCHC Quý I năm 2026 ngày 20/03/2026",
        "Hạn hoàn thành: 18/03/2026 (đã quá hạn 2 ngày làm việc)",
        "Đã nộp: 3/5; hợp lệ: 2/5; trễ hạn: 3; chưa mở: 1",
        "Đơn vị trễ hạn: Sở Tư pháp, Sở Y tế, Sở Xây dựng",
        "Đơn vị còn lỗi: Sở Tư pháp (2 lỗi), Sở Xây dựng (1 lỗi)",
    ]


def test_it_lists_no_late_units_before_the_deadline():
    text = digest(at(date(2026, 3, 16), 16), PERIOD, MARCH_DEADLINE, UNITS)
    assert "Hạn hoàn thành: 18/03/2026 (còn 2 ngày)" in text
    assert "trễ hạn: 0" in text
    assert "Đơn vị trễ hạn" not in text
