"""Seats added inside a period to a recurring commit's or credit's subscription (pure: Metronome's
`apply_seat_increase_config`). Checked by hand, in cents: 100.00 a seat (10000) a month, April
2026 (30 days); seats added on 11 April have 20 of its 30 days left.

- POOLED, 2 seats, +2 on 11 April: prorated 20000 + 2 x 10000 x 20/30 = 20000 + 13333 (13333.33
  rounded once, half up) = 33333 (333.33); not prorated 20000 + 20000 = 40000 (400.00).
- INDIVIDUAL, u1 and u2, u3 assigned on 11 April: 10000 each, u3 10000 x 20/30 = 6667.
- A decrease takes nothing back; a rise back to the seats already granted adds nothing.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import round_amount
from customers import periods, recurring

D = Decimal
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
APR_11 = datetime(2026, 4, 11, tzinfo=UTC)
APR_21 = datetime(2026, 4, 21, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)
PER_SEAT = recurring.Pricing(amount=D(10000), invoice_amount=D(10000), decimal_places=0)


def _april(*, starting_at=APR_1, proration="FIRST_AND_LAST") -> recurring.Occurrence:
    schedule = periods.Schedule(
        frequency="MONTHLY", day="FIRST_OF_MONTH", contract_starting_at=APR_1
    )
    (april,) = recurring.occurrences(
        schedule=schedule,
        starting_at=starting_at,
        ending_before=MAY_1,
        until=MAY_1,
        amount=D(10000),
        invoice_amount=None,
        duration_periods=1,
        proration=proration,
        decimal_places=0,
    )
    return april


def _counts(*rows) -> list[recurring.SeatCount]:
    return [recurring.SeatCount(moment, D(quantity), tuple(ids)) for moment, quantity, *ids in rows]


def _grants(grants) -> list[tuple]:
    return [(g.starting_at, g.seats, g.amount, g.invoice_amount, g.increase) for g in grants]


def test_a_pool_gains_two_added_seats_for_the_days_left():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 2), (APR_11, 4)), PER_SEAT, prorate_increases=True
    )
    assert _grants(grants) == [
        (APR_1, D(2), D(20000), D(20000), False),
        (APR_11, D(2), D(13333), D(13333), True),
    ]
    assert grants[1].fraction == Fraction(20, 30)
    assert sum(g.amount for g in grants) == D(33333)  # 333.33


def test_a_pool_not_prorated_gains_the_whole_per_seat_amount():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 2), (APR_11, 4)), PER_SEAT, prorate_increases=False
    )
    assert _grants(grants) == [
        (APR_1, D(2), D(20000), D(20000), False),
        (APR_11, D(2), D(20000), D(20000), True),
    ]
    assert sum(g.amount for g in grants) == D(40000)  # 400.00


def test_new_seat_ids_get_their_own_balance_from_when_they_are_assigned():
    counts = _counts((APR_1, 2, "u1", "u2"), (APR_11, 3, "u1", "u2", "u3"))
    grants = recurring.individual_grants(_april(), counts, PER_SEAT, prorate_increases=True)
    assert {seat: _grants([g])[0] for seat, g in grants.items()} == {
        "u1": (APR_1, D(1), D(10000), D(10000), False),
        "u2": (APR_1, D(1), D(10000), D(10000), False),
        "u3": (APR_11, D(1), D(6667), D(6667), True),
    }
    whole = recurring.individual_grants(_april(), counts, PER_SEAT, prorate_increases=False)
    assert whole["u3"].amount == D(10000)


def test_a_seat_removed_keeps_its_balance_and_a_swapped_in_seat_gets_one():
    counts = _counts((APR_1, 2, "u1", "u2"), (APR_11, 2, "u1", "u3"), (APR_21, 2, "u1", "u2"))
    grants = recurring.individual_grants(_april(), counts, PER_SEAT, prorate_increases=True)
    assert {seat: (g.starting_at, g.amount) for seat, g in grants.items()} == {
        "u1": (APR_1, D(10000)),
        "u2": (APR_1, D(10000)),  # removed on the 11th, back on the 21st: granted once
        "u3": (APR_11, D(6667)),
    }


def test_a_decrease_takes_nothing_back_and_a_rise_back_adds_nothing():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 4), (APR_11, 2), (APR_21, 4)), PER_SEAT, prorate_increases=True
    )
    assert _grants(grants) == [(APR_1, D(4), D(40000), D(40000), False)]


def test_only_the_seats_above_every_count_before_are_added():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 4), (APR_11, 2), (APR_21, 5)), PER_SEAT, prorate_increases=True
    )
    # One seat above the 4 granted, for 10 of 30 days: 3333.33 -> 3333.
    assert _grants(grants)[1:] == [(APR_21, D(1), D(3333), D(3333), True)]


def test_a_pool_made_already_gains_only_the_seats_above_those_it_holds():
    counts = _counts((APR_1, 4), (APR_11, 6))
    grants = recurring.pooled_grants(
        _april(), counts, PER_SEAT, prorate_increases=True, covered=D(4)
    )
    assert _grants(grants) == [(APR_11, D(2), D(13333), D(13333), True)]
    assert (
        recurring.pooled_grants(_april(), counts, PER_SEAT, prorate_increases=True, covered=D(6))
        == []
    )


def test_seats_added_from_the_period_start_after_the_pool_was_made_count_in_full():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 4)), PER_SEAT, prorate_increases=True, covered=D(2)
    )
    assert _grants(grants) == [(APR_1, D(2), D(20000), D(20000), True)]


def test_an_increase_dated_inside_a_billed_period_counts_from_its_end():
    grants = recurring.pooled_grants(
        _april(),
        _counts((APR_1, 2), (APR_11, 4)),
        PER_SEAT,
        prorate_increases=True,
        covered=D(2),
        not_before=APR_21,
    )
    assert _grants(grants) == [(APR_21, D(2), D(6667), D(6667), True)]  # 20000 x 10/30
    assert (
        recurring.pooled_grants(
            _april(),
            _counts((APR_1, 2), (APR_11, 4)),
            PER_SEAT,
            prorate_increases=True,
            covered=D(2),
            not_before=MAY_1,
        )
        == []
    )


def test_the_rounding_is_of_the_whole_increase_not_of_one_seat_then_multiplied():
    # Three seats for 10 of 30 days: 30000 / 3 = 10000 exactly; per seat 3333.33 -> 3333, x 3
    # would make 9999.
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 0), (APR_21, 3)), PER_SEAT, prorate_increases=True
    )
    assert grants[1].amount == D(10000)


def test_a_configured_proration_rounding_rounds_an_increase():
    pricing = recurring.Pricing(
        amount=D(10000),
        invoice_amount=D(10000),
        decimal_places=0,
        access_rounding=recurring.Rounding(-2, "FLOOR"),
        invoice_rounding=recurring.Rounding(0, "CEILING"),
    )
    grants = recurring.pooled_grants(
        _april(), _counts((APR_1, 2), (APR_11, 4)), pricing, prorate_increases=True
    )
    assert _grants(grants)[1] == (APR_11, D(2), D(13300), D(13334), True)


def test_in_a_first_period_cut_by_the_start_an_increase_not_prorated_gets_what_a_seat_got():
    # The term starts 11 April, FIRST_AND_LAST: a seat's April is 20/30 (6667); seats added on
    # the 21st get 10/30 prorated (3333), or a seat's April (6667) when not.
    april = _april(starting_at=APR_11)
    counts = _counts((APR_11, 1), (APR_21, 2))
    prorated = recurring.pooled_grants(april, counts, PER_SEAT, prorate_increases=True)
    whole = recurring.pooled_grants(april, counts, PER_SEAT, prorate_increases=False)
    assert [g.amount for g in prorated] == [D(6667), D(3333)]
    assert [g.amount for g in whole] == [D(6667), D(6667)]


def test_seats_counted_before_the_subscription_starts_make_an_empty_pool_then_an_increase():
    grants = recurring.pooled_grants(
        _april(), _counts((APR_11, 3)), PER_SEAT, prorate_increases=True
    )
    assert _grants(grants) == [
        (APR_1, D(0), D(0), D(0), False),
        (APR_11, D(3), D(20000), D(20000), True),
    ]


@pytest.mark.parametrize("prorate", [True, False])
def test_an_increase_on_the_last_day_of_the_period_is_not_its_next_period(prorate):
    last = MAY_1 - timedelta(days=1)
    (_, added) = recurring.pooled_grants(
        _april(), _counts((APR_1, 1), (last, 2), (MAY_1, 9)), PER_SEAT, prorate_increases=prorate
    )
    assert (added.starting_at, added.seats) == (last, D(1))
    assert added.amount == (D(333) if prorate else D(10000))  # 10000 x 1/30 = 333.33


# --- Properties ---------------------------------------------------------------------------------


def _exact_share(seats: int, unit: int, day: int) -> Fraction:
    """`seats` added on April's `day` (0 = the 1st), for the days left of 30."""
    return Fraction(seats * unit * (30 - day), 30)


