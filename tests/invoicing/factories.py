"""Factories for invoicing tests, and the small offering/customer world they need."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from catalog import money
from catalog.models import BillableMetric, PricingUnit, Product, Rate, RateCard, RateTier
from customers.models import Contract, Customer, IngestAlias
from invoicing.models import Invoice, InvoiceLineItem


def usd_cents() -> PricingUnit:
    # Get-or-create: a transactional test's flush removes the row seeded by the migration.
    unit, _ = PricingUnit.objects.get_or_create(
        pk=money.USD_CENTS_ID,
        defaults={"name": money.USD_CENTS_NAME, "is_currency": True, "decimal_places": 0},
    )
    return unit


class BillableMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillableMetric

    name = factory.Sequence(lambda n: f"Metric {n}")
    aggregation_type = "SUM"
    aggregation_key = "num_tokens"
    event_type_filter = factory.LazyFunction(lambda: {"in_values": ["tokens_usage"]})
    group_keys = factory.LazyFunction(lambda: [["model_name"]])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    type = "USAGE"
    billable_metric = factory.SubFactory(BillableMetricFactory)


class RateCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCard

    name = factory.Sequence(lambda n: f"Card {n}")
    fiat_credit_type = factory.LazyFunction(usd_cents)


class RateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rate

    rate_card = factory.SubFactory(RateCardFactory)
    product = factory.SubFactory(ProductFactory)
    rate_type = "FLAT"
    price = Decimal("150")
    starting_at = datetime(2026, 1, 1, tzinfo=UTC)
    credit_type = factory.LazyFunction(usd_cents)


class RateTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateTier

    rate = factory.SubFactory(RateFactory, rate_type="TIERED", price=None)
    level = 1
    price = Decimal("100")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class IngestAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestAlias

    customer = factory.SubFactory(CustomerFactory)
    alias = factory.Sequence(lambda n: f"alias-{n}")


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    rate_card = factory.SubFactory(RateCardFactory)
    starting_at = datetime(2026, 1, 1, tzinfo=UTC)


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    contract = factory.SubFactory(ContractFactory)
    customer = factory.SelfAttribute("contract.customer")
    credit_type = factory.LazyFunction(usd_cents)
    start_timestamp = datetime(2026, 3, 1, tzinfo=UTC)
    end_timestamp = datetime(2026, 4, 1, tzinfo=UTC)

    @factory.post_generation
    def billed_through(invoice, create, extracted, **kwargs):
        """A FINALIZED usage invoice made here moves its contract's `billed_through`, as
        finalization does (`customers.services.contracts_billed_through_extend`)."""
        if create and invoice.status == "FINALIZED" and invoice.type == "USAGE":
            from customers.services import contracts_billed_through_extend

            contracts_billed_through_extend(ends={invoice.contract_id: invoice.end_timestamp})


class InvoiceLineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLineItem

    invoice = factory.SubFactory(InvoiceFactory)
    name = "Input Tokens"
    type = "usage"
    credit_type = factory.LazyFunction(usd_cents)
    quantity = Decimal("10")
    unit_price = Decimal("15")
    total = Decimal("150")


def ingest(events: list[dict], *, now: datetime | None = None) -> list:
    """Send events through metering's ingestion (the event store's append: the relational store
    or ClickHouse, whichever the run configures), each batch with the clock an hour after its
    events unless `now` is given; late events get flagged by invoicing's hook. Returns the
    stored events (`metering.stores.StoredEvent`), read back through the store, in the order
    given."""
    from invoicing.selectors import events_late
    from metering.services import usage_events_ingest
    from metering.stores import event_store

    def moment(data):
        return datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))

    if now is not None:
        usage_events_ingest(events=list(events), now=now, is_late=events_late)
    else:
        for data in sorted(events, key=moment):
            usage_events_ingest(
                events=[data], now=moment(data) + timedelta(hours=1), is_late=events_late
            )
    found = event_store().events_by_transaction(
        transaction_ids=[data["transaction_id"] for data in events],
        since=datetime(1970, 1, 1, tzinfo=UTC),
    )
    stored = {e.transaction_id: e for e in found if not e.is_duplicate}
    return [stored[data["transaction_id"]] for data in events]
