"""Factories for every metering model, plus the small catalog/customers objects metering tests need
(made with the ORM directly: metering tests must not depend on other apps' test helpers)."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import factory

from catalog.models import BillableMetric
from customers.models import Customer, IngestAlias
from metering.models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    UsageEvent,
)

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class BillableMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillableMetric

    name = factory.Sequence(lambda n: f"Metric {n}")
    aggregation_type = "SUM"
    aggregation_key = "tokens"
    event_type_filter = factory.LazyFunction(lambda: {"in_values": ["api_call"]})
    property_filters = factory.LazyFunction(list)
    group_keys = factory.LazyFunction(lambda: [["region"]])


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class IngestAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestAlias

    customer = factory.SubFactory(CustomerFactory)
    alias = factory.Sequence(lambda n: f"alias-{n}@example.com")


class UsageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageEvent

    transaction_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    customer_id = factory.Sequence(lambda n: f"customer-{n}")
    event_type = "api_call"
    timestamp = T0
    properties = factory.LazyFunction(lambda: {"tokens": Decimal("1.5"), "region": "eu"})
    received_at = T0


class IngestedTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestedTransaction

    transaction_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    received_at = T0


class DuplicateEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DuplicateEvent

    transaction_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    customer_id = "customer-1"
    event_type = "api_call"
    timestamp = T0
    properties = factory.LazyFunction(dict)
    received_at = T0


class MetricAggregateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricAggregate

    metric = factory.SubFactory(BillableMetricFactory)
    customer_id = "customer-1"
    hour = T0
    group_values = '{"region":"eu"}'
    event_count = 1
    value_sum = Decimal("1")
    value_max = Decimal("1")
    latest_value = Decimal("1")
    latest_timestamp = T0
    latest_transaction_id = factory.LazyFunction(lambda: str(uuid.uuid4()))


class MetricDistinctValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricDistinctValue

    metric = factory.SubFactory(BillableMetricFactory, aggregation_type="UNIQUE")
    customer_id = "customer-1"
    hour = T0
    group_values = '{"region":"eu"}'
    value = factory.Sequence(lambda n: f"user-{n}")
