from datetime import UTC, datetime

import pytest

from customers.periods import (
    Period,
    Schedule,
    first_period,
    full_period_containing,
    next_period,
    period_containing,
    periods_between,
)


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bounds(billing_period):
    return (billing_period.starting_at, billing_period.ending_before)


def test_monthly_first_of_month_is_calendar_months_cut_by_contract_start():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2024, 1, 15, 10))
    first = first_period(schedule)
    assert bounds(first) == (t(2024, 1, 15, 10), t(2024, 2, 1))
    assert (first.full.starting_at, first.full.ending_before) == (t(2024, 1, 1), t(2024, 2, 1))
    second = next_period(schedule, first)
    assert bounds(second) == (t(2024, 2, 1), t(2024, 3, 1))
    assert second.full == second.period


def test_monthly_period_containing_a_month_end_moment():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2023, 6, 1))
    assert bounds(period_containing(schedule, t(2024, 12, 31, 23, 59, 59))) == (
        t(2024, 12, 1),
        t(2025, 1, 1),
    )
    assert bounds(period_containing(schedule, t(2025, 1, 1))) == (t(2025, 1, 1), t(2025, 2, 1))


def test_leap_february():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2024, 1, 1))
    assert bounds(period_containing(schedule, t(2024, 2, 29, 12))) == (t(2024, 2, 1), t(2024, 3, 1))


def test_contract_start_on_the_31st_clamps_each_month_from_the_anchor():
    schedule = Schedule("MONTHLY", "CONTRACT_START", t(2024, 1, 31, 9))
    got = [bounds(p) for p in periods_between(schedule, t(2024, 1, 31, 9), t(2024, 6, 1))]
    assert got == [
        (t(2024, 1, 31, 9), t(2024, 2, 29, 9)),
        (t(2024, 2, 29, 9), t(2024, 3, 31, 9)),
        (t(2024, 3, 31, 9), t(2024, 4, 30, 9)),
        (t(2024, 4, 30, 9), t(2024, 5, 31, 9)),
        (t(2024, 5, 31, 9), t(2024, 6, 30, 9)),
    ]


def test_contract_start_on_the_31st_in_a_non_leap_year():
    schedule = Schedule("MONTHLY", "CONTRACT_START", t(2023, 1, 31))
    assert bounds(period_containing(schedule, t(2023, 3, 1))) == (t(2023, 2, 28), t(2023, 3, 31))


def test_last_period_is_cut_by_contract_end_and_nothing_follows():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2024, 1, 1), t(2024, 3, 10))
    last = period_containing(schedule, t(2024, 3, 5))
    assert bounds(last) == (t(2024, 3, 1), t(2024, 3, 10))
    assert (last.full.starting_at, last.full.ending_before) == (t(2024, 3, 1), t(2024, 4, 1))
    assert next_period(schedule, last) is None
    assert period_containing(schedule, t(2024, 3, 10)) is None


def test_moment_before_contract_start_has_no_period():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2024, 1, 15))
    assert period_containing(schedule, t(2024, 1, 14)) is None


def test_contract_inside_one_month_has_one_period_cut_both_sides():
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", t(2024, 5, 3), t(2024, 5, 20))
    assert [bounds(p) for p in periods_between(schedule, t(2024, 1, 1), t(2025, 1, 1))] == [
        (t(2024, 5, 3), t(2024, 5, 20))
    ]


def test_quarterly_first_of_month_counts_three_months_from_the_start_month():
    schedule = Schedule("QUARTERLY", "FIRST_OF_MONTH", t(2024, 2, 10))
    got = [bounds(p) for p in periods_between(schedule, t(2024, 1, 1), t(2024, 12, 1))]
    assert got == [
        (t(2024, 2, 10), t(2024, 5, 1)),
        (t(2024, 5, 1), t(2024, 8, 1)),
        (t(2024, 8, 1), t(2024, 11, 1)),
        (t(2024, 11, 1), t(2025, 2, 1)),
    ]


def test_quarterly_contract_start_clamps_from_the_anchor():
    schedule = Schedule("QUARTERLY", "CONTRACT_START", t(2023, 11, 30))
    got = [bounds(p) for p in periods_between(schedule, t(2023, 11, 30), t(2024, 6, 1))]
    assert got == [
        (t(2023, 11, 30), t(2024, 2, 29)),
        (t(2024, 2, 29), t(2024, 5, 30)),
        (t(2024, 5, 30), t(2024, 8, 30)),
    ]


def test_annual_contract_start_on_leap_day():
    schedule = Schedule("ANNUAL", "CONTRACT_START", t(2024, 2, 29))
    got = [bounds(p) for p in periods_between(schedule, t(2024, 2, 29), t(2029, 1, 1))]
    assert got[:2] == [(t(2024, 2, 29), t(2025, 2, 28)), (t(2025, 2, 28), t(2026, 2, 28))]
    assert got[4] == (t(2028, 2, 29), t(2029, 2, 28))


def test_annual_first_of_month():
    schedule = Schedule("ANNUAL", "FIRST_OF_MONTH", t(2024, 7, 4))
    assert bounds(first_period(schedule)) == (t(2024, 7, 4), t(2025, 7, 1))
    assert bounds(period_containing(schedule, t(2026, 6, 30))) == (t(2025, 7, 1), t(2026, 7, 1))


def test_weekly_contract_start_runs_seven_days_from_the_start():
    schedule = Schedule("WEEKLY", "CONTRACT_START", t(2024, 2, 27, 6))
    got = [bounds(p) for p in periods_between(schedule, t(2024, 2, 27), t(2024, 3, 12))]
    assert got == [
        (t(2024, 2, 27, 6), t(2024, 3, 5, 6)),
        (t(2024, 3, 5, 6), t(2024, 3, 12, 6)),
    ]


def test_weekly_first_of_month_uses_iso_weeks():
    schedule = Schedule("WEEKLY", "FIRST_OF_MONTH", t(2024, 2, 28, 6))  # a Wednesday
    first = first_period(schedule)
    assert bounds(first) == (t(2024, 2, 28, 6), t(2024, 3, 4))
    assert (first.full.starting_at, first.full.ending_before) == (t(2024, 2, 26), t(2024, 3, 4))
    assert bounds(next_period(schedule, first)) == (t(2024, 3, 4), t(2024, 3, 11))


def test_full_period_containing_far_in_the_future():
    schedule = Schedule("MONTHLY", "CONTRACT_START", t(2020, 8, 31))
    assert full_period_containing(schedule, t(2030, 3, 15)) == Period(
        t(2030, 2, 28), t(2030, 3, 31)
    )


def test_other_timezones_are_read_in_utc():
    from datetime import timedelta, timezone

    paris = timezone(timedelta(hours=1))
    schedule = Schedule("MONTHLY", "FIRST_OF_MONTH", datetime(2024, 2, 1, 0, 30, tzinfo=paris))
    assert bounds(first_period(schedule)) == (t(2024, 1, 31, 23, 30), t(2024, 2, 1))


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError):
        Schedule("HOURLY", "FIRST_OF_MONTH", t(2024, 1, 1))
    with pytest.raises(ValueError):
        Schedule("MONTHLY", "FIRST_OF_MONTH", datetime(2024, 1, 1))
