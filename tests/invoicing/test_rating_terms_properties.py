"""Properties of the commit and credit burn-down (hypothesis): whatever the balances and usage,
no charge goes negative, no segment gives more than it holds, the documented order is followed
whatever the order of the input, and money is conserved."""

import dataclasses
import itertools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.rating import (
    LINE_STEPS,
    AccessSegment,
    Balance,
    Conversion,
    LineType,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Subscription,
    Usage,
    allocate_balances,
    apply_overrides,
    balance_lines,
    burn_down_order,
    custom_unit_lines,
    rate_invoice,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
CLOUD = PricingUnit(id="cloud", name="Cloud credits", decimal_places=2)
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
# Moments where usage is cut and segments start or end (the selector cuts at segment_boundaries).
CUTS = [
    datetime(2026, 2, 1, tzinfo=UTC),
    MAR_1,
    datetime(2026, 3, 10, tzinfo=UTC),
    datetime(2026, 3, 16, tzinfo=UTC),
    APR_1,
    datetime(2026, 5, 1, tzinfo=UTC),
]
INSIDE = CUTS[1:5]
PRODUCTS = (
    Product(id="tokens", name="Tokens", type="USAGE", tags=("ai",)),
    Product(id="images", name="Images", type="USAGE", tags=("media", "ai")),
    Product(id="search", name="Search", type="USAGE"),
    Product(id="platform", name="Platform", type="SUBSCRIPTION"),
    Product(id="commit", name="Commitment", type="FIXED"),
)

amounts = st.integers(min_value=0, max_value=5000).map(D)
prices = st.sampled_from(["0", "0.5", "1", "3", "7.25", "100"]).map(D)


@st.composite
def rates(draw, custom=False):
    result = []
    for product in ("tokens", "images", "search"):
        commit_price = draw(st.none() | prices)
        unit = "cloud" if custom and product == "search" else None
        result.append(
            Rate(
                product_id=product,
                rate_type="FLAT",
                starting_at=JAN_1,
                price=draw(prices),
                commit_price=commit_price,
                credit_type_id=unit,
            )
        )
    result.append(
        Rate(product_id="platform", rate_type="SUBSCRIPTION", starting_at=JAN_1, price=D("999"))
    )
    return tuple(result)


@st.composite
def usage(draw):
    records = []
    for product in ("tokens", "images", "search"):
        for start, end in itertools.pairwise(INSIDE):
            quantity = draw(st.integers(min_value=0, max_value=40).map(D))
            if quantity:
                records.append(
                    Usage(
                        product_id=product, starting_at=start, ending_before=end, quantity=quantity
                    )
                )
    return tuple(records)


@st.composite
def balances(draw, custom=False):
    count = draw(st.integers(min_value=0, max_value=5))
    result = []
    for index in range(count):
        segments = []
        for number in range(draw(st.integers(min_value=1, max_value=2))):
            start, end = sorted(
                draw(st.lists(st.sampled_from(CUTS), min_size=2, max_size=2, unique=True))
            )
            amount = draw(amounts)
            available = draw(st.none() | st.integers(min_value=0, max_value=int(amount)).map(D))
            segments.append(
                AccessSegment(
                    id=f"s{number}",
                    starting_at=start,
                    ending_before=end,
                    amount=amount,
                    available=available,
                )
            )
        balance_type = draw(st.sampled_from(["PREPAID", "POSTPAID", "CREDIT"]))
        result.append(
            Balance(
                id=f"b{index}",
                type=balance_type,
                product_id="commit",
                access_schedule=tuple(segments),
                priority=draw(st.none() | st.sampled_from([D(1), D(2), D("2.5")])),
                rate_type=draw(st.sampled_from(["LIST_RATE", "COMMIT_RATE"])),
                applicable_product_ids=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["tokens", "images", "search", "platform"]),
                            unique=True,
                            max_size=2,
                        )
                    )
                ),
                applicable_product_tags=tuple(
                    draw(st.lists(st.sampled_from(["ai", "media"]), unique=True, max_size=1))
                ),
                is_customer_level=draw(st.booleans()),
                credit_type_id="cloud" if custom and draw(st.booleans()) else None,
                drawn_before=draw(amounts) if balance_type == "POSTPAID" else D(0),
            )
        )
    return tuple(result)


@st.composite
def worlds(draw):
    custom = draw(st.booleans())
    subscriptions = ()
    if draw(st.booleans()):
        subscriptions = (
            Subscription(
                id="sub",
                product_id="platform",
                quantity=D(1),
                collection_schedule="ADVANCE",
                starting_at=JAN_1,
            ),
        )
    return RatingInput(
        pricing_unit=USD,
        period=Period(MAR_1, APR_1),
        products=PRODUCTS,
        rates=draw(rates(custom)),
        usage=draw(usage()),
        subscriptions=subscriptions,
        balances=draw(balances(custom)),
        conversions=(Conversion(custom_credit_type_id="cloud", fiat_per_custom=D("40")),),
        custom_units=(CLOUD,),
    )


def charge_lines(world):
    """The lines before any balance is drawn (the steps before custom_unit_lines)."""
    prepared = apply_overrides(world)
    lines = ()
    for step in LINE_STEPS[: LINE_STEPS.index(custom_unit_lines)]:
        lines = step(prepared, lines)
    return prepared, lines