def _half_up(value: Fraction) -> int:
    return int(round_amount(D(value.numerator) / D(value.denominator), 0))


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=40),
    changes=st.lists(
        st.tuples(st.integers(min_value=1, max_value=29), st.integers(min_value=0, max_value=40)),
        max_size=8,
        unique_by=lambda change: change[0],
    ),
    unit=st.integers(min_value=0, max_value=1_000_000),
    prorate=st.booleans(),
)
def test_the_amount_added_is_each_added_seat_for_its_days_left_and_never_negative(
    start, changes, unit, prorate
):
    changes = sorted(changes)
    counts = _counts((APR_1, start), *((APR_1 + timedelta(days=d), q) for d, q in changes))
    pricing = recurring.Pricing(amount=D(unit), invoice_amount=None, decimal_places=0)
    base, *added = recurring.pooled_grants(_april(), counts, pricing, prorate_increases=prorate)
    assert (base.seats, base.amount) == (D(start), D(start * unit))
    # The seats added are those above every count before, each added once.
    high = start
    expected = []
    for day, quantity in changes:
        if quantity > high:
            expected.append((day, quantity - high))
            high = quantity
    assert [(g.starting_at, g.seats) for g in added] == [
        (APR_1 + timedelta(days=day), D(seats)) for day, seats in expected
    ]
    assert sum(g.seats for g in added) == D(max([start, *(q for _, q in changes)]) - start)
    for grant, (day, seats) in zip(added, expected, strict=True):
        assert grant.amount >= 0
        share = _exact_share(seats, unit, day) if prorate else Fraction(seats * unit)
        assert grant.amount == _half_up(share)  # rounded once, on the seats' whole amount
    # Summed over the increases, within half a cent per increase of the seats' exact amounts.
    exact = sum(
        (_exact_share(s, unit, d) if prorate else Fraction(s * unit) for d, s in expected),
        Fraction(0),
    )
    assert abs(Fraction(sum(g.amount for g in added)) - exact) <= Fraction(len(added), 2)


