"""Factories for every catalog model. Amounts are in `USD (cents)` unless a test says otherwise."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from catalog import money
from catalog.models import (
    BillableMetric,
    CreditTypeConversion,
    Package,
    PricingUnit,
    Product,
    ProductUpdate,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def usd_cents() -> PricingUnit:
    """The built-in unit seeded by the data migration (recreated if a transactional test flushed it)."""
    unit, _ = PricingUnit.objects.get_or_create(
        pk=money.USD_CENTS_ID,
        defaults={"name": money.USD_CENTS_NAME, "is_currency": True, "decimal_places": 0},
    )
    return unit


class PricingUnitFactory(factory.django.DjangoModelFactory):
    """A custom (non-fiat) unit; use `usd_cents()` for the built-in currency."""

    class Meta:
        model = PricingUnit

    name = factory.Sequence(lambda n: f"Credits {n}")
    is_currency = False
    decimal_places = 2


class BillableMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillableMetric

    name = factory.Sequence(lambda n: f"Metric {n}")
    aggregation_type = BillableMetric.AggregationType.SUM
    aggregation_key = "num_tokens"
    event_type_filter = factory.LazyFunction(lambda: {"in_values": ["tokens_usage"]})
    property_filters = factory.LazyFunction(lambda: [{"name": "num_tokens", "exists": True}])
    group_keys = factory.LazyFunction(lambda: [["model_name"], ["model_name", "user_id"]])


class ProductFactory(factory.django.DjangoModelFactory):
    """A USAGE product by default; traits `subscription`, `fixed`, `composite` for the others."""

    class Meta:
        model = Product

    class Params:
        subscription = factory.Trait(type=Product.Type.SUBSCRIPTION, billable_metric=None)
        fixed = factory.Trait(type=Product.Type.FIXED, billable_metric=None)
        composite = factory.Trait(type=Product.Type.COMPOSITE, billable_metric=None)

    name = factory.Sequence(lambda n: f"Product {n}")
    type = Product.Type.USAGE
    billable_metric = factory.SubFactory(BillableMetricFactory)
    tags = factory.LazyFunction(list)


class RateCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCard

    name = factory.Sequence(lambda n: f"Rate card {n}")
    fiat_credit_type = factory.LazyFunction(usd_cents)


class RateCardAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCardAlias

    rate_card = factory.SubFactory(RateCardFactory)
    name = factory.Sequence(lambda n: f"card-alias-{n}")


class CreditTypeConversionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditTypeConversion

    rate_card = factory.SubFactory(RateCardFactory)
    custom_credit_type = factory.SubFactory(PricingUnitFactory)
    fiat_per_custom_credit = Decimal("2")


class RateFactory(factory.django.DjangoModelFactory):
    """A FLAT rate of 150 (cents: $1.50) from 2026-01-01, open-ended."""

    class Meta:
        model = Rate

    rate_card = factory.SubFactory(RateCardFactory)
    product = factory.SubFactory(ProductFactory)
    rate_type = Rate.RateType.FLAT
    price = Decimal("150")
    starting_at = START
    credit_type = factory.LazyFunction(usd_cents)


class RateTierFactory(factory.django.DjangoModelFactory):
    """The open-ended first tier of a TIERED rate; pass level/size for more."""

    class Meta:
        model = RateTier

    rate = factory.SubFactory(RateFactory, rate_type=Rate.RateType.TIERED, price=None)
    level = 1
    size = None
    price = Decimal("100")


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Package

    name = factory.Sequence(lambda n: f"Package {n}")
    rate_card = factory.SubFactory(RateCardFactory)
    duration_unit = Package.DurationUnit.YEARS
    duration_value = 1
    terms = factory.LazyFunction(
        lambda: {
            "commits": [],
            "credits": [],
            "overrides": [],
            "scheduled_charges": [],
            "subscriptions": [],
        }
    )


class ProductUpdateFactory(factory.django.DjangoModelFactory):
    """A dated rename, effective from 2026-06-01."""

    class Meta:
        model = ProductUpdate

    product = factory.SubFactory(ProductFactory)
    starting_at = datetime(2026, 6, 1, tzinfo=UTC)
    changes = factory.LazyFunction(lambda: {"name": "Renamed product"})
