"""Unit behaviours of the pure rating engine (no database)."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.rating import (
    LINE_STEPS,
    Line,
    LineTier,
    LineType,
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
    group_values,
    rate_invoice,
    rating_input_from_json,
    tier_pieces,
    to_json,
)

D = Decimal
USD = PricingUnit(id="2714e483-4ff1-48e4-9e25-ac732e8f24f2", name="USD (cents)")
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MARCH = Period(MAR_1, APR_1)
PER_MILLION = QuantityConversion(factor=D("1000000"), operation="DIVIDE")
TOKENS = Product(id="tokens", name="Tokens", type="USAGE")


def world(products=(TOKENS,), rates=(), usage=(), **more):
    return RatingInput(
        pricing_unit=more.pop("pricing_unit", USD),
        period=more.pop("period", MARCH),
        products=tuple(products),
        rates=tuple(rates),
        usage=tuple(usage),
        **more,
    )


def used(quantity, product="tokens", start=MAR_1, end=APR_1, pricing=None, presentation=None):
    return Usage(
        product_id=product,
        starting_at=start,
        ending_before=end,
        quantity=D(quantity),
        pricing_group_values=group_values(pricing),
        presentation_group_values=group_values(presentation),
    )


def flat(price, product="tokens", start=JAN_1, end=None, pricing=None, **more):
    return Rate(
        product_id=product,
        rate_type="FLAT",
        starting_at=start,
        ending_before=end,
        price=D(price),
        pricing_group_values=group_values(pricing),
        **more,
    )


def tiered(*tiers, product="tokens", start=JAN_1, end=None, pricing=None):
    return Rate(
        product_id=product,
        rate_type="TIERED",
        starting_at=start,
        ending_before=end,
        tiers=tuple(
            Tier(price=D(price), size=None if size is None else D(size)) for size, price in tiers
        ),
        pricing_group_values=group_values(pricing),
    )


def amounts(result):
    return [(line.quantity, line.unit_price, line.total) for line in result.lines]


# --- FLAT, conversion, rounding --------------------------------------------------------------


def test_flat_line_is_quantity_times_price_rounded_once_half_up():
    result = rate_invoice(world(rates=[flat("0.00015")], usage=[used("1234567")]))

    assert amounts(result) == [(D("1234567"), D("0.00015"), D("185"))]
    assert result.subtotal == result.total == D("185")


def test_half_a_cent_rounds_up_not_to_even():
    result = rate_invoice(world(rates=[flat("0.5")], usage=[used("5")]))

    assert result.lines[0].total == D("3")


def test_conversion_divides_before_pricing():
    product = dataclasses.replace(TOKENS, quantity_conversion=PER_MILLION)
    result = rate_invoice(world([product], rates=[flat("150")], usage=[used("2500000")]))

    assert amounts(result) == [(D("2.5"), D("150"), D("375"))]


def test_conversion_multiplies_before_pricing():
    product = dataclasses.replace(
        TOKENS, quantity_conversion=QuantityConversion(factor=D("60"), operation="MULTIPLY")
    )
    result = rate_invoice(world([product], rates=[flat("0.01")], usage=[used("2.5")]))

    assert amounts(result) == [(D("150.0"), D("0.01"), D("2"))]


@pytest.mark.parametrize(
    ("method", "quantity"),
    [("ROUND_UP", D("2")), ("ROUND_DOWN", D("1")), ("ROUND_HALF_UP", D("1"))],
)
def test_rounding_applies_to_the_converted_quantity(method, quantity):
    product = dataclasses.replace(
        TOKENS,
        quantity_conversion=PER_MILLION,
        quantity_rounding=QuantityRounding(decimal_places=0, method=method),
    )
    result = rate_invoice(world([product], rates=[flat("100")], usage=[used("1400000")]))

    assert amounts(result) == [(quantity, D("100"), quantity * 100)]


def test_amounts_round_to_the_pricing_units_places():
    credits = PricingUnit(id="credits", name="credits", decimal_places=2)
    result = rate_invoice(world(rates=[flat("0.333")], usage=[used("10.5")], pricing_unit=credits))

    assert result.lines[0].total == D("3.50")
    assert result.pricing_unit == credits


# --- Zero and unpriced usage -----------------------------------------------------------------


def test_zero_usage_gives_no_line():
    result = rate_invoice(world(rates=[flat("150")], usage=[used("0")]))

    assert result.lines == ()
    assert result.total == D("0")


def test_usage_that_rounds_to_zero_still_shows_as_a_zero_line():
    product = dataclasses.replace(
        TOKENS,
        quantity_conversion=PER_MILLION,
        quantity_rounding=QuantityRounding(decimal_places=0, method="ROUND_DOWN"),
    )
    result = rate_invoice(world([product], rates=[flat("150")], usage=[used("400000")]))

    assert amounts(result) == [(D("0"), D("150"), D("0"))]


def test_pricing_group_values_without_rate_give_an_unpriced_zero_line():
    product = dataclasses.replace(TOKENS, pricing_group_keys=("model_name",))
    result = rate_invoice(
        world(
            [product],
            rates=[flat("150", pricing={"model_name": "model-A"})],
            usage=[used("7", pricing={"model_name": "model-C"})],
        )
    )

    (line,) = result.lines
    assert (line.quantity, line.unit_price, line.total, line.is_unpriced) == (
        D("7"),
        None,
        D("0"),
        True,
    )
    assert line.pricing_group_values == (("model_name", "model-C"),)


def test_a_rate_without_pricing_group_values_does_not_price_grouped_usage():
    product = dataclasses.replace(TOKENS, pricing_group_keys=("model_name",))
    result = rate_invoice(
        world([product], rates=[flat("150")], usage=[used("7", pricing={"model_name": "x"})])
    )

    assert result.lines[0].is_unpriced


def test_a_rate_that_is_not_entitled_does_not_price_usage():
    result = rate_invoice(world(rates=[flat("150", entitled=False)], usage=[used("1")]))

    assert result.lines[0].is_unpriced
    assert result.total == D("0")


def test_the_latest_started_rate_in_effect_wins():
    rates = [flat("150"), flat("120", start=datetime(2026, 2, 1, tzinfo=UTC))]
    result = rate_invoice(world(rates=rates, usage=[used("1")]))

    assert result.lines[0].unit_price == D("120")


def test_usage_is_priced_by_the_rate_in_effect_at_its_segment_start():
    rates = [flat("150", end=MAR_16), flat("120", start=MAR_16)]
    usage = [used("2", start=MAR_16), used("1", end=MAR_16)]
    result = rate_invoice(world(rates=rates, usage=usage))

    assert [(line.starting_at, line.total) for line in result.lines] == [
        (MAR_1, D("150")),
        (MAR_16, D("240")),
    ]


# --- Tiers -----------------------------------------------------------------------------------


def test_tier_pieces_split_a_quantity_at_the_tier_boundaries():
    tiers = (Tier(D("100"), D("1")), Tier(D("80"), D("1")), Tier(D("60")))

    pieces = tier_pieces(tiers, D("0.5"), D("2"))

    assert [(p.level, p.tier_starting_at, p.tier_size, p.quantity) for p in pieces] == [
        (1, D("0"), D("1"), D("0.5")),
        (2, D("1"), D("1"), D("1")),
        (3, D("2"), None, D("0.5")),
    ]


def test_tier_pieces_of_zero_stay_in_the_tier_of_the_position():
    tiers = (Tier(D("100"), D("1")), Tier(D("80")))

    (piece,) = tier_pieces(tiers, D("1"), D("0"))

    assert (piece.level, piece.quantity, piece.price) == (2, D("0"), D("80"))


def test_the_last_tier_is_open_ended_even_with_a_size():
    rate = tiered(("1", "100"), ("1", "80"))
    result = rate_invoice(world(rates=[rate], usage=[used("5")]))

    assert [(line.quantity, line.tier) for line in result.lines] == [
        (D("1"), LineTier(level=1, starting_at=D("0"), size=D("1"))),
        (D("4"), LineTier(level=2, starting_at=D("1"), size=None)),
    ]
    assert result.total == D("420")


def test_each_pricing_group_counts_its_own_tiers():
    product = dataclasses.replace(TOKENS, pricing_group_keys=("region",))
    rates = [
        tiered(("10", "2"), (None, "1"), pricing={"region": "eu"}),
        tiered(("10", "2"), (None, "1"), pricing={"region": "us"}),
    ]
    usage = [used("8", pricing={"region": "eu"}), used("8", pricing={"region": "us"})]
    result = rate_invoice(world([product], rates=rates, usage=usage))

    assert [line.total for line in result.lines] == [D("16"), D("16")]


def test_tier_position_carries_across_rate_segments_in_time_order():
    rates = [
        tiered(("10", "2"), (None, "1"), end=MAR_16),
        tiered(("10", "3"), (None, "1"), start=MAR_16),
    ]
    usage = [used("6", start=MAR_16), used("6", end=MAR_16)]
    result = rate_invoice(world(rates=rates, usage=usage))

    assert amounts(result) == [
        (D("6"), D("2"), D("12")),
        (D("4"), D("3"), D("12")),
        (D("2"), D("1"), D("2")),
    ]


def test_flat_segments_advance_the_tier_position():
    rates = [flat("5", end=MAR_16), tiered(("10", "2"), (None, "1"), start=MAR_16)]
    usage = [used("8", end=MAR_16), used("4", start=MAR_16)]
    result = rate_invoice(world(rates=rates, usage=usage))

    assert amounts(result) == [
        (D("8"), D("5"), D("40")),
        (D("2"), D("2"), D("4")),
        (D("2"), D("1"), D("2")),
    ]


def test_unpriced_usage_does_not_advance_the_tier_position():
    rates = [tiered(("10", "2"), (None, "1"), start=MAR_16)]
    usage = [used("8", end=MAR_16), used("4", start=MAR_16)]
    result = rate_invoice(world(rates=rates, usage=usage))

    assert amounts(result) == [(D("8"), None, D("0")), (D("4"), D("2"), D("8"))]


def test_presentation_lines_share_every_tier_in_proportion_to_their_usage():
    product = dataclasses.replace(TOKENS, presentation_group_keys=("user_id",))
    usage = [used("9", presentation={"user_id": "zoe"}), used("3", presentation={"user_id": "al"})]
    result = rate_invoice(world([product], rates=[tiered(("10", "2"), (None, "1"))], usage=usage))

    # 12 on the ladder: 10 in tier 1, 2 in tier 2; al has a quarter of each, zoe the rest.
    assert [
        (line.group_value, line.tier.level, line.quantity, line.total) for line in result.lines
    ] == [
        ("al", 1, D("2.5"), D("5")),
        ("al", 2, D("0.5"), D("1")),
        ("zoe", 1, D("7.5"), D("15")),
        ("zoe", 2, D("1.5"), D("2")),
    ]


def test_a_presentation_line_pays_the_same_whatever_its_name():
    product = dataclasses.replace(TOKENS, presentation_group_keys=("user_id",))
    rates = [tiered(("10", "2"), (None, "1"))]

    def charged(first, second):
        usage = [
            used("9", presentation={"user_id": first}),
            used("3", presentation={"user_id": second}),
        ]
        result = rate_invoice(world([product], rates=rates, usage=usage))
        totals = {}
        for line in result.lines:
            totals[line.group_value] = totals.get(line.group_value, D(0)) + line.total
        return totals[first], totals[second]

    assert charged("al", "zoe") == charged("zoe", "al") == (D("17"), D("6"))


def test_a_later_window_takes_the_positions_after_an_earlier_one():
    product = dataclasses.replace(TOKENS, presentation_group_keys=("user_id",))
    usage = [
        used("6", end=MAR_16, presentation={"user_id": "zoe"}),
        used("6", start=MAR_16, presentation={"user_id": "al"}),
    ]
    result = rate_invoice(world([product], rates=[tiered(("10", "2"), (None, "1"))], usage=usage))

    assert [(line.group_value, line.quantity, line.total) for line in result.lines] == [
        ("zoe", D("6"), D("12")),
        ("al", D("4"), D("8")),
        ("al", D("2"), D("2")),
    ]


# --- Group keys ------------------------------------------------------------------------------


def test_group_key_and_value_are_set_for_one_presentation_key_only():
    one = dataclasses.replace(TOKENS, presentation_group_keys=("user_id",))
    two = Product(id="two", name="Two", type="USAGE", presentation_group_keys=("a", "b"))
    result = rate_invoice(
        world(
            [one, two],
            rates=[flat("1"), flat("1", product="two")],
            usage=[
                used("1", presentation={"user_id": "al"}),
                used("1", product="two", presentation={"a": "x", "b": "y"}),
            ],
        )
    )

    assert [(line.group_key, line.group_value) for line in result.lines] == [
        ("user_id", "al"),
        (None, None),
    ]


def test_group_values_are_sorted_string_pairs():
    assert group_values({"b": 2, "a": "x"}) == (("a", "x"), ("b", "2"))
    assert group_values(None) == ()


def test_lines_do_not_depend_on_the_order_of_the_usage_records():
    product = dataclasses.replace(TOKENS, pricing_group_keys=("m",), presentation_group_keys=("u",))
    usage = [
        used(str(n), pricing={"m": m}, presentation={"u": u})
        for n, (m, u) in enumerate([("b", "1"), ("a", "2"), ("a", "1"), ("b", "0")], start=1)
    ]
    rates = [tiered(("5", "2"), (None, "1"), pricing={"m": m}) for m in "ab"]

    forward = rate_invoice(world([product], rates=rates, usage=usage))
    backward = rate_invoice(world([product], rates=rates, usage=usage[::-1]))

    assert forward == backward


# --- Subscriptions ---------------------------------------------------------------------------

PLATFORM = Product(id="platform", name="Platform fee", type="SUBSCRIPTION")


def subscription_rate(price, start=JAN_1, end=None):
    return Rate(
        product_id="platform",
        rate_type="SUBSCRIPTION",
        starting_at=start,
        ending_before=end,
        price=D(price),
        billing_frequency="MONTHLY",
    )


def subscribed(schedule="ADVANCE", start=JAN_1, end=None, quantity="1", prorated=True):
    return Subscription(
        id="sub",
        product_id="platform",
        quantity=D(quantity),
        collection_schedule=schedule,
        starting_at=start,
        ending_before=end,
        is_prorated=prorated,
        billing_frequency="MONTHLY",
    )


def test_a_full_period_subscription_is_price_times_quantity():
    result = rate_invoice(
        world(
            [PLATFORM], rates=[subscription_rate("3100")], subscriptions=[subscribed(quantity="3")]
        )
    )

    (line,) = result.lines
    assert (line.type, line.quantity, line.unit_price, line.total, line.is_prorated) == (
        LineType.SUBSCRIPTION,
        D("3"),
        D("3100"),
        D("9300"),
        False,
    )
    assert (line.starting_at, line.ending_before, line.subscription_id) == (MAR_1, APR_1, "sub")


def test_a_subscription_ending_mid_period_is_prorated_to_the_second():
    end = datetime(2026, 3, 1, 0, 0, 31, tzinfo=UTC)
    result = rate_invoice(
        world(
            [PLATFORM],
            rates=[subscription_rate("2678400")],
            subscriptions=[subscribed("ARREARS", end=end)],
        )
    )

    assert (result.lines[0].total, result.lines[0].is_prorated) == (D("31"), True)


def test_a_partial_period_is_prorated_against_the_full_schedule_period():
    result = rate_invoice(
        world(
            [PLATFORM],
            rates=[subscription_rate("3100")],
            subscriptions=[subscribed()],
            period=Period(datetime(2026, 3, 10, tzinfo=UTC), APR_1),
            full_period=MARCH,
        )
    )

    assert result.lines[0].total == D("2200")


def test_an_unprorated_subscription_pays_the_full_price_for_a_partial_period():
    result = rate_invoice(
        world(
            [PLATFORM],
            rates=[subscription_rate("3100")],
            subscriptions=[subscribed(start=MAR_16, prorated=False)],
        )
    )

    assert (result.lines[0].total, result.lines[0].is_prorated) == (D("3100"), False)


def test_advance_is_priced_at_the_window_start_and_arrears_at_its_end():
    rates = [subscription_rate("1000", end=MAR_16), subscription_rate("2000", start=MAR_16)]

    advance = rate_invoice(world([PLATFORM], rates=rates, subscriptions=[subscribed("ADVANCE")]))
    arrears = rate_invoice(world([PLATFORM], rates=rates, subscriptions=[subscribed("ARREARS")]))

    assert advance.lines[0].total == D("1000")
    assert arrears.lines[0].total == D("2000")


def test_a_subscription_outside_the_period_gives_no_line():
    result = rate_invoice(
        world([PLATFORM], rates=[subscription_rate("1000")], subscriptions=[subscribed(end=MAR_1)])
    )

    assert result.lines == ()


def test_a_subscription_without_a_rate_is_listed_unpriced():
    result = rate_invoice(world([PLATFORM], subscriptions=[subscribed()]))

    (line,) = result.lines
    assert (line.total, line.unit_price, line.is_unpriced) == (D("0"), None, True)


# --- Scheduled charges -----------------------------------------------------------------------

ONBOARDING = Product(id="onboarding", name="Onboarding", type="FIXED")


def charge(at, unit_price, quantity="1"):
    return ScheduledCharge(
        id="charge",
        product_id="onboarding",
        timestamp=at,
        unit_price=D(unit_price),
        quantity=D(quantity),
    )


def test_scheduled_charges_are_due_from_period_start_up_to_its_end():
    charges = [charge(APR_1, "1"), charge(MAR_1, "50000"), charge(MAR_16, "1999", "1.5")]
    result = rate_invoice(world([ONBOARDING], scheduled_charges=charges))

    assert [(line.starting_at, line.total, line.type) for line in result.lines] == [
        (MAR_1, D("50000"), LineType.SCHEDULED),
        (MAR_16, D("2999"), LineType.SCHEDULED),
    ]
    assert result.lines[0].scheduled_charge_id == "charge"


# --- Composite -------------------------------------------------------------------------------


def percentage(product, price, start=JAN_1, end=None):
    return Rate(
        product_id=product,
        rate_type="PERCENTAGE",
        starting_at=start,
        ending_before=end,
        price=D(price),
    )


def test_composite_charges_a_fraction_of_the_rounded_lines_it_names():
    ai = dataclasses.replace(TOKENS, tags=("ai",), presentation_group_keys=("u",))
    support = Product(id="support", name="Support", type="COMPOSITE", composite_tags=("ai",))
    usage = [used("669336", presentation={"u": u}) for u in "abc"]
    result = rate_invoice(
        world([ai, support], rates=[flat("0.00015"), percentage("support", "0.5")], usage=usage)
    )

    assert amounts(result)[-1] == (D("300"), D("0.5"), D("150"))
    assert result.lines[-1].product_type == "COMPOSITE"


def test_composite_lines_never_count_towards_a_composite():
    tagged = dataclasses.replace(TOKENS, tags=("ai",))
    first = Product(
        id="first", name="First", type="COMPOSITE", tags=("ai",), composite_tags=("ai",)
    )
    second = Product(id="second", name="Second", type="COMPOSITE", composite_tags=("ai",))
    result = rate_invoice(
        world(
            [tagged, first, second],
            rates=[flat("1"), percentage("first", "0.5"), percentage("second", "0.1")],
            usage=[used("100")],
        )
    )

    assert amounts(result)[1:] == [(D("100"), D("0.5"), D("50")), (D("100"), D("0.1"), D("10"))]


def test_composite_by_product_id_and_no_spend_means_no_line():
    support = Product(id="support", name="Support", type="COMPOSITE", composite_product_ids=("x",))
    result = rate_invoice(
        world([TOKENS, support], rates=[flat("1"), percentage("support", "0.5")], usage=[used("9")])
    )

    assert [line.product_id for line in result.lines] == ["tokens"]


def test_a_composite_rate_change_splits_the_base_by_line_start():
    support = Product(
        id="support", name="Support", type="COMPOSITE", composite_product_ids=("tokens",)
    )
    rates = [
        flat("1"),
        percentage("support", "0.1", end=MAR_16),
        percentage("support", "0.2", start=MAR_16),
    ]
    usage = [used("100", end=MAR_16), used("100", start=MAR_16)]
    result = rate_invoice(world([TOKENS, support], rates=rates, usage=usage))

    assert [(line.starting_at, line.ending_before, line.total) for line in result.lines[2:]] == [
        (MAR_1, MAR_16, D("10")),
        (MAR_16, APR_1, D("20")),
    ]


# --- Totals and the pipeline -----------------------------------------------------------------


def test_total_is_the_sum_of_the_rounded_lines():
    product = dataclasses.replace(TOKENS, presentation_group_keys=("u",))
    usage = [used("1", presentation={"u": u}) for u in "abc"]
    result = rate_invoice(world([product], rates=[flat("0.4")], usage=usage))

    assert [line.total for line in result.lines] == [D("0"), D("0"), D("0")]
    assert result.total == D("0")


def test_a_later_line_step_slots_in_and_counts_in_total_but_not_subtotal():
    def credit(rating_input, lines):
        applied = Line(
            name="Credit",
            type=LineType.APPLIED_COMMIT_OR_CREDIT,
            product_id="credit",
            product_type="FIXED",
            total=-sum(line.total for line in lines),
            starting_at=rating_input.period.starting_at,
            ending_before=rating_input.period.ending_before,
        )
        return (*lines, applied)

    result = rate_invoice(
        world(rates=[flat("150")], usage=[used("2")]), line_steps=(*LINE_STEPS, credit)
    )

    assert (result.subtotal, result.total) == (D("300"), D("0"))


def test_a_prepare_step_can_rewrite_the_rates_before_pricing():
    def halve(rating_input):
        rates = tuple(
            dataclasses.replace(rate, price=rate.price / 2) for rate in rating_input.rates
        )
        return dataclasses.replace(rating_input, rates=rates)

    result = rate_invoice(world(rates=[flat("150")], usage=[used("2")]), prepare_steps=(halve,))

    assert result.total == D("150")


# --- Validation and snapshots ----------------------------------------------------------------


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Tier(price=0.1)


def test_naive_datetimes_are_refused():
    with pytest.raises(TypeError):
        Period(datetime(2026, 3, 1), APR_1)


def test_an_evolved_line_equals_the_replaced_one():
    line = Line(
        name="Tokens",
        type=LineType.USAGE,
        product_id="tokens",
        product_type="USAGE",
        total=D(0),
        starting_at=MAR_1,
        ending_before=APR_1,
        pricing_group_values=(("model", "a"),),
    )
    changes = {
        "quantity": D("2.5"),
        "total": D("3"),
        "presentation_group_values": [("user_id", "u-1")],
        "tier": LineTier(1, D(0), None),
    }

    evolved = line.evolve(**changes)

    assert evolved == dataclasses.replace(line, **changes)
    assert evolved.presentation_group_values == (("user_id", "u-1"),)
    assert line.quantity is None


def test_evolve_checks_what_it_changes():
    period = Period(MAR_1, APR_1)
    with pytest.raises(TypeError, match="must be a Decimal"):
        Tier(price=D(1)).evolve(price=0.5)
    with pytest.raises(TypeError, match="aware datetime"):
        period.evolve(starting_at=datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="empty period"):
        period.evolve(starting_at=APR_1)
    with pytest.raises(TypeError, match="Period has no field start"):
        period.evolve(start=MAR_16)


def test_only_the_last_tier_may_be_open():
    with pytest.raises(ValueError, match="only the last tier"):
        tiered((None, "1"), (None, "2"))


def test_usage_outside_the_period_is_refused():
    with pytest.raises(ValueError, match="outside the period"):
        rate_invoice(world(rates=[flat("1")], usage=[used("1", start=JAN_1)]))


def test_usage_of_a_non_usage_product_is_refused():
    with pytest.raises(ValueError, match="usage for SUBSCRIPTION product"):
        rate_invoice(world([PLATFORM], usage=[used("1", product="platform")]))


def test_a_snapshot_of_every_kind_of_input_reads_back_equal():
    rating_input = world(
        [dataclasses.replace(TOKENS, quantity_conversion=PER_MILLION), PLATFORM, ONBOARDING],
        rates=[tiered(("1", "100"), (None, "80"), pricing={"m": "a"}), subscription_rate("10")],
        usage=[used("1500000", pricing={"m": "a"}, presentation={"u": "x"})],
        subscriptions=[subscribed()],
        scheduled_charges=[charge(MAR_16, "7")],
        full_period=MARCH,
    )

    snapshot = json.loads(json.dumps(to_json(rating_input)))

    assert rating_input_from_json(snapshot) == rating_input
    assert snapshot["usage"][0]["quantity"] == "1500000"