@settings(max_examples=100, deadline=None)
@given(
    assignments=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=29),
            st.frozensets(st.sampled_from(["a", "b", "c", "d", "e"])),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda row: row[0],
    ),
)
def test_every_seat_assigned_in_the_period_gets_one_balance_from_its_first_day(assignments):
    rows = sorted(assignments, key=lambda row: row[0])
    counts = _counts(*((APR_1 + timedelta(days=d), len(ids), *sorted(ids)) for d, ids in rows))
    grants = recurring.individual_grants(_april(), counts, PER_SEAT, prorate_increases=True)
    first: dict[str, int] = {}
    for day, ids in rows:
        for seat in ids:
            first.setdefault(seat, day)
    assert set(grants) == set(first)
    for seat, day in first.items():
        assert grants[seat].starting_at == APR_1 + timedelta(days=day)
        assert grants[seat].amount == _half_up(_exact_share(1, 10000, day))
        assert grants[seat].increase == (day > 0)


def test_a_prorated_amount_for_several_units_is_rounded_once_on_the_whole():
    # Metronome rounds "prorated recurring commit amounts" (proration_rounding): the commit's
    # amount, the unit price times the quantity, not each unit's share. Three units of 10000 for
    # 10 of 30 days: 10000 exactly (per unit, 3333 x 3 would be 9999).
    pricing = recurring.Pricing(amount=D(10000), invoice_amount=D(10000), decimal_places=0)
    third = Fraction(10, 30)
    assert pricing.amounts(third, units=D(3), invoice_units=D(1)) == (D(10000), D(3333))
    floor = recurring.Pricing(
        amount=D(10000),
        invoice_amount=None,
        decimal_places=0,
        access_rounding=recurring.Rounding(-2, "FLOOR"),
    )
    assert floor.amounts(third, units=D(3)) == (D(10000), None)  # exact: not 9999.99... -> 9900
    assert floor.amounts(third, units=D(2)) == (D(6600), None)  # 6666.67 floored to hundreds


def test_seats_there_from_the_start_of_a_partly_billed_period_get_the_whole_period():
    counts = _counts((APR_1, 2, "u1", "u2"), (APR_11, 3, "u1", "u2", "u3"))
    grants = recurring.individual_grants(
        _april(), counts, PER_SEAT, prorate_increases=True, not_before=APR_21
    )
    assert {seat: (g.starting_at, g.amount) for seat, g in grants.items()} == {
        "u1": (APR_1, D(10000)),
        "u2": (APR_1, D(10000)),
        "u3": (APR_21, D(3333)),  # assigned on the 11th, inside what was billed: from the 21st
    }
