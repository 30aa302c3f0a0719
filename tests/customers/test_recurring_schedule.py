"""Metronome's recurring_schedule as dated items (pure): the dates every frequency from the start,
clamped at month end, and the amount given to EACH or divided so the items sum to it exactly."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from catalog.money import divide_amount
from customers.recurring import ScheduledItem, schedule_items_from_recurrence

D = Decimal


def _at(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _items(distribution: str, *, frequency: str = "MONTHLY", end=None, places=2, **price):
    return schedule_items_from_recurrence(
        amount_distribution=distribution,
        starting_at=_at(2026, 1),
        ending_before=end or _at(2026, 4),
        frequency=frequency,
        decimal_places=places,
        **price,
    )


def test_divided_rounded_gives_the_cent_left_over_to_the_last_item():
    assert _items("DIVIDED_ROUNDED", amount=D("1000.00")) == [
        ScheduledItem(_at(2026, 1), D("333.33")),
        ScheduledItem(_at(2026, 2), D("333.33")),
        ScheduledItem(_at(2026, 3), D("333.34")),
    ]


def test_divided_rounded_in_usd_cents_rounds_to_whole_cents():
    # $1,000.00 is 100000 cents; the unit's smallest amount is one cent (0 places).
    assert [i.amount for i in _items("DIVIDED_ROUNDED", amount=D(100000), places=0)] == [
        D(33333),
        D(33333),
        D(33334),
    ]


def test_each_repeats_the_amount_on_every_date():
    assert _items("EACH", amount=D(100)) == [
        ScheduledItem(_at(2026, 1), D(100)),
        ScheduledItem(_at(2026, 2), D(100)),
        ScheduledItem(_at(2026, 3), D(100)),
    ]


def test_each_keeps_the_unit_price_and_quantity():
    items = _items("EACH", unit_price=D(25), quantity=D(4), frequency="QUARTERLY")
    assert items == [ScheduledItem(_at(2026, 1), None, D(25), D(4))]


def test_divided_shares_the_price_times_quantity_to_storage_precision():
    items = _items("DIVIDED", unit_price=D(50), quantity=D(20))
    assert [i.amount for i in items] == [
        D("333.333333333333"),
        D("333.333333333333"),
        D("333.333333333334"),
    ]


def test_dates_are_counted_from_the_start_and_clamped_at_month_end():
    items = schedule_items_from_recurrence(
        amount_distribution="EACH",
        starting_at=_at(2028, 1, 31),
        ending_before=_at(2028, 6, 1),
        frequency="MONTHLY",
        amount=D(1),
        decimal_places=0,
    )
    assert [i.timestamp for i in items] == [
        _at(2028, 1, 31),
        _at(2028, 2, 29),
        _at(2028, 3, 31),
        _at(2028, 4, 30),
        _at(2028, 5, 31),
    ]


def test_semi_annual_and_annual_steps():
    two_years = _at(2028, 1)
    semi = _items("EACH", amount=D(1), frequency="SEMI_ANNUAL", end=two_years)
    assert [i.timestamp for i in semi] == [_at(2026, 1), _at(2026, 7), _at(2027, 1), _at(2027, 7)]
    annual = _items("EACH", amount=D(1), frequency="ANNUAL", end=two_years)
    assert [i.timestamp for i in annual] == [_at(2026, 1), _at(2027, 1)]


@given(
    cents=st.integers(min_value=0, max_value=10**14),
    places=st.integers(min_value=0, max_value=4),
    parts=st.integers(min_value=1, max_value=60),
)
def test_divided_shares_always_sum_to_the_amount_and_none_is_negative(cents, places, parts):
    total = D(cents).scaleb(-places)
    shares = divide_amount(total, parts, places)
    assert len(shares) == parts
    assert sum(shares) == total
    assert all(share >= 0 for share in shares)
    assert max(shares) == shares[-1]


@given(
    cents=st.integers(min_value=0, max_value=10**12),
    months=st.integers(min_value=1, max_value=36),
    distribution=st.sampled_from(["DIVIDED", "DIVIDED_ROUNDED"]),
)
def test_recurring_items_always_sum_to_the_amount(cents, months, distribution):
    amount = D(cents).scaleb(-2)
    items = schedule_items_from_recurrence(
        amount_distribution=distribution,
        starting_at=_at(2026, 1, 31),
        ending_before=_at(2026 + months // 12, months % 12 + 1, 15),
        frequency="MONTHLY",
        amount=amount,
        decimal_places=2,
    )
    assert sum(i.amount for i in items) == amount
