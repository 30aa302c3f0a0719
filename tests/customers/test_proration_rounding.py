"""A recurring commit's or credit's `proration_rounding` (pure): the prorated access and invoice
amounts rounded as configured, in the stored unit (cents for USD), negative places to powers of
ten; without it, half up to the unit's smallest amount. Checked by hand: 1000 cents a month from
11 November (20 of November's 30 days) is 666.666... cents."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import money
from customers import periods, recurring

D = Decimal
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
NOV_11 = datetime(2026, 11, 11, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
DEC_21 = datetime(2026, 12, 21, tzinfo=UTC)
JAN_1 = datetime(2027, 1, 1, tzinfo=UTC)


def _occurrences(*, access=None, invoice=None, proration="FIRST_AND_LAST", end=JAN_1):
    schedule = periods.Schedule(
        frequency="MONTHLY", day="FIRST_OF_MONTH", contract_starting_at=NOV_1
    )
    return [
        (o.starting_at, o.amount, o.invoice_amount)
        for o in recurring.occurrences(
            schedule=schedule,
            starting_at=NOV_11,
            ending_before=end,
            until=end,
            amount=D(1000),
            invoice_amount=D(1000),
            duration_periods=1,
            proration=proration,
            decimal_places=0,
            access_rounding=access,
            invoice_rounding=invoice,
        )
    ]


@pytest.mark.parametrize(
    "places, method, expected",
    [
        (0, "HALF_UP", D(667)),
        (-2, "FLOOR", D(600)),
        (2, "CEILING", D("666.67")),
        (-2, "HALF_UP", D(700)),
        (-3, "CEILING", D(1000)),
        (-3, "FLOOR", D(0)),
        (1, "FLOOR", D("666.6")),
    ],
)
def test_the_first_cut_month_is_rounded_as_configured(places, method, expected):
    first, whole = _occurrences(access=recurring.Rounding(places, method))
    assert first == (NOV_11, expected, D(667))  # the invoice amount keeps today's rule
    assert whole == (DEC_1, D(1000), D(1000))  # a whole period is never rounded


def test_without_a_rounding_prorated_amounts_are_rounded_half_up_to_the_cent():
    assert _occurrences()[0] == (NOV_11, D(667), D(667))


def test_access_and_invoice_amounts_are_rounded_apart():
    first, _ = _occurrences(
        access=recurring.Rounding(-2, "FLOOR"), invoice=recurring.Rounding(2, "CEILING")
    )
    assert first == (NOV_11, D(600), D("666.67"))


def test_the_last_cut_month_is_rounded_too():
    # Until 21 December: 20 of December's 31 days of 1000 is 645.161... cents.
    _, last = _occurrences(access=recurring.Rounding(-1, "CEILING"), end=DEC_21)
    assert last == (DEC_1, D(650), D(645))


def test_no_proration_means_no_rounding():
    first, _ = _occurrences(access=recurring.Rounding(-3, "FLOOR"), proration="NONE")
    assert first == (NOV_11, D(1000), D(1000))


@pytest.mark.parametrize(
    "amount, places, method, expected",
    [
        (D("-666.5"), 0, "HALF_UP", D(-667)),
        (D("-666.5"), 0, "FLOOR", D(-667)),
        (D("-666.5"), 0, "CEILING", D(-666)),
        (D("150"), -2, "HALF_UP", D(200)),
        (D("149.999"), -2, "HALF_UP", D(100)),
        (D("0.000000000001"), 12, "FLOOR", D("0.000000000001")),
    ],
)
def test_round_prorated_by_hand(amount, places, method, expected):
    rounded = money.round_prorated(amount, places, method)
    assert rounded == expected
    assert rounded.as_tuple().exponent <= 0  # 7E+2 is stored as 700


@pytest.mark.parametrize(
    "places, method, message",
    [
        (13, "FLOOR", "decimal places must lie between -26 and 12"),
        (-27, "FLOOR", "decimal places must lie between -26 and 12"),
        (0, "DOWN", "unknown rounding method 'DOWN'"),
    ],
)
def test_round_prorated_refuses(places, method, message):
    with pytest.raises(ValueError, match=message):
        money.round_prorated(D(1), places, method)


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=D(-(10**12)), max_value=D(10**12), places=6, allow_nan=False),
    places=st.integers(min_value=-6, max_value=6),
)
def test_floor_and_ceiling_bracket_the_exact_amount_within_one_step(amount, places):
    floor = money.round_prorated(amount, places, "FLOOR")
    ceiling = money.round_prorated(amount, places, "CEILING")
    half_up = money.round_prorated(amount, places, "HALF_UP")
    step = D(1).scaleb(-places)
    assert floor <= amount <= ceiling
    assert ceiling - floor == (0 if floor == amount else step)
    assert floor <= half_up <= ceiling
    assert abs(half_up - amount) <= step / 2
    for rounded in (floor, ceiling, half_up):
        assert rounded % step == 0