def draws_by_segment(result):
    drawn = {}
    for line in result.lines:
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT:
            key = (line.applied_commit_or_credit_id, line.commit_segment_id)
            drawn[key] = drawn.get(key, D(0)) - line.total
    return drawn


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_no_charge_goes_negative_and_every_application_is_negative(world):
    result = rate_invoice(world)

    for line in result.lines:
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT:
            assert line.total < 0
            assert line.balance_remaining >= 0
        else:
            assert line.total >= 0
            assert line.quantity is None or line.quantity >= 0
    assert result.total >= 0


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_no_line_is_drawn_beyond_what_it_charges(world):
    prepared, lines = charge_lines(world)
    for unit in (None, "cloud"):
        work, allocations = allocate_balances(prepared, lines, unit)
        drawn = {}
        for allocation in allocations:
            assert allocation.amount > 0
            drawn[allocation.line_index] = (
                drawn.get(allocation.line_index, D(0)) + allocation.amount
            )
        for index, amount in drawn.items():
            assert work[index].type in LineType.DRAWABLE
            assert amount <= work[index].total


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_no_segment_gives_more_than_it_has_available(world):
    result = rate_invoice(world)
    drawn = draws_by_segment(result)
    segments = {(b.id, s.id): s for b in world.balances for s in b.access_schedule}

    for key, amount in drawn.items():
        assert amount <= segments[key].available_at_start
    for draw in result.balance_draws:
        assert draw.drawn == drawn.get((draw.balance_id, draw.segment_id), D(0))
        assert draw.remaining == draw.available - draw.drawn >= 0


@settings(max_examples=100, deadline=None)
@given(world=worlds(), seed=st.randoms(use_true_random=False))
def test_the_order_of_the_input_does_not_change_the_invoice(world, seed):
    shuffled = list(world.balances)
    seed.shuffle(shuffled)
    reordered = dataclasses.replace(
        world,
        balances=tuple(
            dataclasses.replace(b, access_schedule=tuple(reversed(b.access_schedule)))
            for b in shuffled
        ),
    )

    assert rate_invoice(reordered).lines == rate_invoice(world).lines


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_a_later_segment_draws_a_line_only_when_every_earlier_one_that_could_is_empty(world):
    prepared, lines = charge_lines(world)
    for unit in (None, "cloud"):
        order = burn_down_order(prepared, unit)
        position = {(b.id, s.id): index for index, (b, s) in enumerate(order)}
        work, allocations = allocate_balances(prepared, lines, unit)
        left = {(b.id, s.id): s.available_at_start for b, s in order}
        for allocation in allocations:
            left[(allocation.balance_id, allocation.segment_id)] -= allocation.amount
        drawers = {}
        for allocation in allocations:
            drawers.setdefault(allocation.line_index, []).append(
                position[(allocation.balance_id, allocation.segment_id)]
            )
        for index, drawn_by in drawers.items():
            assert drawn_by == sorted(drawn_by)
            line = work[index]
            for earlier in range(max(drawn_by)):
                balance, segment = order[earlier]
                if earlier in drawn_by or not _could_draw(prepared, balance, segment, line):
                    continue
                assert left[(balance.id, segment.id)] == 0


def _could_draw(rating_input, balance, segment, line):
    ids, tags = set(balance.applicable_product_ids), set(balance.applicable_product_tags)
    in_scope = (
        (not ids and not tags) or line.product_id in ids or bool(tags & set(line.product_tags))
    )
    inside = segment.starting_at <= line.starting_at and line.ending_before <= segment.ending_before
    return in_scope and inside


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_charges_minus_applications_equal_the_total(world):
    result = rate_invoice(world)
    fiat = [line for line in result.lines if line.credit_type_id is None]

    charged = sum((line.total for line in fiat if line.type in LineType.CHARGES), D(0))
    applied = sum(
        (
            -line.total
            for line in fiat
            if line.type == LineType.APPLIED_COMMIT_OR_CREDIT
            and line.applied_commit_or_credit_type != "POSTPAID"
        ),
        D(0),
    )
    assert result.subtotal == charged
    assert result.total == charged - applied


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_custom_units_convert_exactly_what_their_balances_left(world):
    result = rate_invoice(world)
    custom = [line for line in result.lines if line.credit_type_id == "cloud"]
    charged = sum((line.total for line in custom if line.type in LineType.CHARGES), D(0))
    applied = sum(
        (
            -line.total
            for line in custom
            if line.type == LineType.APPLIED_COMMIT_OR_CREDIT
            and line.applied_commit_or_credit_type != "POSTPAID"
        ),
        D(0),
    )
    converted = sum(
        (line.quantity for line in result.lines if line.type == LineType.CPU_CONVERSION), D(0)
    )

    assert converted == charged - applied


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_the_balance_steps_are_idempotent_without_balances(world):
    prepared, lines = charge_lines(dataclasses.replace(world, balances=()))

    assert balance_lines(prepared, lines) == lines


def _documented_key(balance, segment):
    """The documented order, written independently of the engine: lower priority (none last);
    credits before commits; fewer applicable products; earlier end; earlier start;
    contract-level before customer-level."""
    ids, tags = set(balance.applicable_product_ids), set(balance.applicable_product_tags)
    if ids or tags:
        count = len({p.id for p in PRODUCTS if p.id in ids or tags & set(p.tags)} | ids)
    else:
        count = len(PRODUCTS)
    return (
        balance.priority is None,
        balance.priority or D(0),
        balance.type != "CREDIT",
        count,
        segment.ending_before,
        segment.starting_at,
        balance.is_customer_level,
    )


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_the_drawing_order_is_the_documented_one(world):
    for unit in (None, "cloud"):
        order = burn_down_order(world, unit)
        keys = [_documented_key(balance, segment) for balance, segment in order]

        assert keys == sorted(keys)
        expected = {
            (b.id, s.id)
            for b in world.balances
            if (b.credit_type_id or None) == unit
            for s in b.access_schedule
            if s.starting_at < APR_1 and s.ending_before > MAR_1
        }
        assert {(b.id, s.id) for b, s in order} == expected
