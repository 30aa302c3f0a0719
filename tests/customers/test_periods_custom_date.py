"""CUSTOM_DATE usage statement schedules (pure): periods counted from the billing anchor date,
monthly on its day of the month and clamped to the month's end, cut by the contract's dates."""

from datetime import UTC, datetime

import pytest

from customers.periods import Period, Schedule, first_period, periods_between


def t(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _periods(schedule: Schedule, until: datetime) -> list[tuple[datetime, datetime]]:
    return [
        (p.starting_at, p.ending_before)
        for p in periods_between(schedule, schedule.contract_starting_at, until)
    ]


def test_an_anchor_on_the_31st_gives_month_end_periods_clamped_each_month():
    schedule = Schedule(
        "MONTHLY", "CUSTOM_DATE", t(2026, 1, 15), billing_anchor_date=t(2025, 12, 31)
    )
    assert _periods(schedule, t(2026, 6, 1)) == [
        (t(2026, 1, 15), t(2026, 1, 31)),
        (t(2026, 1, 31), t(2026, 2, 28)),
        (t(2026, 2, 28), t(2026, 3, 31)),
        (t(2026, 3, 31), t(2026, 4, 30)),
        (t(2026, 4, 30), t(2026, 5, 31)),
        (t(2026, 5, 31), t(2026, 6, 30)),
    ]


def test_metronomes_example_an_anchor_before_the_start():
    # Starting 2024-09-15, anchored on 2024-09-10: the first statement covers 09-15 to 10-10.
    schedule = Schedule(
        "MONTHLY", "CUSTOM_DATE", t(2024, 9, 15), billing_anchor_date=t(2024, 9, 10)
    )
    first = first_period(schedule)
    assert (first.period, first.full) == (
        Period(t(2024, 9, 15), t(2024, 10, 10)),
        Period(t(2024, 9, 10), t(2024, 10, 10)),
    )


def test_an_anchor_after_the_start_and_a_quarterly_frequency():
    schedule = Schedule(
        "QUARTERLY",
        "CUSTOM_DATE",
        t(2026, 1, 1),
        t(2026, 9, 1),
        billing_anchor_date=t(2026, 2, 28),
    )
    assert _periods(schedule, t(2027, 1, 1)) == [
        (t(2026, 1, 1), t(2026, 2, 28)),
        (t(2026, 2, 28), t(2026, 5, 28)),
        (t(2026, 5, 28), t(2026, 8, 28)),
        (t(2026, 8, 28), t(2026, 9, 1)),
    ]


def test_custom_date_and_only_it_has_an_anchor():
    with pytest.raises(ValueError):
        Schedule("MONTHLY", "CUSTOM_DATE", t(2026, 1, 1))
    with pytest.raises(ValueError):
        Schedule("MONTHLY", "FIRST_OF_MONTH", t(2026, 1, 1), billing_anchor_date=t(2026, 1, 5))
