"""Properties of issue 14's terms (hypothesis): discounts never take more than the invoice asks
for and never change anything else; spend threshold billing bills whole thresholds and leaves
less than one; an auto-recharge brings the balance to its target; a recurring commit's prorated
pieces never exceed the full amount and its full periods are the full amount; seat changes
charge the same as a seat count held for the whole period and the seats added for their part."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import full_precision, round_amount
from customers import periods, recurring
from invoicing.rating import (
    Discount,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Subscription,
    Usage,
    rate_invoice,
    recharge_amount,
    spend_threshold_amount,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
TOKENS = Product(id="tokens", name="Tokens", type="USAGE")
FEE = Product(id="fee", name="Discounts", type="FIXED")
SEATS = Product(id="seats", name="Seats", type="SUBSCRIPTION")
amounts = st.integers(min_value=0, max_value=10_000_000).map(D)


def _usage_input(quantity: Decimal, discounts=()) -> RatingInput:
    return RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=(TOKENS, FEE, SEATS),
        rates=(Rate(product_id="tokens", rate_type="FLAT", starting_at=MAR_1, price=D(3)),),
        usage=(
            Usage(product_id="tokens", starting_at=MAR_1, ending_before=APR_1, quantity=quantity),
        )
        if quantity
        else (),
        discounts=tuple(discounts),
    )


@settings(max_examples=200, deadline=None)
@given(
    quantity=st.integers(min_value=0, max_value=1_000_000).map(D),
    items=st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), amounts), min_size=1, max_size=5
    ),
)
def test_discounts_never_take_more_than_is_owed_and_change_nothing_else(quantity, items):
    discounts = [
        Discount(
            id=f"d{i}", product_id="fee", timestamp=MAR_1 + timedelta(days=day), unit_price=amount
        )
        for i, (day, amount) in enumerate(items)
    ]
    plain = rate_invoice(_usage_input(quantity))
    discounted = rate_invoice(_usage_input(quantity, discounts))
    taken = -sum(line.total for line in discounted.lines if line.type == "discount")
    assert discounted.total == max(D(0), plain.total - sum(amount for _, amount in items))
    assert discounted.total == plain.total - taken
    assert discounted.subtotal == plain.subtotal
    assert [line for line in discounted.lines if line.type != "discount"] == list(plain.lines)


@given(owed=amounts, threshold=st.integers(min_value=1, max_value=1_000_000).map(D))
def test_spend_threshold_bills_whole_thresholds_and_leaves_less_than_one(owed, threshold):
    billed = spend_threshold_amount(owed=owed, threshold=threshold)
    assert billed % threshold == 0
    assert D(0) <= owed - billed < threshold


@given(left=amounts, threshold=amounts, extra=st.integers(min_value=1, max_value=10_000).map(D))
def test_an_auto_recharge_brings_the_balance_to_its_target(left, threshold, extra):
    recharge_to = threshold + extra
    bought = recharge_amount(left=left, threshold=threshold, recharge_to=recharge_to)
    if left < threshold:
        assert left + bought == recharge_to
    else:
        assert bought == 0


@settings(max_examples=100, deadline=None)
@given(
    start_day=st.integers(min_value=0, max_value=27),
    start_hour=st.integers(min_value=0, max_value=23),
    months=st.integers(min_value=1, max_value=6),
    amount=st.integers(min_value=0, max_value=1_000_000).map(D),
)
def test_recurring_pieces_never_exceed_the_full_amount(start_day, start_hour, months, amount):
    start = MAR_1 + timedelta(days=start_day, hours=start_hour)
    end = periods.add_months(MAR_1, months) + timedelta(days=start_day)
    schedule = periods.Schedule(
        frequency="MONTHLY", day="FIRST_OF_MONTH", contract_starting_at=MAR_1
    )
    found = recurring.occurrences(
        schedule=schedule,
        starting_at=start,
        ending_before=end,
        until=end,
        amount=amount,
        invoice_amount=amount,
        duration_periods=1,
        proration="FIRST_AND_LAST",
        decimal_places=0,
    )
    assert found and all(o.amount <= amount and o.invoice_amount == o.amount for o in found)
    for occurrence in found[1:-1]:
        assert occurrence.amount == amount  # whole periods are not prorated
    whole = recurring.occurrences(
        schedule=schedule,
        starting_at=start,
        ending_before=end,
        until=end,
        amount=amount,
        invoice_amount=None,
        duration_periods=1,
        proration="NONE",
        decimal_places=0,
    )
    assert [o.amount for o in whole] == [amount] * len(found)
    for occurrence in found:
        assert occurrence.starting_at < occurrence.ending_before


@settings(max_examples=100, deadline=None)
@given(
    seats=st.integers(min_value=0, max_value=50),
    added=st.integers(min_value=0, max_value=50),
    day=st.integers(min_value=1, max_value=30),
    price=st.integers(min_value=0, max_value=100_000).map(D),
)
def test_seats_added_mid_period_cost_their_share(seats, added, day, price):
    change = MAR_1 + timedelta(days=day)
    common = {
        "id": "sub",
        "product_id": "seats",
        "collection_schedule": "ADVANCE",
        "billing_frequency": "MONTHLY",
    }
    rating_input = RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=(SEATS,),
        rates=(
            Rate(
                product_id="seats",
                rate_type="SUBSCRIPTION",
                starting_at=MAR_1,
                price=price,
                billing_frequency="MONTHLY",
            ),
        ),
        subscriptions=(
            Subscription(**common, quantity=D(seats), starting_at=MAR_1, ending_before=change),
            Subscription(**common, quantity=D(seats + added), starting_at=change),
        ),
    )
    total = rate_invoice(rating_input).total
    month = (APR_1 - MAR_1) // timedelta(microseconds=1)
    before = D((change - MAR_1) // timedelta(microseconds=1)) / D(month)
    after = D((APR_1 - change) // timedelta(microseconds=1)) / D(month)
    with full_precision():
        pieces = round_amount(price * seats * before, 0) + round_amount(
            price * (seats + added) * after, 0
        )
        exact = price * seats + price * added * after
    # Each piece is rounded once; together they are the old seats for the month and the added
    # ones for their share of it, within a cent per piece.
    assert total == pieces
    assert abs(total - exact) <= 1
