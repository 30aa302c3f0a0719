"""Properties of commits and credits limited by specifiers (hypothesis): whatever the specifiers,
balances and usage, a balance draws only usage meeting one of its specifiers (each met when all
its fields match), never more than a line charges or a segment holds, and money is conserved:
what the balances drew plus what is left on the invoice is what the usage charged."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.rating import (
    LINE_STEPS,
    AccessSegment,
    Balance,
    BalanceSpecifier,
    LineType,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Usage,
    allocate_balances,
    apply_overrides,
    custom_unit_lines,
    group_values,
    rate_invoice,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
PRODUCTS = (
    Product(
        id="tokens",
        name="Tokens",
        type="USAGE",
        tags=("ai",),
        pricing_group_keys=("region",),
        presentation_group_keys=("team",),
    ),
    Product(
        id="images",
        name="Images",
        type="USAGE",
        tags=("media", "ai"),
        pricing_group_keys=("region",),
        presentation_group_keys=("team",),
    ),
    Product(id="search", name="Search", type="USAGE", pricing_group_keys=("region",)),
    Product(id="commit", name="Commitment", type="FIXED"),
)
REGIONS = ("us", "eu")
TEAMS = ("a", "b")
prices = st.sampled_from(["1", "3", "7.25", "100"]).map(D)


@st.composite
def rates(draw):
    return tuple(
        Rate(
            product_id=product,
            rate_type="FLAT",
            starting_at=JAN_1,
            price=draw(prices),
            pricing_group_values=group_values({"region": region}),
        )
        for product in ("tokens", "images", "search")
        for region in REGIONS
    )


@st.composite
def usage(draw):
    records = []
    for product, region, (start, end) in itertools.product(
        ("tokens", "images", "search"), REGIONS, itertools.pairwise((MAR_1, MAR_16, APR_1))
    ):
        teams = TEAMS if product != "search" else (None,)
        for team in teams:
            quantity = draw(st.integers(min_value=0, max_value=40).map(D))
            if quantity:
                records.append(
                    Usage(
                        product_id=product,
                        starting_at=start,
                        ending_before=end,
                        quantity=quantity,
                        pricing_group_values=group_values({"region": region}),
                        presentation_group_values=group_values({"team": team} if team else {}),
                    )
                )
    return tuple(records)


@st.composite
def specifiers(draw):
    result = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        result.append(
            BalanceSpecifier(
                product_id=draw(st.none() | st.sampled_from(["tokens", "images", "search"])),
                product_tags=tuple(
                    draw(st.lists(st.sampled_from(["ai", "media"]), unique=True, max_size=2))
                ),
                pricing_group_values=group_values(
                    draw(st.sampled_from([{}, {"region": "us"}, {"region": "eu"}]))
                ),
                presentation_group_values=group_values(
                    draw(st.sampled_from([{}, {"team": "a"}, {"team": "b"}]))
                ),
            )
        )
    return tuple(result)


@st.composite
def balances(draw):
    result = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        start, end = draw(st.sampled_from([(JAN_1, APR_1), (MAR_1, MAR_16), (MAR_16, APR_1)]))
        result.append(
            Balance(
                id=f"b{index}",
                type=draw(st.sampled_from(["PREPAID", "CREDIT"])),
                product_id="commit",
                access_schedule=(
                    AccessSegment(
                        id="s0",
                        starting_at=start,
                        ending_before=end,
                        amount=draw(st.integers(min_value=0, max_value=8000).map(D)),
                    ),
                ),
                priority=draw(st.sampled_from([D(1), D(2)])),
                specifiers=draw(specifiers()),
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


def meets(specifier: BalanceSpecifier, line) -> bool:
    """The documented rule, written out again: every field given matches the line."""
    product = next(p for p in PRODUCTS if p.id == line.product_id)
    return (
        specifier.product_id in (None, line.product_id)
        and all(tag in product.tags for tag in specifier.product_tags)
        and all(pair in line.pricing_group_values for pair in specifier.pricing_group_values)
        and all(
            pair in line.presentation_group_values for pair in specifier.presentation_group_values
        )
    )


def charge_lines(world):
    prepared = apply_overrides(world)
    lines = ()
    for step in LINE_STEPS[: LINE_STEPS.index(custom_unit_lines)]:
        lines = step(prepared, lines)
    return prepared, lines


@settings(max_examples=150, deadline=None)
@given(world=worlds())
def test_a_balance_draws_only_usage_meeting_one_of_its_specifiers(world):
    prepared, lines = charge_lines(world)
    work, allocations = allocate_balances(prepared, lines)
    by_id = {balance.id: balance for balance in world.balances}
    drawn = {}
    for allocation in allocations:
        balance = by_id[allocation.balance_id]
        line = work[allocation.line_index]
        if balance.specifiers:
            assert any(meets(specifier, line) for specifier in balance.specifiers)
        drawn[allocation.line_index] = drawn.get(allocation.line_index, D(0)) + allocation.amount
    for index, amount in drawn.items():
        assert amount <= work[index].total


@settings(max_examples=150, deadline=None)
@given(world=worlds())
def test_drawn_plus_left_on_the_invoice_is_what_the_usage_charged(world):
    result = rate_invoice(world)
    usage_total = sum((line.total for line in result.lines if line.type == LineType.USAGE), D(0))
    drawn = sum(
        (-line.total for line in result.lines if line.type == LineType.APPLIED_COMMIT_OR_CREDIT),
        D(0),
    )
    held = sum((s.amount for b in world.balances for s in b.access_schedule), D(0))

    assert result.subtotal == usage_total
    assert drawn + result.total == usage_total
    assert 0 <= drawn <= held
    assert result.total >= 0
    for draw in result.balance_draws:
        assert draw.drawn + draw.remaining == draw.available


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_a_line_is_left_owed_only_when_every_balance_that_may_draw_it_is_empty(world):
    result = rate_invoice(world)
    if result.total == 0:
        return
    left = {draw.balance_id: draw.remaining for draw in result.balance_draws}
    for balance in world.balances:
        if left.get(balance.id, D(0)) == 0:
            continue
        (segment,) = balance.access_schedule
        for line in result.lines:
            if line.type != LineType.USAGE or line.total == 0:
                continue
            inside = segment.starting_at <= line.starting_at and (
                line.ending_before <= segment.ending_before
            )
            may = not balance.specifiers or any(meets(s, line) for s in balance.specifiers)
            # A balance with money left never leaves a line it may draw unpaid.
            if inside and may:
                drawn_from_line = _drawn_from(world, line)
                assert drawn_from_line == line.total


def _drawn_from(world, line):
    prepared, lines = charge_lines(world)
    work, allocations = allocate_balances(prepared, lines)
    total = D(0)
    for allocation in allocations:
        if work[allocation.line_index] == line:
            total += allocation.amount
    return total
