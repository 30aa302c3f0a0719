"""Properties of the rating engine, checked by hypothesis over generated worlds (no database)."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import full_precision, round_amount
from invoicing.rating import (
    Period,
    PricingUnit,
    Product,
    QuantityConversion,
    QuantityRounding,
    Rate,
    RatingInput,
    ScheduledCharge,
    Subscription,
    Tier,
    Usage,
    billable_quantity,
    group_values,
    rate_invoice,
)
from tests.invoicing.golden_support import rating_input

D = Decimal
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MARCH = Period(MAR_1, APR_1)
MARCH_SECONDS = int((APR_1 - MAR_1).total_seconds())

prices = st.decimals(min_value=0, max_value=1000, places=5, allow_nan=False, allow_infinity=False)
sizes = st.decimals(min_value=D("0.001"), max_value=1000, places=3, allow_nan=False)
quantities = st.decimals(min_value=0, max_value=100000, places=4, allow_nan=False)
tier_lists = st.lists(st.tuples(sizes, prices), min_size=1, max_size=4).map(
    lambda pairs: tuple(
        Tier(price=price, size=None if index == len(pairs) - 1 else size)
        for index, (size, price) in enumerate(pairs)
    )
)
conversions = st.one_of(
    st.none(),
    st.builds(
        QuantityConversion,
        factor=st.sampled_from([D("1000"), D("3"), D("1000000")]),
        operation=st.sampled_from(["MULTIPLY", "DIVIDE"]),
    ),
)
roundings = st.one_of(
    st.none(),
    st.builds(
        QuantityRounding,
        decimal_places=st.integers(0, 3),
        method=st.sampled_from(["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"]),
    ),
)


def graduated(tiers, quantity):
    """The tiered amount of `quantity` units counted from zero, written independently."""
    amount, start = D(0), D(0)
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        end = None if last else start + tier.size
        if quantity > start:
            amount += tier.price * ((quantity if end is None else min(quantity, end)) - start)
        if end is None:
            break
        start = end
    return amount


@st.composite
def usage_worlds(draw):
    """A world with a usage product (flat or tiered, optional conversion and rounding), a
    subscription, a scheduled charge and a composite over the usage product."""
    product = Product(
        id="tokens",
        name="Tokens",
        type="USAGE",
        tags=("ai",),
        presentation_group_keys=("user",),
        quantity_conversion=draw(conversions),
        quantity_rounding=draw(roundings),
    )
    if draw(st.booleans()):
        usage_rate = Rate(
            product_id="tokens", rate_type="FLAT", starting_at=JAN_1, price=draw(prices)
        )
    else:
        usage_rate = Rate(
            product_id="tokens", rate_type="TIERED", starting_at=JAN_1, tiers=draw(tier_lists)
        )
    users = draw(st.lists(st.sampled_from("abcdef"), min_size=0, max_size=4, unique=True))
    usage = tuple(
        Usage(
            product_id="tokens",
            starting_at=MAR_1,
            ending_before=APR_1,
            quantity=draw(quantities),
            presentation_group_values=group_values({"user": user}),
        )
        for user in users
    )
    offset = timedelta(seconds=draw(st.integers(0, MARCH_SECONDS - 1)))
    return RatingInput(
        pricing_unit=PricingUnit(id="unit", name="unit", decimal_places=draw(st.integers(0, 2))),
        period=MARCH,
        products=(
            product,
            Product(id="platform", name="Platform", type="SUBSCRIPTION"),
            Product(id="fee", name="Fee", type="FIXED"),
            Product(id="support", name="Support", type="COMPOSITE", composite_tags=("ai",)),
        ),
        rates=(
            usage_rate,
            Rate(
                product_id="platform",
                rate_type="SUBSCRIPTION",
                starting_at=JAN_1,
                price=draw(prices),
            ),
            Rate(
                product_id="support",
                rate_type="PERCENTAGE",
                starting_at=JAN_1,
                price=draw(st.decimals(min_value=0, max_value=1, places=3)),
            ),
        ),
        usage=usage,
        subscriptions=(
            Subscription(
                id="sub",
                product_id="platform",
                quantity=draw(st.decimals(min_value=0, max_value=50, places=0)),
                collection_schedule=draw(st.sampled_from(["ADVANCE", "ARREARS"])),
                starting_at=MAR_1 + offset,
                is_prorated=draw(st.booleans()),
            ),
        ),
        scheduled_charges=(
            ScheduledCharge(
                id="charge",
                product_id="fee",
                timestamp=MAR_1 + offset,
                unit_price=draw(prices),
                quantity=draw(quantities),
            ),
        ),
    )


def _presentation_lines(tiers, parts, labels) -> RatingInput:
    """One tiered product shown per presentation value `n`: `parts[i]` used under `labels[i]`."""
    return RatingInput(
        pricing_unit=PricingUnit(id="unit", name="unit", decimal_places=0),
        period=MARCH,
        products=(
            Product(id="tokens", name="Tokens", type="USAGE", presentation_group_keys=("n",)),
        ),
        rates=(Rate(product_id="tokens", rate_type="TIERED", starting_at=JAN_1, tiers=tiers),),
        usage=tuple(
            Usage(
                product_id="tokens",
                starting_at=MAR_1,
                ending_before=APR_1,
                quantity=quantity,
                presentation_group_values=group_values({"n": label}),
            )
            for label, quantity in zip(labels, parts, strict=True)
        ),
    )


@given(tiers=tier_lists, parts=st.lists(quantities, min_size=1, max_size=5))
def test_a_tiered_amount_equals_the_sum_of_its_tier_lines(tiers, parts):
    rating = _presentation_lines(tiers, parts, [f"{index:02d}" for index in range(len(parts))])

    lines = rate_invoice(rating).lines

    assert sum(line.quantity for line in lines) == sum(parts)
    assert sum(line.quantity * line.unit_price for line in lines) == graduated(tiers, sum(parts))
    for line in lines:
        assert line.total == round_amount(line.quantity * line.unit_price, 0)


@given(world=usage_worlds())
def test_no_line_is_negative(world):
    for line in rate_invoice(world).lines:
        assert line.total >= 0
        assert line.quantity is None or line.quantity >= 0


@given(world=usage_worlds())
def test_the_total_is_the_sum_of_the_rounded_lines(world):
    result = rate_invoice(world)
    places = world.pricing_unit.decimal_places

    for line in result.lines:
        assert line.total == round_amount(line.total, places)
    assert result.total == result.subtotal == sum((line.total for line in result.lines), D(0))


@given(world=usage_worlds())
def test_usage_lines_carry_the_converted_and_rounded_quantity(world):
    # Per usage record, not summed over the invoice: converting parts separately (x/3 + y/3) and
    # converting their sum ((x+y)/3) differ in the 50th digit, so only the per-record quantity is
    # a meaningful, exact invariant. A tiered record may be split into several tier lines.
    product = world.products[0]
    lines = [line for line in rate_invoice(world).lines if line.product_id == "tokens"]

    def key(item):
        return (item.starting_at, item.pricing_group_values, item.presentation_group_values)

    carried: dict = {}
    with full_precision():  # the engine's context: a 28-digit sum would round differently
        for line in lines:
            carried[key(line)] = carried.get(key(line), D(0)) + line.quantity
        expected = {
            key(usage): billable_quantity(product, usage.quantity)
            for usage in world.usage
            if usage.quantity
        }
    assert carried == expected


# --- Splitting the same usage differently -------------------------------------------------------


def _world(metric, events):
    """A golden-format world: tokens priced per model, a price change and tiers mid-month."""
    return {
        "pricing_unit": {"id": "usd", "name": "USD (cents)", "decimal_places": "0"},
        "metric": metric,
        "products": [
            {
                "id": "tokens",
                "name": "Tokens",
                "type": "USAGE",
                "billable_metric_id": metric["id"],
                "pricing_group_key": ["model"],
                "presentation_group_key": ["user"],
                "quantity_conversion": {"conversion_factor": "1000", "operation": "DIVIDE"},
            }
        ],
        "rates": [
            {
                "product_id": "tokens",
                "rate_type": "FLAT",
                "price": "0.7",
                "pricing_group_values": {"model": "a"},
                "starting_at": "2026-01-01T00:00:00Z",
            },
            {
                "product_id": "tokens",
                "rate_type": "TIERED",
                "tiers": [
                    {"size": "50", "price": "2"},
                    {"size": "100", "price": "1.5"},
                    {"price": "1"},
                ],
                "pricing_group_values": {"model": "a"},
                "starting_at": "2026-03-16T00:00:00Z",
            },
            {
                "product_id": "tokens",
                "rate_type": "TIERED",
                "tiers": [{"size": "20", "price": "3"}, {"price": "0.25"}],
                "pricing_group_values": {"model": "b"},
                "starting_at": "2026-01-01T00:00:00Z",
            },
        ],
        "customer": {"id": "cust", "ingest_aliases": ["alias"]},
        "contract": {
            "starting_at": "2026-01-01T00:00:00Z",
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
        "period": {"starting_at": "2026-03-01T00:00:00Z", "ending_before": "2026-04-01T00:00:00Z"},
        "events": events,
    }


SEGMENT_HOURS = {True: (0, 15 * 24), False: (15 * 24, 31 * 24)}  # before / after Mar 16


def _event(number, hour, properties, event_type="llm"):
    return {
        "transaction_id": f"tx-{number}",
        "customer_id": "alias" if number % 2 else "cust",
        "event_type": event_type,
        "timestamp": (MAR_1 + timedelta(hours=hour, minutes=number % 60)).isoformat(),
        "properties": properties,
    }


usages = st.lists(
    st.tuples(
        st.sampled_from("abc"),  # model (c has no rate)
        st.sampled_from(["u1", "u2", "u3"]),
        st.booleans(),  # before the mid-month price change
        st.integers(0, 90000),  # tokens
    ),
    max_size=12,
)


@settings(max_examples=60)
@given(usage=usages, seed=st.integers(0, 2**32 - 1))
def test_splitting_sums_across_hours_and_batches_gives_the_same_invoice(usage, seed):
    chooser = random.Random(seed)
    metric = {
        "id": "m",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["llm"]},
        "property_filters": [],
    }
    whole, split = [], []
    for model, user, early, tokens in usage:
        low, high = SEGMENT_HOURS[early]
        properties = {"model": model, "user": user}
        whole.append(
            _event(len(whole), chooser.randrange(low, high), {**properties, "tokens": str(tokens)})
        )
        cuts = sorted(chooser.randint(0, tokens) for _ in range(chooser.randint(0, 3)))
        for part_low, part_high in zip([0, *cuts], [*cuts, tokens], strict=True):
            hour = chooser.randrange(low, high)
            split.append(
                _event(len(split) + 1000, hour, {**properties, "tokens": str(part_high - part_low)})
            )
    chooser.shuffle(split)

    world = _world(metric, whole)

    assert rate_invoice(rating_input(world)) == rate_invoice(rating_input(world, split))


@settings(max_examples=60)
@given(usage=usages, seed=st.integers(0, 2**32 - 1))
def test_resending_unique_users_in_other_hours_gives_the_same_invoice(usage, seed):
    chooser = random.Random(seed)
    metric = {
        "id": "m",
        "aggregation_type": "UNIQUE",
        "aggregation_key": "visitor",
        "event_type_filter": {"in_values": ["llm"]},
        "property_filters": [],
    }
    once, repeated = [], []
    for model, user, early, tokens in usage:
        low, high = SEGMENT_HOURS[early]
        properties = {"model": model, "user": user, "visitor": f"v{tokens % 7}"}
        once.append(_event(len(once), chooser.randrange(low, high), properties))
        for _ in range(chooser.randint(1, 3)):
            repeated.append(_event(len(repeated) + 1000, chooser.randrange(low, high), properties))
    chooser.shuffle(repeated)

    world = _world(metric, once)

    assert rate_invoice(rating_input(world)) == rate_invoice(rating_input(world, repeated))


@given(
    tiers=tier_lists, parts=st.lists(quantities, min_size=2, max_size=5), seed=st.integers(0, 99)
)
def test_a_presentation_line_takes_the_same_share_of_each_tier_whatever_its_name(
    tiers, parts, seed
):
    """Renaming the presentation values (so their order changes) moves no line's share of a
    tier by more than the storage precision, and every tier stays whole."""
    names = [f"{index:02d}" for index in range(len(parts))]
    renamed = names[:]
    random.Random(seed).shuffle(renamed)

    def shares(labels):
        by_owner: dict[tuple[int, int], Decimal] = {}
        for line in rate_invoice(_presentation_lines(tiers, parts, labels)).lines:
            owner = labels.index(line.group_value)
            by_owner[(owner, line.tier.level)] = line.quantity
        return by_owner

    before, after = shares(names), shares(renamed)
    for key in set(before) | set(after):
        assert abs(before.get(key, D(0)) - after.get(key, D(0))) <= D("2E-12")
    for level in {level for _, level in (*before, *after)}:
        assert sum(q for (_, lvl), q in before.items() if lvl == level) == sum(
            q for (_, lvl), q in after.items() if lvl == level
        )
