"""DAILY recurring commits and credits (pure): one occurrence per day from the term's own start,
usable for `duration` days, the last day prorated by the hours it keeps."""

from datetime import UTC, datetime
from decimal import Decimal

from customers import periods, recurring

D = Decimal


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _daily(start: datetime, end: datetime, *, proration="FIRST_AND_LAST", duration=1):
    schedule = periods.Schedule(frequency="DAILY", day="CONTRACT_START", contract_starting_at=start)
    return [
        (o.starting_at, o.ending_before, o.amount)
        for o in recurring.occurrences(
            schedule=schedule,
            starting_at=start,
            ending_before=end,
            until=end,
            amount=D(2400),
            invoice_amount=None,
            duration_periods=duration,
            proration=proration,
            decimal_places=0,
        )
    ]


def test_a_daily_credit_is_made_each_day_and_the_cut_last_day_is_prorated():
    # 2400 a day from 1 March 06:00 to 3 March 00:00: one whole day, then 18 of 24 hours.
    assert _daily(_at(1, 6), _at(3)) == [
        (_at(1, 6), _at(2, 6), D(2400)),
        (_at(2, 6), _at(3, 6), D(1800)),
    ]


def test_without_proration_the_cut_day_gets_the_whole_amount():
    assert _daily(_at(1), _at(3, 12), proration="NONE") == [
        (_at(1), _at(2), D(2400)),
        (_at(2), _at(3), D(2400)),
        (_at(3), _at(4), D(2400)),
    ]


def test_each_daily_occurrence_is_usable_for_its_duration_in_days():
    assert _daily(_at(1), _at(3), duration=3) == [
        (_at(1), _at(4), D(2400)),
        (_at(2), _at(5), D(2400)),
    ]


def test_daily_periods_on_the_first_of_month_anchor_are_utc_days():
    schedule = periods.Schedule(
        frequency="DAILY", day="FIRST_OF_MONTH", contract_starting_at=_at(1, 15)
    )
    assert periods.full_period_containing(schedule, _at(7, 9)) == periods.Period(_at(7), _at(8))
