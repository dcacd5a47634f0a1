from datetime import date

import pytest

from bot.messages.workdays import WorkCalendar, calendar_from_config


@pytest.fixture(scope="module")
def calendar():
    return WorkCalendar()


def test_it_treats_weekdays_as_working_and_weekends_as_off(calendar):
    assert calendar.is_working_day(date(2026, 3, 18))  # Wednesday
    assert calendar.is_working_day(date(2026, 3, 20))  # Friday
    assert not calendar.is_working_day(date(2026, 3, 21))  # Saturday
    assert not calendar.is_working_day(date(2026, 3, 22))  # Sunday


def test_it_gives_the_whole_tet_2026_holiday_off(calendar):
    for day in range(14, 23):  # Saturday 14 to Sunday 22 February 2026
        assert not calendar.is_working_day(date(2026, 2, day)), day
    assert calendar.is_working_day(date(2026, 2, 13))
    assert calendar.is_working_day(date(2026, 2, 23))


def test_it_names_holidays_in_vietnamese(calendar):
    assert calendar.holiday_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert calendar.holiday_name(date(2026, 9, 2)) == "Quốc khánh"
    assert calendar.holiday_name(date(2026, 3, 18)) is None


def test_it_knows_the_saturdays_the_holidays_library_marks_as_worked():
    # Saturday 26/04/2025 was worked in exchange for Friday 02/05/2025.
    calendar = WorkCalendar()  # 2025 not preloaded: loaded on first use
    assert calendar.is_working_day(date(2025, 4, 26))
    assert not calendar.is_working_day(date(2025, 5, 2))
    assert "26/04/2025" in calendar.holiday_name(date(2025, 5, 2))


def test_it_works_a_configured_swapped_saturday_and_rests_a_configured_extra_holiday():
    calendar = WorkCalendar(extra_working_days=[date(2026, 3, 21)], extra_holidays=[date(2026, 3, 20)])
    assert calendar.is_working_day(date(2026, 3, 21))
    assert calendar.holiday_name(date(2026, 3, 21)) is None
    assert not calendar.is_working_day(date(2026, 3, 20))
    assert calendar.holiday_name(date(2026, 3, 20))


def test_it_lets_configuration_make_a_library_holiday_a_working_day():
    calendar = WorkCalendar(extra_working_days=[date(2026, 2, 20)])
    assert calendar.is_working_day(date(2026, 2, 20))
    assert calendar.holiday_name(date(2026, 2, 20)) is None


def test_it_finds_the_next_working_day_or_the_day_itself(calendar):
    assert calendar.next_working_day(date(2026, 3, 18)) == date(2026, 3, 18)
    assert calendar.next_working_day(date(2026, 3, 21)) == date(2026, 3, 23)
    assert calendar.next_working_day(date(2026, 2, 14)) == date(2026, 2, 23)


def test_it_finds_the_previous_working_day_or_the_day_itself(calendar):
    assert calendar.previous_working_day(date(2026, 3, 18)) == date(2026, 3, 18)
    assert calendar.previous_working_day(date(2026, 2, 18)) == date(2026, 2, 13)


def test_it_counts_working_days_after_start_up_to_and_including_end(calendar):
    assert calendar.working_days_between(date(2026, 3, 18), date(2026, 3, 20)) == 2
    assert calendar.working_days_between(date(2026, 3, 18), date(2026, 3, 23)) == 3
    assert calendar.working_days_between(date(2026, 2, 13), date(2026, 2, 23)) == 1
    assert calendar.working_days_between(date(2026, 3, 18), date(2026, 3, 18)) == 0
    assert calendar.working_days_between(date(2026, 3, 20), date(2026, 3, 18)) == 0


def test_it_builds_the_calendar_from_configuration():
    calendar = calendar_from_config({"extra_holidays": ["2026-03-20"], "extra_working_days": ["2026-03-21"]})
    assert not calendar.is_working_day(date(2026, 3, 20))
    assert calendar.is_working_day(date(2026, 3, 21))


def test_it_accepts_a_configuration_without_swapped_days():
    calendar = calendar_from_config({})
    assert calendar.is_working_day(date(2026, 3, 18))
    assert not calendar.is_working_day(date(2026, 3, 21))


def test_it_refuses_an_unparsable_date_naming_the_entry_in_vietnamese():
    with pytest.raises(ValueError, match="Ngày không hợp lệ.*extra_working_days.*'21/03/2026'"):
        calendar_from_config({"extra_working_days": ["2026-03-14", "21/03/2026"]})


def test_it_refuses_a_list_that_is_not_a_list():
    with pytest.raises(ValueError, match="'extra_holidays' phải là danh sách"):
        calendar_from_config({"extra_holidays": "2026-03-20"})


def test_it_refuses_a_date_that_is_both_a_holiday_and_a_working_day():
    with pytest.raises(ValueError, match="21/03/2026 vừa là ngày nghỉ vừa là ngày làm việc"):
        calendar_from_config({"extra_holidays": ["2026-03-21"], "extra_working_days": ["2026-03-21"]})
