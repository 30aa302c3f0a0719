"""The offering's rules (issue 2, point 2): each valid and invalid, with the message finance staff
read, and the database constraint that backs it where there is one."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import BillableMetric, Product, Rate, RateTier, tiers_problem
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)


def messages(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


# ---------------------------------------------------------------------------------------------
# Pricing + presentation group keys equal one of the metric's key sets


@pytest.mark.parametrize(
    ("pricing", "presentation"),
    [
        ([], []),
        (["model_name"], []),
        (["model_name"], ["user_id"]),
        (["user_id", "model_name"], []),
    ],
)
def test_group_keys_that_equal_a_metric_key_set_are_valid(pricing, presentation):
    metric = BillableMetricFactory(group_keys=[["model_name"], ["model_name", "user_id"]])
    product = ProductFactory.build(
        billable_metric=metric, pricing_group_key=pricing, presentation_group_key=presentation
    )

    product.full_clean()


@pytest.mark.parametrize(
    ("pricing", "presentation"), [(["region"], []), (["model_name"], ["region"])]
)
def test_group_keys_outside_every_metric_key_set_are_refused(pricing, presentation):
    metric = BillableMetricFactory(group_keys=[["model_name"], ["model_name", "user_id"]])
    product = ProductFactory.build(
        billable_metric=metric, pricing_group_key=pricing, presentation_group_key=presentation
    )

    assert messages(product)["pricing_group_key"] == [
        "Pricing and presentation group keys together must be a subset of one of the metric's "
        "group key sets (model_name; model_name, user_id)."
    ]


@pytest.mark.parametrize(
    ("pricing", "presentation"),
    [(["user_id"], []), (["model_name"], []), ([], ["user_id"]), (["user_id"], ["model_name"])],
)
def test_any_subset_of_a_metric_key_set_is_accepted(pricing, presentation):
    """The quickstart: group keys "must be a subset of the group keys on the underlying billable
    metric"."""
    metric = BillableMetricFactory(group_keys=[["model_name", "user_id"]])
    product = ProductFactory.build(
        billable_metric=metric, pricing_group_key=pricing, presentation_group_key=presentation
    )

    product.full_clean()


def test_a_key_cannot_be_both_pricing_and_presentation():
    metric = BillableMetricFactory(group_keys=[["model_name"]])
    product = ProductFactory.build(
        billable_metric=metric,
        pricing_group_key=["model_name"],
        presentation_group_key=["model_name"],
    )

    assert messages(product)["presentation_group_key"] == [
        "A key cannot be both a pricing and a presentation group key."
    ]


# ---------------------------------------------------------------------------------------------
# Aggregation key required except for COUNT


@pytest.mark.parametrize(
    ("aggregation_type", "key"),
    [("COUNT", ""), ("COUNT", "num_tokens"), ("SUM", "num_tokens"), ("UNIQUE", "user_id")],
)
def test_an_aggregation_key_is_given_unless_count(aggregation_type, key):
    BillableMetricFactory.build(aggregation_type=aggregation_type, aggregation_key=key).full_clean()


@pytest.mark.parametrize("aggregation_type", ["SUM", "MAX", "UNIQUE", "LATEST"])
def test_a_missing_aggregation_key_is_refused_unless_count(aggregation_type):
    metric = BillableMetricFactory.build(aggregation_type=aggregation_type, aggregation_key="")

    assert messages(metric)["aggregation_key"] == [
        "An aggregation key is required unless the aggregation is COUNT."
    ]


def test_the_database_refuses_a_sum_metric_without_a_key():
    with pytest.raises(IntegrityError), transaction.atomic():
        BillableMetric.objects.create(name="Broken", aggregation_type="SUM", aggregation_key="")


# ---------------------------------------------------------------------------------------------
# Tiers: positive sizes, only the last open-ended


@pytest.mark.parametrize(
    "tiers",
    [
        [(None, Decimal("5"))],
        [(Decimal("1000"), Decimal("100")), (None, Decimal("80"))],
        [(Decimal("1"), Decimal("1")), (Decimal("0.5"), Decimal("0")), (None, Decimal("0"))],
    ],
)
def test_good_tiers_have_no_problem(tiers):
    assert tiers_problem(tiers) is None


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([], "A tiered rate needs at least one tier."),
        (
            [(Decimal("0"), Decimal("1")), (None, Decimal("1"))],
            "Tier 1: a tier size must be positive.",
        ),
        (
            [(Decimal("10"), Decimal("1")), (Decimal("-5"), Decimal("1")), (None, Decimal("1"))],
            "Tier 2: a tier size must be positive.",
        ),
        (
            [(None, Decimal("100")), (Decimal("10"), Decimal("80"))],
            "Tier 1 has no size, but only the last tier may be open-ended.",
        ),
        (
            [(Decimal("10"), Decimal("100")), (Decimal("10"), Decimal("80"))],
            "The last tier must be open-ended (leave its size empty).",
        ),
        ([(Decimal("10"), None), (None, Decimal("80"))], "Tier 1 needs a price."),
        ([(None, Decimal("-1"))], "Tier 1: a price cannot be negative."),
    ],
)
def test_bad_tiers_are_explained(tiers, message):
    assert tiers_problem(tiers) == message


