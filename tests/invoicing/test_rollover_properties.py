"""Burn-down with rollover balances (pure engine): rollover balances draw first, postpaid before
prepaid, then priority, fewest applicable products, earliest end; and the burn-down properties
(no negative line, no overdraw, order independent of the input, conservation) still hold when
some balances are rollovers."""

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.rating import (
    AccessSegment,
    Balance,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Usage,
    burn_down_order,
    rate_invoice,
)
from tests.invoicing import test_rating_terms_properties as base

D = Decimal
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)


@st.composite
def rollover_worlds(draw):
    """`base.worlds()` with some of its balances made rollovers."""
    world = draw(base.worlds())
    flags = draw(
        st.lists(st.booleans(), min_size=len(world.balances), max_size=len(world.balances))
    )
    return dataclasses.replace(
        world,
        balances=tuple(
            dataclasses.replace(balance, is_rollover=flag)
            for balance, flag in zip(world.balances, flags, strict=True)
        ),
    )


def _documented_key(balance, segment):
    """Metronome's prioritization rules, written independently of the engine: rollover balances
    first (postpaid, then prepaid, then credits; then priority; fewest applicable products;
    earliest end), then the others (priority; free before paid; fewest products; earliest end;
    earliest start); contract-level before customer-level."""
    rest = base._documented_key(balance, segment)  # priority..., credit?, count, end, start, cust
    if balance.is_rollover:
        rank = {"POSTPAID": 0, "PREPAID": 1, "CREDIT": 2}[balance.type]
        return (0, rank, rest[0], rest[1], rest[3], rest[4], rest[5], rest[6])
    return (1, 0, *rest)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_the_drawing_order_with_rollovers_is_the_documented_one(world):
    for unit in (None, "cloud"):
        order = burn_down_order(world, unit)
        keys = [_documented_key(balance, segment) for balance, segment in order]

        assert keys == sorted(keys)
        rollover_seen_after_other = False
        for balance, _segment in order:
            if not balance.is_rollover:
                rollover_seen_after_other = True
            assert not (balance.is_rollover and rollover_seen_after_other)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_no_charge_goes_negative_with_rollovers(world):
    base.test_no_charge_goes_negative_and_every_application_is_negative.hypothesis.inner_test(world)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_no_line_is_drawn_beyond_what_it_charges_with_rollovers(world):
    base.test_no_line_is_drawn_beyond_what_it_charges.hypothesis.inner_test(world)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_no_segment_gives_more_than_it_has_with_rollovers(world):
    base.test_no_segment_gives_more_than_it_has_available.hypothesis.inner_test(world)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds(), seed=st.randoms(use_true_random=False))
def test_the_order_of_the_input_does_not_change_the_invoice_with_rollovers(world, seed):
    base.test_the_order_of_the_input_does_not_change_the_invoice.hypothesis.inner_test(world, seed)


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_a_later_segment_draws_only_when_earlier_ones_are_empty_with_rollovers(world):
    base.test_a_later_segment_draws_a_line_only_when_every_earlier_one_that_could_is_empty.hypothesis.inner_test(
        world
    )


@settings(max_examples=100, deadline=None)
@given(world=rollover_worlds())
def test_money_is_conserved_with_rollovers(world):
    base.test_charges_minus_applications_equal_the_total.hypothesis.inner_test(world)
    base.test_custom_units_convert_exactly_what_their_balances_left.hypothesis.inner_test(world)


# --- Examples ------------------------------------------------------------------------------------

USD = PricingUnit(id="usd", name="USD (cents)")
TOKENS = Product(id="tokens", name="Tokens", type="USAGE")
IMAGES = Product(id="images", name="Images", type="USAGE")
FIXED = Product(id="commit", name="Commitment", type="FIXED")


def _balance(balance_id, kind, *, rollover=False, priority=None, products=(), end=APR_1):
    return Balance(
        id=balance_id,
        type=kind,
        product_id="commit",
        access_schedule=(
            AccessSegment(
                id=f"{balance_id}-s", starting_at=MAR_1, ending_before=end, amount=D(100)
            ),
        ),
        priority=priority,
        applicable_product_ids=products,
        is_rollover=rollover,
    )


def _order(*balances):
    world = RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=(TOKENS, IMAGES, FIXED),
        balances=balances,
    )
    return [balance.id for balance, _ in burn_down_order(world)]


def test_a_rollover_commit_draws_before_a_higher_priority_credit():
    assert _order(
        _balance("credit", "CREDIT", priority=D(0)),
        _balance("rollover", "PREPAID", rollover=True, priority=D(9)),
    ) == ["rollover", "credit"]


def test_postpaid_rollovers_draw_before_prepaid_ones_whatever_the_priority():
    assert _order(
        _balance("prepaid", "PREPAID", rollover=True, priority=D(0)),
        _balance("postpaid", "POSTPAID", rollover=True, priority=D(5)),
    ) == ["postpaid", "prepaid"]


def test_rollovers_of_one_type_go_by_priority_then_fewest_products_then_earliest_end():
    assert _order(
        _balance("late", "PREPAID", rollover=True, priority=D(1), products=("tokens",), end=MAY_1),
        _balance("wide", "PREPAID", rollover=True, priority=D(1)),
        _balance("early", "PREPAID", rollover=True, priority=D(1), products=("tokens",)),
        _balance("first", "PREPAID", rollover=True, priority=D(0)),
    ) == ["first", "early", "late", "wide"]


def test_a_rollover_draws_the_usage_first_on_the_invoice():
    world = RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=(TOKENS, FIXED),
        rates=(Rate(product_id="tokens", rate_type="FLAT", starting_at=MAR_1, price=D(1)),),
        usage=(
            Usage(product_id="tokens", starting_at=MAR_1, ending_before=APR_1, quantity=D(150)),
        ),
        balances=(
            _balance("credit", "CREDIT", priority=D(0)),
            _balance("rollover", "PREPAID", rollover=True, priority=D(9)),
        ),
    )

    applied = [
        (line.applied_commit_or_credit_id, line.total)
        for line in rate_invoice(world).lines
        if line.type == "applied_commit_or_credit"
    ]

    assert applied == [("rollover", D(-100)), ("credit", D(-50))]
