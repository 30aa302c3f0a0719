"""Properties of QUANTITY balances in the burn-down (hypothesis): units covered plus units billed
are the units used, a segment never covers more units than it has left, what it covers costs the
line's rate, and SPEND balances beside them keep their money rules."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import round_amount
from invoicing.rating import (
    AccessSegment,
    Balance,
    LineType,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Tier,
    Usage,
    rate_invoice,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_10 = datetime(2026, 3, 10, tzinfo=UTC)
MAR_20 = datetime(2026, 3, 20, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 1, 1, tzinfo=UTC)
USAGE_PRODUCTS = ("calls", "storage", "search")
PRODUCTS = (
    *(Product(id=pid, name=pid.title(), type="USAGE") for pid in USAGE_PRODUCTS),
    Product(id="commit", name="Commitment", type="FIXED"),
)

prices = st.sampled_from(["0", "0.5", "1", "2", "3.3", "7.25"]).map(D)
units = st.integers(min_value=0, max_value=3000).map(D)


@st.composite
def rates(draw):
    result = []
    for product in USAGE_PRODUCTS:
        if draw(st.booleans()):
            result.append(
                Rate(product_id=product, rate_type="FLAT", starting_at=JAN_1, price=draw(prices))
            )
        else:
            result.append(
                Rate(
                    product_id=product,
                    rate_type="TIERED",
                    starting_at=JAN_1,
                    tiers=(
                        Tier(price=draw(prices), size=draw(st.sampled_from([D(100), D(1000)]))),
                        Tier(price=draw(prices)),
                    ),
                )
            )
    return tuple(result)


@st.composite
def usage(draw):
    return tuple(
        Usage(product_id=product, starting_at=start, ending_before=end, quantity=quantity)
        for product in USAGE_PRODUCTS
        for start, end in ((MAR_1, MAR_10), (MAR_10, MAR_20), (MAR_20, APR_1))
        if (quantity := draw(st.integers(min_value=0, max_value=900).map(D)))
    )


@st.composite
def balances(draw):
    result = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        quantity = draw(st.booleans())
        amount = draw(units)
        segment = AccessSegment(
            id=f"s{index}",
            starting_at=JAN_1,
            ending_before=draw(st.sampled_from([APR_1, NEXT_YEAR])),
            amount=amount,
            available=draw(st.none() | st.integers(min_value=0, max_value=int(amount)).map(D)),
        )
        scope = draw(st.lists(st.sampled_from(USAGE_PRODUCTS), unique=True, max_size=3))
        result.append(
            Balance(
                id=f"b{index}",
                type=draw(st.sampled_from(["PREPAID", "CREDIT"])),
                product_id="commit",
                access_schedule=(segment,),
                priority=draw(st.sampled_from([D(1), D(2)])),
                applicable_product_ids=tuple(scope or ["calls"]) if quantity else tuple(scope),
                access_type="QUANTITY" if quantity else "SPEND",
            )
        )
    return tuple(result)


@st.composite
def worlds(draw):
    return RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=PRODUCTS,
        rates=draw(rates()),
        usage=draw(usage()),
        balances=draw(balances()),
    )


def _usage_units(lines, product_id: str) -> Decimal:
    return sum(
        (line.quantity for line in lines if line.type == "usage" and line.product_id == product_id),
        D(0),
    )


@settings(max_examples=150, deadline=None)
@given(world=worlds())
def test_units_covered_plus_units_billed_are_the_units_used(world):
    result = rate_invoice(world)
    by_quantity = {b.id: b for b in world.balances if b.access_type == "QUANTITY"}
    for product in USAGE_PRODUCTS:
        used = sum((u.quantity for u in world.usage if u.product_id == product), D(0))
        # Splitting a line into covered and billed units loses and adds none.
        assert _usage_units(result.lines, product) == used
    applications = [
        line
        for line in result.lines
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT
        and line.applied_commit_or_credit_id in by_quantity
    ]
    for line in applications:
        balance = by_quantity[line.applied_commit_or_credit_id]
        (segment,) = balance.access_schedule
        # Never more units than the segment has left, nor than its products used.
        assert D(0) < line.quantity <= segment.available_at_start
        assert line.balance_remaining == segment.available_at_start - line.quantity
        in_scope = sum(
            (_usage_units(result.lines, pid) for pid in balance.applicable_product_ids), D(0)
        )
        assert line.quantity <= in_scope
        assert line.total <= 0
    covered = sum((line.quantity for line in applications), D(0))
    assert covered <= sum((u.quantity for u in world.usage), D(0))
    for draw in result.balance_draws:
        if draw.balance_id in by_quantity:
            assert D(0) <= draw.drawn <= draw.available
            assert draw.remaining == draw.available - draw.drawn
    for line in result.lines:
        if line.type == "usage":
            assert line.total >= 0
    assert result.total >= 0


@settings(max_examples=150, deadline=None)
@given(
    price=prices,
    available=units,
    used=st.lists(st.integers(min_value=0, max_value=900).map(D), min_size=3, max_size=3),
)
def test_one_quantity_credit_covers_the_first_units_at_the_lines_rate(price, available, used):
    """One FLAT product and one QUANTITY credit: min(available, used) units are covered, the
    rest billed at the rate, each part rounded once."""
    world = RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=PRODUCTS,
        rates=(Rate(product_id="calls", rate_type="FLAT", starting_at=JAN_1, price=price),),
        usage=tuple(
            Usage(product_id="calls", starting_at=start, ending_before=end, quantity=quantity)
            for (start, end), quantity in zip(
                ((MAR_1, MAR_10), (MAR_10, MAR_20), (MAR_20, APR_1)), used, strict=True
            )
            if quantity
        ),
        balances=(
            Balance(
                id="credit",
                type="CREDIT",
                product_id="commit",
                access_schedule=(
                    AccessSegment(
                        id="s", starting_at=JAN_1, ending_before=NEXT_YEAR, amount=available
                    ),
                ),
                applicable_product_ids=("calls",),
                access_type="QUANTITY",
            ),
        ),
    )
    result = rate_invoice(world)
    # By hand: each usage record is a line (in time order); the credit covers the first units,
    # a line it covers in part split in two, each part rounded once to the cent.
    left, drawn, billed_money, covered = available, D(0), D(0), D(0)
    for quantity in used:
        if not quantity:
            continue
        take = min(left, quantity) if price > 0 else D(0)
        left -= take
        covered += take
        drawn += round_amount(take * price, 0)
        billed_money += round_amount((quantity - take) * price, 0)
    applied = [line for line in result.lines if line.type == LineType.APPLIED_COMMIT_OR_CREDIT]
    if covered:
        (application,) = applied
        assert application.quantity == covered
        assert application.total == -drawn
        assert application.balance_remaining == available - covered
    else:
        assert applied == []
    assert covered == min(available, sum(used, D(0))) or price == 0
    assert result.total == billed_money
