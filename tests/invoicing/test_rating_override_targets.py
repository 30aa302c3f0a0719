"""What an override targets, field by field as the SDK documents it: a specifier's product_tags
("products with all the specified tags"), pricing and presentation group values, billing
frequency; the top-level product id and tags (any of them)."""

from datetime import UTC, datetime
from decimal import Decimal

from invoicing.rating import (
    Override,
    OverrideSpecifier,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Subscription,
    Usage,
    group_values,
    override_may_target,
    override_targets,
    rate_invoice,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
BOTH = Product(id="both", name="GPU inference", type="USAGE", tags=("gpu", "inference"))
GPU = Product(id="gpu", name="GPU training", type="USAGE", tags=("gpu",))
SEATS = Product(id="seats", name="Seats", type="SUBSCRIPTION", tags=("gpu", "inference"))
TEAMS = Product(
    id="teams", name="Team tokens", type="USAGE", presentation_group_keys=("team",), tags=("ai",)
)


def half_off(**target) -> Override:
    return Override(id="half", starting_at=JAN_1, multiplier=D("0.5"), **target)


def spec(**fields) -> OverrideSpecifier:
    if "pricing_group_values" in fields:
        fields["pricing_group_values"] = group_values(fields["pricing_group_values"])
    if "presentation_group_values" in fields:
        fields["presentation_group_values"] = group_values(fields["presentation_group_values"])
    return OverrideSpecifier(**fields)


def flat(product_id, price, **more) -> Rate:
    return Rate(product_id=product_id, rate_type="FLAT", starting_at=JAN_1, price=D(price), **more)


def used(product_id, quantity, presentation=None) -> Usage:
    return Usage(
        product_id=product_id,
        starting_at=MAR_1,
        ending_before=APR_1,
        quantity=D(quantity),
        presentation_group_values=group_values(presentation),
    )


def rated(products, rates, usage=(), overrides=(), subscriptions=()):
    return rate_invoice(
        RatingInput(
            pricing_unit=USD,
            period=Period(MAR_1, APR_1),
            products=tuple(products),
            rates=tuple(rates),
            usage=tuple(usage),
            overrides=tuple(overrides),
            subscriptions=tuple(subscriptions),
        )
    )


def test_a_specifier_with_two_tags_needs_a_product_carrying_both():
    two_tags = half_off(specifiers=(spec(product_tags=("gpu", "inference")),))

    assert override_targets(two_tags, BOTH, ())
    assert not override_targets(two_tags, GPU, ())
    assert override_may_target(two_tags, BOTH)
    assert not override_may_target(two_tags, GPU)


def test_top_level_tags_take_a_product_with_any_of_them():
    any_tag = half_off(applicable_product_tags=("gpu", "inference"))

    assert override_targets(any_tag, BOTH, ())
    assert override_targets(any_tag, GPU, ())


def test_the_specifier_prices_only_the_product_with_all_its_tags():
    result = rated(
        [BOTH, GPU],
        [flat("both", "100"), flat("gpu", "100")],
        [used("both", "10"), used("gpu", "10")],
        [half_off(specifiers=(spec(product_tags=("gpu", "inference")),))],
    )

    assert [(line.product_id, line.unit_price, line.total) for line in result.lines] == [
        ("both", D("50.0"), D("500")),
        ("gpu", D("100"), D("1000")),
    ]


def test_every_field_of_a_specifier_must_match():
    both_fields = half_off(specifiers=(spec(product_id="gpu", product_tags=("inference",)),))

    assert not override_targets(both_fields, GPU, ())
    assert not override_targets(both_fields, BOTH, ())


def test_specifiers_are_or_ed():
    either = half_off(specifiers=(spec(product_id="gpu"), spec(product_tags=("inference",))))

    assert override_targets(either, GPU, ())
    assert override_targets(either, BOTH, ())


def test_pricing_group_values_need_every_pair_on_the_rate():
    east = half_off(specifiers=(spec(pricing_group_values={"region": "east"}),))

    assert override_targets(east, GPU, group_values({"region": "east", "model": "a"}))
    assert not override_targets(east, GPU, group_values({"region": "west"}))
    assert not override_targets(east, GPU, ())


def test_a_presentation_specifier_prices_only_the_usage_with_those_values():
    red_team = half_off(specifiers=(spec(presentation_group_values={"team": "red"}),))

    result = rated(
        [TEAMS],
        [flat("teams", "100")],
        [used("teams", "10", {"team": "blue"}), used("teams", "10", {"team": "red"})],
        [red_team],
    )

    assert [
        (dict(line.presentation_group_values)["team"], line.unit_price, line.total)
        for line in result.lines
    ] == [("blue", D("100"), D("1000")), ("red", D("50.0"), D("500"))]


def test_a_presentation_specifier_with_a_product_narrows_both():
    red_tokens = half_off(
        specifiers=(spec(product_id="teams", presentation_group_values={"team": "red"}),)
    )

    assert override_targets(red_tokens, TEAMS, (), group_values({"team": "red"}))
    assert not override_targets(red_tokens, TEAMS, (), group_values({"team": "blue"}))
    assert not override_targets(red_tokens, TEAMS, ())


def test_a_billing_frequency_specifier_prices_only_subscriptions_billed_that_often():
    quarterly_only = half_off(specifiers=(spec(product_id="seats", billing_frequency="QUARTERLY"),))
    monthly = Subscription(
        id="sub",
        product_id="seats",
        quantity=D("1"),
        collection_schedule="ADVANCE",
        starting_at=JAN_1,
        billing_frequency="MONTHLY",
    )
    rate = Rate(
        product_id="seats",
        rate_type="SUBSCRIPTION",
        starting_at=JAN_1,
        price=D("1000"),
        billing_frequency="MONTHLY",
    )

    assert override_targets(quarterly_only, SEATS, (), (), "QUARTERLY")
    assert not override_targets(quarterly_only, SEATS, (), (), "MONTHLY")
    assert [
        line.total for line in rated([SEATS], [rate], (), [quarterly_only], [monthly]).lines
    ] == [D("1000")]


def test_a_specifier_naming_only_commits_targets_every_product():
    commits_only = Override(
        id="c", starting_at=JAN_1, multiplier=D("0.5"), specifiers=(spec(commit_ids=("c1",)),)
    )

    assert override_targets(commits_only, GPU, ())
    assert override_may_target(commits_only, GPU)