def test_the_database_refuses_a_tier_of_size_zero():
    rate = RateFactory(rate_type="TIERED", price=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        RateTier.objects.create(rate=rate, level=1, size=Decimal("0"), price=Decimal("1"))


def test_the_database_refuses_a_tier_level_twice():
    rate = RateFactory(rate_type="TIERED", price=None)
    RateTier.objects.create(rate=rate, level=1, size=Decimal("10"), price=Decimal("1"))

    with pytest.raises(IntegrityError), transaction.atomic():
        RateTier.objects.create(rate=rate, level=1, size=None, price=Decimal("1"))


# ---------------------------------------------------------------------------------------------
# starting_at hour-aligned and before ending_before


def test_an_hour_aligned_rate_window_is_valid():
    RateFactory.build(
        rate_card=RateCardFactory(), product=ProductFactory(), starting_at=JAN, ending_before=JUN
    ).full_clean()


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("starting_at", datetime(2026, 1, 1, 10, 30, tzinfo=UTC)),
        ("ending_before", datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_a_rate_off_the_hour_is_refused(field, moment):
    window = {"starting_at": JAN, "ending_before": JUN, field: moment}
    rate = RateFactory.build(rate_card=RateCardFactory(), product=ProductFactory(), **window)

    assert messages(rate)[field] == ["Must be on an hour boundary (minutes and seconds zero, UTC)."]


@pytest.mark.parametrize("ending_before", [JAN, datetime(2025, 12, 1, tzinfo=UTC)])
def test_a_rate_that_ends_before_it_starts_is_refused(ending_before):
    rate = RateFactory.build(
        rate_card=RateCardFactory(),
        product=ProductFactory(),
        starting_at=JAN,
        ending_before=ending_before,
    )

    assert messages(rate)["ending_before"] == ["A rate must start before it ends."]


def test_the_database_refuses_a_rate_that_ends_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        RateFactory(starting_at=JUN, ending_before=JAN)


# ---------------------------------------------------------------------------------------------
# No two rates for the same product and pricing group values overlap in time


def _priced_product():
    metric = BillableMetricFactory(group_keys=[["model_name"]])
    return ProductFactory(billable_metric=metric, pricing_group_key=["model_name"])


def test_rates_that_follow_each_other_do_not_overlap():
    product = _priced_product()
    first = RateFactory(
        product=product, pricing_group_values={"model_name": "A"}, ending_before=JUN
    )
    later = RateFactory.build(
        rate_card=first.rate_card,
        product=product,
        pricing_group_values={"model_name": "A"},
        starting_at=JUN,
    )

    later.full_clean()


def test_rates_for_other_pricing_group_values_may_share_time():
    product = _priced_product()
    first = RateFactory(product=product, pricing_group_values={"model_name": "A"})
    other = RateFactory.build(
        rate_card=first.rate_card,
        product=product,
        pricing_group_values={"model_name": "B"},
        starting_at=JAN,
    )

    other.full_clean()


def test_overlapping_rates_are_refused():
    product = _priced_product()
    first = RateFactory(product=product, pricing_group_values={"model_name": "A"})
    clash = RateFactory.build(
        rate_card=first.rate_card,
        product=product,
        pricing_group_values={"model_name": "A"},
        starting_at=JUN,
    )

    assert messages(clash)["starting_at"] == [
        "Overlaps another rate for the same product and pricing group values "
        "(2026-01-01 00:00 to open-ended). End that rate first."
    ]


def test_the_database_refuses_two_rates_with_the_same_start():
    first = RateFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        RateFactory(rate_card=first.rate_card, product=first.product, starting_at=first.starting_at)


# ---------------------------------------------------------------------------------------------
# USAGE products need a metric, other types must not have one


def test_a_usage_product_with_a_metric_is_valid():
    ProductFactory.build(billable_metric=BillableMetricFactory()).full_clean()


@pytest.mark.parametrize("product_type", ["SUBSCRIPTION", "COMPOSITE", "FIXED", "PRO_SERVICE"])
def test_other_products_without_a_metric_are_valid(product_type):
    ProductFactory.build(type=product_type, billable_metric=None).full_clean()


def test_a_usage_product_without_a_metric_is_refused():
    product = ProductFactory.build(billable_metric=None)

    assert messages(product)["billable_metric"] == ["A usage product needs a billable metric."]


def test_a_subscription_product_with_a_metric_is_refused():
    product = ProductFactory.build(type="SUBSCRIPTION", billable_metric=BillableMetricFactory())

    assert messages(product)["billable_metric"] == [
        "Only usage products have a billable metric; a subscription product must not have one."
    ]


@pytest.mark.parametrize(
    ("product_type", "with_metric"), [("USAGE", False), ("SUBSCRIPTION", True)]
)
def test_the_database_refuses_a_product_whose_metric_does_not_fit_its_type(
    product_type, with_metric
):
    metric = BillableMetricFactory() if with_metric else None

    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(name="Broken", type=product_type, billable_metric=metric)


def test_a_rate_type_must_fit_the_product_type():
    rate = RateFactory.build(
        rate_card=RateCardFactory(), product=ProductFactory(subscription=True), rate_type="FLAT"
    )

    assert messages(rate)["rate_type"] == ["A subscription product takes a subscription rate."]


def test_rate_default_pricing_unit_is_usd_cents():
    assert (
        str(Rate._meta.get_field("credit_type").default) == "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
    )
