"""Contract terms in the pure rating engine: commits, credits, overrides, custom pricing units."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.rating import (
    AccessSegment,
    Balance,
    BalanceDraw,
    Conversion,
    InvoiceScheduleItem,
    LineTier,
    LineType,
    Override,
    OverrideSpecifier,
    OverrideTier,
    OverwriteRate,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    ScheduledCharge,
    Subscription,
    Tier,
    Usage,
    allocate_balances,
    apply_overrides,
    burn_down_order,
    group_values,
    rate_invoice,
    rating_input_from_json,
    segment_boundaries,
    term_boundaries,
    to_json,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
CLOUD = PricingUnit(id="cloud", name="Cloud credits", decimal_places=2)
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_10 = datetime(2026, 3, 10, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 1, 1, tzinfo=UTC)
MARCH = Period(MAR_1, APR_1)
TOKENS = Product(id="tokens", name="Tokens", type="USAGE", tags=("ai",))
IMAGES = Product(id="images", name="Images", type="USAGE", tags=("media",))
PLATFORM = Product(id="platform", name="Platform", type="SUBSCRIPTION")
ONBOARDING = Product(id="onboarding", name="Onboarding", type="FIXED")
SUPPORT = Product(id="support", name="Support", type="COMPOSITE", composite_tags=("ai",))
COMMIT_PRODUCT = Product(id="commit", name="Commitment", type="FIXED")
PRODUCTS = (TOKENS, IMAGES, COMMIT_PRODUCT)


def world(products=PRODUCTS, rates=None, usage=(), **more):
    if rates is None:
        rates = (flat("tokens", "100"), flat("images", "10"))
    return RatingInput(
        pricing_unit=USD,
        period=more.pop("period", MARCH),
        products=tuple(products),
        rates=tuple(rates),
        usage=tuple(usage),
        **more,
    )


def flat(product, price, start=JAN_1, end=None, **more):
    return Rate(
        product_id=product,
        rate_type="FLAT",
        starting_at=start,
        ending_before=end,
        price=D(price),
        **more,
    )


def used(product, quantity, start=MAR_1, end=APR_1, pricing=None):
    return Usage(
        product_id=product,
        starting_at=start,
        ending_before=end,
        quantity=D(quantity),
        pricing_group_values=group_values(pricing),
    )


def segment(amount, start=JAN_1, end=NEXT_YEAR, available=None, id="s1"):
    return AccessSegment(
        id=id,
        starting_at=start,
        ending_before=end,
        amount=D(amount),
        available=None if available is None else D(available),
    )


def balance(id, amount=None, type="CREDIT", segments=None, priority="1", **more):
    return Balance(
        id=id,
        type=type,
        product_id="commit",
        name=id,
        access_schedule=tuple(segments or (segment(amount),)),
        priority=None if priority is None else D(priority),
        **more,
    )


def override(id, start=JAN_1, end=None, **more):
    if "multiplier" in more:
        more["multiplier"] = D(more["multiplier"])
    return Override(id=id, starting_at=start, ending_before=end, **more)


def applications(result):
    return [
        (line.applied_commit_or_credit_id, line.total, line.balance_remaining)
        for line in result.lines
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT
    ]


def charges(result):
    return [
        (line.product_id, line.quantity, line.unit_price, line.total)
        for line in result.lines
        if line.type != LineType.APPLIED_COMMIT_OR_CREDIT
    ]


# --- Burn-down ----------------------------------------------------------------------------------


def test_a_credit_draws_usage_down_and_shows_what_is_left():
    result = rate_invoice(world(usage=[used("tokens", "3")], balances=[balance("credit", "1000")]))

    assert applications(result) == [("credit", D("-300"), D("700"))]
    assert (result.subtotal, result.total) == (D("300"), D("0"))
    applied = result.lines[-1]
    assert (applied.product_id, applied.applied_commit_or_credit_type) == ("commit", "CREDIT")
    assert (applied.commit_id, applied.commit_segment_id) == (None, "s1")


def test_a_commit_application_carries_the_commit_id():
    result = rate_invoice(
        world(usage=[used("tokens", "3")], balances=[balance("c", "1000", type="PREPAID")])
    )

    assert result.lines[-1].commit_id == "c"
    assert result.lines[-1].applied_commit_or_credit_type == "PREPAID"


def test_a_balance_never_takes_more_than_its_segment_has_available():
    result = rate_invoice(
        world(
            usage=[used("tokens", "3")],
            balances=[balance("credit", segments=[segment("1000", available="120")])],
        )
    )

    assert applications(result) == [("credit", D("-120"), D("0"))]
    assert result.total == D("180")


def test_an_empty_segment_gives_no_application_line():
    result = rate_invoice(
        world(
            usage=[used("tokens", "3")],
            balances=[balance("credit", segments=[segment("1000", available="0")])],
        )
    )

    assert applications(result) == []
    assert result.balance_draws == (
        BalanceDraw(
            balance_id="credit",
            balance_type="CREDIT",
            segment_id="s1",
            credit_type_id=None,
            available=D("0"),
            drawn=D("0"),
            remaining=D("0"),
            expires=False,
        ),
    )


def test_segments_outside_the_period_do_not_apply_and_are_not_reported():
    expired = segment("500", JAN_1, MAR_1, id="old")
    future = segment("500", APR_1, MAY_1, id="new")
    result = rate_invoice(
        world(usage=[used("tokens", "3")], balances=[balance("credit", segments=[expired, future])])
    )

    assert applications(result) == []
    assert result.balance_draws == ()


def test_a_line_spanning_the_end_of_a_segment_is_not_drawn():
    result = rate_invoice(
        world(
            usage=[used("tokens", "3")],
            balances=[balance("credit", segments=[segment("1000", JAN_1, MAR_16)])],
        )
    )

    assert applications(result) == []


def test_a_segment_ending_in_the_period_expires_with_what_is_left():
    result = rate_invoice(
        world(
            usage=[used("tokens", "3", end=MAR_16), used("tokens", "1", start=MAR_16)],
            balances=[balance("credit", segments=[segment("1000", JAN_1, MAR_16)])],
        )
    )

    assert applications(result) == [("credit", D("-300"), D("700"))]
    assert result.total == D("100")
    (draw,) = result.balance_draws
    assert (draw.drawn, draw.remaining, draw.expires) == (D("300"), D("700"), True)


def test_empty_scope_means_every_product_and_a_scope_limits_the_draw():
    usage = [used("tokens", "3"), used("images", "5")]
    everything = rate_invoice(world(usage=usage, balances=[balance("credit", "1000")]))
    by_tag = rate_invoice(
        world(usage=usage, balances=[balance("credit", "1000", applicable_product_tags=("media",))])
    )
    by_id = rate_invoice(
        world(usage=usage, balances=[balance("credit", "1000", applicable_product_ids=("tokens",))])
    )

    assert applications(everything) == [("credit", D("-350"), D("650"))]
    assert applications(by_tag) == [("credit", D("-50"), D("950"))]
    assert applications(by_id) == [("credit", D("-300"), D("700"))]


def test_fewer_applicable_products_draw_first():
    usage = [used("tokens", "3")]
    result = rate_invoice(
        world(
            usage=usage,
            balances=[
                balance("a-wide", "1000"),
                balance("b-narrow", "100", applicable_product_ids=("tokens",)),
            ],
        )
    )

    assert applications(result) == [
        ("b-narrow", D("-100"), D("0")),
        ("a-wide", D("-200"), D("800")),
    ]


def test_earlier_start_breaks_a_tie_in_end():
    late = balance("a-late", segments=[segment("100", MAR_1, NEXT_YEAR)])
    early = balance("b-early", segments=[segment("100", JAN_1, NEXT_YEAR)])
    result = rate_invoice(world(usage=[used("tokens", "1")], balances=[late, early]))

    assert applications(result) == [("b-early", D("-100"), D("0"))]


def test_no_priority_draws_after_any_priority():
    result = rate_invoice(
        world(
            usage=[used("tokens", "1")],
            balances=[
                balance("a-none", "100", priority=None),
                balance("b-ten", "100", priority="10"),
            ],
        )
    )

    assert applications(result) == [("b-ten", D("-100"), D("0"))]


def test_subscriptions_are_drawn_but_scheduled_charges_are_not():
    rating_input = world(
        products=(*PRODUCTS, PLATFORM, ONBOARDING),
        rates=(
            Rate(
                product_id="platform", rate_type="SUBSCRIPTION", starting_at=JAN_1, price=D("500")
            ),
        ),
        subscriptions=[
            Subscription(
                id="sub",
                product_id="platform",
                quantity=D(1),
                collection_schedule="ADVANCE",
                starting_at=JAN_1,
            )
        ],
        scheduled_charges=[
            ScheduledCharge(
                id="fee", product_id="onboarding", timestamp=MAR_10, unit_price=D("700")
            )
        ],
        balances=[balance("credit", "10000")],
    )

    result = rate_invoice(rating_input)

    assert applications(result) == [("credit", D("-500"), D("9500"))]
    assert (result.subtotal, result.total) == (D("1200"), D("700"))


def test_a_composite_charge_is_drawn_like_usage():
    rating_input = world(
        products=(*PRODUCTS, SUPPORT),
        rates=(
            flat("tokens", "100"),
            Rate(product_id="support", rate_type="PERCENTAGE", starting_at=JAN_1, price=D("0.1")),
        ),
        usage=[used("tokens", "3")],
        balances=[balance("credit", "1000", applicable_product_ids=("support",))],
    )

    result = rate_invoice(rating_input)

    assert applications(result) == [("credit", D("-30"), D("970"))]


def test_a_postpaid_application_is_shown_but_not_subtracted():
    result = rate_invoice(
        world(usage=[used("tokens", "3")], balances=[balance("post", "1000", type="POSTPAID")])
    )

    assert applications(result) == [("post", D("-300"), D("700"))]
    assert (result.subtotal, result.total) == (D("300"), D("300"))


def test_a_postpaid_draw_keeps_a_later_credit_from_drawing_the_same_charge():
    result = rate_invoice(
        world(
            usage=[used("tokens", "3")],
            balances=[
                balance("post", "1000", type="POSTPAID", priority="1"),
                balance("credit", "1000", priority="2"),
            ],
        )
    )

    assert applications(result) == [("post", D("-300"), D("700"))]
    assert result.total == D("300")


def test_no_true_up_when_the_commitment_was_met_or_does_not_end_in_the_period():
    met = balance(
        "post",
        type="POSTPAID",
        segments=[segment("1000", JAN_1, APR_1, available="200")],
        drawn_before=D("800"),
    )
    later = balance("later", "1000", type="POSTPAID")
    result = rate_invoice(world(usage=[used("tokens", "3")], balances=[met, later]))

    assert not [line for line in result.lines if line.type == LineType.POSTPAID_TRUEUP]
    assert applications(result) == [("post", D("-200"), D("0")), ("later", D("-100"), D("900"))]


def test_a_true_up_without_usage_charges_the_whole_shortfall():
    post = balance(
        "post",
        type="POSTPAID",
        segments=[segment("1000", JAN_1, APR_1, available="700")],
        drawn_before=D("300"),
    )
    result = rate_invoice(world(balances=[post]))

    (line,) = result.lines
    assert (line.type, line.total, line.commit_id) == ("postpaid_trueup", D("700"), "post")
    assert result.total == D("700")


def test_commit_purchase_lines_only_for_prepaid_items_due_in_the_period():
    schedule = (
        InvoiceScheduleItem(timestamp=JAN_1, unit_price=D("1000")),
        InvoiceScheduleItem(timestamp=MAR_10, unit_price=D("250"), quantity=D("2")),
        InvoiceScheduleItem(timestamp=APR_1, unit_price=D("1000")),
    )
    result = rate_invoice(
        world(
            balances=[
                balance("pre", "3000", type="PREPAID", invoice_schedule=schedule),
                balance("credit", "3000", invoice_schedule=schedule),
            ]
        )
    )

    (line,) = result.lines
    assert (line.type, line.quantity, line.unit_price, line.total) == (
        "commit_purchase",
        D("2"),
        D("250"),
        D("500"),
    )
    assert (line.starting_at, line.ending_before, line.commit_id) == (MAR_10, None, "pre")
    assert (result.subtotal, result.total) == (D("500"), D("500"))


def test_a_commit_purchase_is_never_drawn_by_a_balance():
    schedule = (InvoiceScheduleItem(timestamp=MAR_10, unit_price=D("250")),)
    result = rate_invoice(
        world(balances=[balance("pre", "3000", type="PREPAID", invoice_schedule=schedule)])
    )

    assert applications(result) == []


def test_the_order_of_balances_in_the_input_does_not_matter():
    balances = [
        balance("a", "150", priority="2"),
        balance("b", "100", priority="1", type="PREPAID"),
        balance("c", "100", priority="1"),
    ]
    usage = [used("tokens", "3"), used("images", "10")]
    results = {
        tuple(applications(rate_invoice(world(usage=usage, balances=order))))
        for order in (balances, balances[::-1], [balances[1], balances[0], balances[2]])
    }

    assert results == {
        (("c", D("-100"), D("0")), ("b", D("-100"), D("0")), ("a", D("-150"), D("0")))
    }


def test_burn_down_order_lists_segments_of_one_unit():
    rating_input = world(
        balances=[balance("fiat", "100"), balance("cloud", "5", credit_type_id="cloud")]
    )

    assert [b.id for b, _ in burn_down_order(rating_input)] == ["fiat"]
    assert [b.id for b, _ in burn_down_order(rating_input, "cloud")] == ["cloud"]


# --- COMMIT_RATE and commit-specific overrides --------------------------------------------------


def test_a_commit_rate_commit_with_enough_balance_reprices_the_whole_line():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("80")),),
        usage=[used("tokens", "3")],
        balances=[balance("c", "1000", type="PREPAID", rate_type="COMMIT_RATE")],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [("tokens", D("3"), D("80"), D("240"))]
    assert result.lines[0].commit_id == "c"
    assert applications(result) == [("c", D("-240"), D("760"))]
    assert result.total == D("0")


def test_a_commit_rate_split_keeps_the_quantity_whole():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("30")),),
        usage=[used("tokens", "3")],
        balances=[balance("c", "50", type="PREPAID", rate_type="COMMIT_RATE")],
    )

    result = rate_invoice(rating_input)

    covered, rest = result.lines[0], result.lines[1]
    assert (covered.unit_price, covered.total, covered.commit_id) == (D("30"), D("50"), "c")
    assert (rest.unit_price, rest.commit_id) == (D("100"), None)
    assert covered.quantity + rest.quantity == D("3")
    assert rest.total == D("133")  # (3 - 5/3) x 100 = 133.33 -> 133
    assert result.total == D("133")


def test_a_commit_rate_commit_without_a_commit_price_draws_at_list():
    rating_input = world(
        usage=[used("tokens", "3")],
        balances=[balance("c", "1000", type="PREPAID", rate_type="COMMIT_RATE")],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [("tokens", D("3"), D("100"), D("300"))]
    assert applications(result) == [("c", D("-300"), D("700"))]


def test_a_line_another_balance_drew_from_is_drawn_at_list_by_a_commit_rate_commit():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("80")),),
        usage=[used("tokens", "3")],
        balances=[
            balance("credit", "100", priority="1"),
            balance("c", "1000", type="PREPAID", rate_type="COMMIT_RATE", priority="2"),
        ],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [("tokens", D("3"), D("100"), D("300"))]
    assert applications(result) == [("credit", D("-100"), D("0")), ("c", D("-200"), D("800"))]


def test_a_tiered_line_is_drawn_at_the_commit_tier_of_its_level():
    rate = Rate(
        product_id="tokens",
        rate_type="TIERED",
        starting_at=JAN_1,
        tiers=(Tier(price=D("100"), size=D("2")), Tier(price=D("50"))),
        commit_tiers=(Tier(price=D("90"), size=D("2")), Tier(price=D("40"))),
    )
    rating_input = world(
        rates=(rate,),
        usage=[used("tokens", "3")],
        balances=[balance("c", "1000", type="PREPAID", rate_type="COMMIT_RATE")],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [
        ("tokens", D("2"), D("90"), D("180")),
        ("tokens", D("1"), D("40"), D("40")),
    ]
    assert result.lines[1].tier == LineTier(level=2, starting_at=D("2"), size=None)
    assert applications(result) == [("c", D("-220"), D("780"))]


def test_a_commit_specific_override_prices_only_what_that_commit_draws():
    specific = override(
        "half",
        type="MULTIPLIER",
        multiplier="0.5",
        is_commit_specific=True,
        specifiers=(OverrideSpecifier(product_id="tokens", commit_ids=("c",)),),
    )
    rating_input = world(
        usage=[used("tokens", "3"), used("images", "10")],
        overrides=[specific],
        balances=[
            balance("c", "1000", type="PREPAID", applicable_product_ids=("tokens",), priority="2"),
            balance("credit", "50", applicable_product_ids=("images",), priority="1"),
        ],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [
        ("tokens", D("3"), D("50"), D("150")),
        ("images", D("10"), D("10"), D("100")),
    ]
    assert applications(result) == [("credit", D("-50"), D("0")), ("c", D("-150"), D("850"))]


def test_a_commit_specific_override_for_another_commit_leaves_the_list_price():
    specific = override(
        "half", type="MULTIPLIER", multiplier="0.5", is_commit_specific=True, commit_ids=("other",)
    )
    result = rate_invoice(
        world(
            usage=[used("tokens", "3")],
            overrides=[specific],
            balances=[balance("c", "1000", type="PREPAID")],
        )
    )

    assert charges(result) == [("tokens", D("3"), D("100"), D("300"))]


# --- Overrides --------------------------------------------------------------------------------


def test_inputs_without_overrides_keep_their_rates():
    rating_input = world(usage=[used("tokens", "3")])

    assert apply_overrides(rating_input) is rating_input


def test_an_override_applies_only_inside_its_window():
    rating_input = world(
        usage=[used("tokens", "3", end=MAR_16), used("tokens", "2", start=MAR_16)],
        overrides=[
            override("o", MAR_16, MAY_1, type="MULTIPLIER", multiplier="0.5", product_id="tokens")
        ],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [
        ("tokens", D("3"), D("100"), D("300")),
        ("tokens", D("2"), D("50.0"), D("100")),
    ]


def test_an_override_by_pricing_group_values_changes_only_those_rates():
    product = dataclasses.replace(TOKENS, pricing_group_keys=("model",))
    rates = (
        flat("tokens", "100", pricing_group_values=group_values({"model": "a"})),
        flat("tokens", "10", pricing_group_values=group_values({"model": "b"})),
    )
    rating_input = world(
        products=(product,),
        rates=rates,
        usage=[
            used("tokens", "1", pricing={"model": "a"}),
            used("tokens", "1", pricing={"model": "b"}),
        ],
        overrides=[
            override(
                "o",
                type="OVERWRITE",
                overwrite_rate=OverwriteRate(rate_type="FLAT", price=D("1")),
                specifiers=(OverrideSpecifier(pricing_group_values=group_values({"model": "b"})),),
            )
        ],
    )

    result = rate_invoice(rating_input)

    assert [line.total for line in result.lines] == [D("100"), D("1")]


def test_an_entitlement_override_can_also_disable_a_product():
    rating_input = world(
        usage=[used("tokens", "3")],
        overrides=[override("off", type="MULTIPLIER", entitled=False, product_id="tokens")],
    )

    (line,) = rate_invoice(rating_input).lines

    assert (line.is_unpriced, line.total) == (True, D("0"))


def test_an_overwrite_can_make_a_flat_rate_tiered():
    tiers = (Tier(price=D("100"), size=D("1")), Tier(price=D("10")))
    rating_input = world(
        usage=[used("tokens", "3")],
        overrides=[
            override(
                "o",
                type="OVERWRITE",
                product_id="tokens",
                overwrite_rate=OverwriteRate(rate_type="TIERED", tiers=tiers),
            )
        ],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [
        ("tokens", D("1"), D("100"), D("100")),
        ("tokens", D("2"), D("10"), D("20")),
    ]


def test_a_tiered_override_on_a_tiered_rate_cuts_at_both_boundaries():
    rate = Rate(
        product_id="tokens",
        rate_type="TIERED",
        starting_at=JAN_1,
        tiers=(Tier(price=D("100"), size=D("2")), Tier(price=D("50"))),
    )
    bands = (OverrideTier(multiplier=D("1"), size=D("3")), OverrideTier(multiplier=D("0.5")))
    rating_input = world(
        rates=(rate,),
        usage=[used("tokens", "5")],
        overrides=[override("o", type="TIERED", tiers=bands, product_id="tokens")],
        multiplier_override_prioritization="EXPLICIT",
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [
        ("tokens", D("2"), D("100"), D("200")),
        ("tokens", D("1"), D("50"), D("50")),
        ("tokens", D("2"), D("25.0"), D("50")),
    ]


def test_several_overwrites_the_lowest_priority_wins():
    def overwrite(id, price, priority):
        return override(
            id,
            type="OVERWRITE",
            product_id="tokens",
            priority=D(priority),
            overwrite_rate=OverwriteRate(rate_type="FLAT", price=D(price)),
        )

    rating_input = world(
        usage=[used("tokens", "1")],
        overrides=[overwrite("a", "70", "2"), overwrite("b", "90", "1")],
    )

    assert rate_invoice(rating_input).total == D("90")


def test_a_multiplier_on_a_subscription_and_an_overwrite_keeps_it_a_subscription():
    subscription = Subscription(
        id="sub",
        product_id="platform",
        quantity=D(2),
        collection_schedule="ADVANCE",
        starting_at=JAN_1,
    )
    rate = Rate(product_id="platform", rate_type="SUBSCRIPTION", starting_at=JAN_1, price=D("500"))
    halved = world(
        products=(PLATFORM,),
        rates=(rate,),
        subscriptions=[subscription],
        overrides=[override("o", type="MULTIPLIER", multiplier="0.5", product_id="platform")],
    )
    overwritten = world(
        products=(PLATFORM,),
        rates=(rate,),
        subscriptions=[subscription],
        overrides=[
            override(
                "o",
                type="OVERWRITE",
                product_id="platform",
                overwrite_rate=OverwriteRate(rate_type="FLAT", price=D("300")),
            )
        ],
    )

    assert rate_invoice(halved).total == D("500")
    assert rate_invoice(overwritten).total == D("600")


def test_an_override_targeting_the_commit_rate_leaves_the_list_price():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("80")),),
        usage=[used("tokens", "3")],
        overrides=[
            override(
                "o", type="MULTIPLIER", multiplier="0.5", product_id="tokens", target="COMMIT_RATE"
            )
        ],
        balances=[balance("c", "1000", type="PREPAID", rate_type="COMMIT_RATE")],
    )
    prepared = apply_overrides(rating_input)

    assert (prepared.rates[0].price, prepared.rates[0].commit_price) == (D("100"), D("40.0"))
    assert charges(rate_invoice(rating_input)) == [("tokens", D("3"), D("40.0"), D("120"))]


def test_override_validation():
    with pytest.raises(ValueError, match="needs an overwrite_rate"):
        Override(id="o", starting_at=JAN_1, type="OVERWRITE")
    with pytest.raises(ValueError, match="TIERED needs tiers"):
        Override(id="o", starting_at=JAN_1, type="TIERED")
    with pytest.raises(ValueError, match="unknown type"):
        Override(id="o", starting_at=JAN_1, type="DISCOUNT")
    with pytest.raises(ValueError, match="unknown prioritization"):
        world(multiplier_override_prioritization="HIGHEST")


def test_balance_validation():
    with pytest.raises(ValueError, match="unknown type"):
        balance("x", "1", type="GIFT")
    with pytest.raises(ValueError, match="unknown rate type"):
        balance("x", "1", rate_type="CHEAP")
    with pytest.raises(ValueError, match="ends before it starts"):
        segment("1", MAR_1, MAR_1)
    with pytest.raises(TypeError):
        AccessSegment(id="s", starting_at=JAN_1, ending_before=MAR_1, amount=1.5)


# --- Where the selector splits usage ----------------------------------------------------------


def test_segment_boundaries_per_product():
    rating_input = world(
        rates=(flat("tokens", "100"), flat("tokens", "90", MAR_10), flat("images", "10")),
        overrides=[
            override(
                "o", MAR_16, type="MULTIPLIER", multiplier="0.5", applicable_product_tags=("media",)
            )
        ],
        balances=[
            balance(
                "credit",
                segments=[segment("100", JAN_1, datetime(2026, 3, 20, tzinfo=UTC))],
                applicable_product_ids=("tokens",),
            ),
        ],
    )
    mar_20 = datetime(2026, 3, 20, tzinfo=UTC)

    assert segment_boundaries(rating_input, "tokens") == (MAR_10, mar_20)
    assert segment_boundaries(rating_input, "images") == (MAR_16,)
    assert segment_boundaries(rating_input) == (MAR_10, MAR_16, mar_20)
    assert term_boundaries(rating_input, "tokens") == (mar_20,)


# --- Custom pricing units -----------------------------------------------------------------------


def cloud_world(**more):
    return world(
        rates=more.pop(
            "rates", (flat("tokens", "1.25", credit_type_id="cloud"), flat("images", "10"))
        ),
        conversions=[Conversion(custom_credit_type_id="cloud", fiat_per_custom=D("40"))],
        custom_units=[CLOUD],
        **more,
    )


def test_custom_unit_usage_is_drawn_in_its_unit_and_the_rest_converted():
    result = rate_invoice(
        cloud_world(
            usage=[used("tokens", "3"), used("images", "1")],
            balances=[balance("grant", "1", credit_type_id="cloud")],
        )
    )

    tokens, images, applied, converted = result.lines
    assert (tokens.total, tokens.credit_type_id) == (D("3.75"), "cloud")
    assert (images.total, images.credit_type_id) == (D("10"), None)
    assert (applied.total, applied.credit_type_id, applied.balance_remaining) == (
        D("-1"),
        "cloud",
        D("0"),
    )
    assert (converted.type, converted.quantity, converted.unit_price, converted.total) == (
        "cpu_conversion",
        D("2.75"),
        D("40"),
        D("110"),
    )
    assert (result.subtotal, result.total) == (D("120"), D("120"))
    (draw,) = result.balance_draws
    assert (draw.credit_type_id, draw.drawn) == ("cloud", D("1"))


def test_a_fiat_balance_never_draws_a_custom_unit_line_directly():
    result = rate_invoice(
        cloud_world(usage=[used("tokens", "2")], balances=[balance("fiat", "1000")])
    )

    assert [line.type for line in result.lines] == [
        "usage",
        "cpu_conversion",
        "applied_commit_or_credit",
    ]
    assert applications(result) == [("fiat", D("-100"), D("900"))]
    assert result.total == D("0")


def test_custom_unit_lines_round_to_the_units_places():
    result = rate_invoice(cloud_world(usage=[used("tokens", "0.333")]))

    assert result.lines[0].total == D("0.42")  # 0.41625
    assert result.lines[1].total == D("17")  # 0.42 x 40 = 16.8


def test_a_custom_unit_without_a_conversion_is_refused():
    rating_input = world(
        rates=(flat("tokens", "1", credit_type_id="cloud"),), usage=[used("tokens", "1")]
    )

    with pytest.raises(ValueError, match="no conversion"):
        rate_invoice(rating_input)


def test_composites_count_only_lines_in_the_invoice_unit():
    rating_input = cloud_world(
        products=(*PRODUCTS, dataclasses.replace(SUPPORT, composite_tags=("ai", "media"))),
        usage=[used("tokens", "4"), used("images", "5")],
    )
    rating_input = dataclasses.replace(
        rating_input,
        rates=(
            *rating_input.rates,
            Rate(product_id="support", rate_type="PERCENTAGE", starting_at=JAN_1, price=D("0.1")),
        ),
    )

    result = rate_invoice(rating_input)

    composite = [line for line in result.lines if line.product_id == "support"]
    assert [(line.quantity, line.total) for line in composite] == [(D("50"), D("5"))]


def test_allocations_point_at_the_lines_they_draw():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("30")), flat("images", "10")),
        usage=[used("tokens", "3"), used("images", "5")],
        balances=[
            balance("c", "50", type="PREPAID", rate_type="COMMIT_RATE", priority="1"),
            balance("credit", "1000", priority="2"),
        ],
    )
    prepared = apply_overrides(rating_input)
    from invoicing.rating import LINE_STEPS

    lines = ()
    for step in LINE_STEPS[:4]:
        lines = step(prepared, lines)
    work, allocations = allocate_balances(prepared, lines)

    assert [(a.line_index, a.balance_id) for a in allocations] == [
        (0, "c"),
        (1, "credit"),
        (2, "credit"),
    ]
    assert [work[a.line_index].product_id for a in allocations] == ["tokens", "tokens", "images"]


# --- Snapshots --------------------------------------------------------------------------------


def test_a_snapshot_of_every_term_reads_back_equal():
    rating_input = cloud_world(
        rates=(
            flat(
                "tokens",
                "1.25",
                credit_type_id="cloud",
                commit_price=D("1"),
                commit_tiers=(Tier(price=D("1"), size=D("5")), Tier(price=D("0.5"))),
            ),
        ),
        usage=[used("tokens", "3")],
        balances=[
            balance(
                "c",
                type="PREPAID",
                rate_type="COMMIT_RATE",
                is_customer_level=True,
                segments=[segment("100", available="40.5")],
                applicable_product_ids=("tokens",),
                applicable_product_tags=("ai",),
                invoice_schedule=(
                    InvoiceScheduleItem(timestamp=MAR_10, unit_price=D("100"), id="i"),
                ),
            ),
            balance(
                "p",
                "10",
                type="POSTPAID",
                drawn_before=D("3"),
                priority=None,
                credit_type_id="cloud",
            ),
        ],
        overrides=[
            override(
                "o",
                MAR_10,
                MAR_16,
                type="OVERWRITE",
                entitled=True,
                priority=D("2"),
                overwrite_rate=OverwriteRate(
                    rate_type="TIERED",
                    tiers=(Tier(price=D("2"), size=D("1")), Tier(price=D("1"))),
                    credit_type_id="cloud",
                ),
                specifiers=(
                    OverrideSpecifier(
                        product_id="tokens",
                        product_tags=("ai",),
                        pricing_group_values=group_values({"m": "a"}),
                        presentation_group_values=group_values({"u": "x"}),
                        commit_ids=("c",),
                    ),
                ),
                is_commit_specific=True,
                commit_ids=("c",),
                target="COMMIT_RATE",
            ),
            override(
                "t",
                type="TIERED",
                product_id="tokens",
                applicable_product_tags=("ai",),
                tiers=(
                    OverrideTier(multiplier=D("1"), size=D("2")),
                    OverrideTier(multiplier=D("0.5")),
                ),
            ),
        ],
        multiplier_override_prioritization="EXPLICIT",
    )

    snapshot = json.loads(json.dumps(to_json(rating_input)))

    assert rating_input_from_json(snapshot) == rating_input
    assert rate_invoice(rating_input_from_json(snapshot)) == rate_invoice(rating_input)
    assert snapshot["balances"][0]["access_schedule"][0]["available"] == "40.5"


def test_a_result_with_terms_serializes():
    result = rate_invoice(world(usage=[used("tokens", "3")], balances=[balance("credit", "1000")]))

    data = json.loads(json.dumps(to_json(result)))

    assert data["balance_draws"][0]["remaining"] == "700"
    assert data["lines"][-1]["applied_commit_or_credit_type"] == "CREDIT"


def test_a_commit_rate_cover_that_rounds_past_the_line_takes_the_whole_line():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("99.6")),),
        usage=[used("tokens", "1")],
        balances=[
            balance(
                "c",
                segments=[segment("1000", available="99.8")],
                type="PREPAID",
                rate_type="COMMIT_RATE",
                priority="1",
            ),
            balance("credit", "1000", priority="2"),
        ],
    )

    result = rate_invoice(rating_input)

    assert charges(result) == [("tokens", D("1"), D("99.6"), D("100"))]
    assert applications(result) == [("c", D("-99.8"), D("0")), ("credit", D("-0.2"), D("999.8"))]


def test_a_partial_commit_rate_cover_keeps_its_quantity_at_storage_precision():
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("30")),),
        usage=[used("tokens", "3")],
        balances=[balance("c", "50", type="PREPAID", rate_type="COMMIT_RATE")],
    )

    covered, rest = rate_invoice(rating_input).lines[:2]

    assert (covered.quantity, rest.quantity) == (D("1.666666666667"), D("1.333333333333"))


def test_a_tiered_override_on_the_commit_rate_leaves_the_list_price():
    bands = (OverrideTier(multiplier=D("0.5"), size=D("1")), OverrideTier(multiplier=D("0.1")))
    rating_input = world(
        rates=(flat("tokens", "100", commit_price=D("80")),),
        overrides=[
            override("o", type="TIERED", tiers=bands, product_id="tokens", target="COMMIT_RATE")
        ],
    )

    (rate,) = apply_overrides(rating_input).rates

    assert (rate.rate_type, rate.price, rate.commit_price) == ("FLAT", D("100"), D("40.0"))


def test_a_postpaid_draw_in_a_custom_unit_is_still_converted_and_paid():
    result = rate_invoice(
        cloud_world(
            usage=[used("tokens", "2")],
            balances=[balance("post", "1", type="POSTPAID", credit_type_id="cloud")],
        )
    )

    assert [line.type for line in result.lines] == [
        "usage",
        "applied_commit_or_credit",
        "cpu_conversion",
    ]
    assert result.lines[2].quantity == D("2.50")
    assert result.total == D("100")
