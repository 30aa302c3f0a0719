"""CUSTOMER-scope composite rates through the database: the customer's other contracts' charges
count (drafts rated now, finalized invoices as frozen), and the charge is billed on one
contract only (the one that started first)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import Contract
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    CustomerFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    ingest,
)

pytestmark = pytest.mark.django_db

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_2 = datetime(2026, 4, 2, tzinfo=UTC)


def usage_product(name: str, event_type: str):
    metric = BillableMetricFactory(
        aggregation_key="units",
        event_type_filter={"in_values": [event_type]},
        property_filters=[{"name": "units", "exists": True}],
        group_keys=[],
    )
    return ProductFactory(name=name, billable_metric=metric, tags=["infra"])


@pytest.fixture
def world():
    """Compute (100 per unit) and Support (10% of infra, customer-wide) on the first contract's
    card; Storage (50 per unit) on a second contract's card, from February."""
    customer = CustomerFactory(name="Acme")
    compute = usage_product("Compute", "compute")
    storage = usage_product("Storage", "storage")
    support = ProductFactory(
        name="Support", type="COMPOSITE", billable_metric=None, composite_tags=["infra"]
    )
    main_card, storage_card = RateCardFactory(), RateCardFactory()
    RateFactory(rate_card=main_card, product=compute, price=Decimal(100), starting_at=JAN_1)
    RateFactory(rate_card=storage_card, product=storage, price=Decimal(50), starting_at=JAN_1)
    for card in (main_card, storage_card):
        RateFactory(
            rate_card=card,
            product=support,
            rate_type="PERCENTAGE",
            price=Decimal("0.1"),
            composite_scope="CUSTOMER",
            starting_at=JAN_1,
        )
    main = ContractFactory(customer=customer, rate_card=main_card, starting_at=JAN_1)
    other = ContractFactory(customer=customer, rate_card=storage_card, starting_at=FEB_1)
    for contract in (main, other):
        contract_drafts_ensure(contract=contract, now=MAR_1)
    events = [("compute", "20", 3), ("storage", "40", 4)]
    ingest(
        [
            {
                "transaction_id": f"{kind}-{day}",
                "customer_id": str(customer.pk),
                "event_type": kind,
                "timestamp": datetime(2026, 3, day, 12, tzinfo=UTC).isoformat(),
                "properties": {"units": units},
            }
            for kind, units, day in events
        ]
    )
    return {"customer": customer, "main": main, "other": other, "support": support}


def march(contract: Contract) -> Invoice:
    return Invoice.objects.get(contract=contract, start_timestamp=MAR_1, type="USAGE")


def lines(contract: Contract, product=None):
    view = invoice_view(invoice=march(contract), now=APR_2)
    return [
        (li.name, li.quantity, li.unit_price, li.total)
        for li in view.lines
        if product is None or str(li.product_id) == str(product.pk)
    ]


def test_the_first_contract_bills_the_customers_spend_once(world):
    # Compute 20 x 100 = 2000 here, Storage 40 x 50 = 2000 on the other contract: 10% of 4000.
    assert lines(world["main"], world["support"]) == [
        ("Support", Decimal("4000"), Decimal("0.1"), Decimal("400"))
    ]
    assert lines(world["other"], world["support"]) == []


def test_a_finalized_invoice_of_the_other_contract_counts_as_frozen(world):
    invoice_finalize(invoice=march(world["other"]), now=APR_2)
    ingest(
        [
            {
                "transaction_id": "storage-late",
                "customer_id": str(world["customer"].pk),
                "event_type": "storage",
                "timestamp": datetime(2026, 3, 20, tzinfo=UTC).isoformat(),
                "properties": {"units": "100"},
            }
        ],
        now=APR_2,
    )

    # The late storage event changes neither the other contract's final invoice nor this draft.
    assert lines(world["main"], world["support"]) == [
        ("Support", Decimal("4000"), Decimal("0.1"), Decimal("400"))
    ]


def test_an_archived_contract_neither_bills_nor_counts(world):
    Contract.objects.filter(pk=world["other"].pk).update(archived_at=MAR_1)

    assert lines(world["main"], world["support"]) == [
        ("Support", Decimal("2000"), Decimal("0.1"), Decimal("200"))
    ]


def test_the_finalized_invoice_keeps_the_spend_it_counted_in_its_snapshot(world):
    outcome = invoice_finalize(invoice=march(world["main"]), now=APR_2)

    snapshot = Invoice.objects.get(pk=outcome.invoice.pk).rating_snapshot
    assert [(s["product_id"], s["total"]) for s in snapshot["customer_spend"]] == [
        (str(world["other"].rate_card.rates.get(product__name="Storage").product_id), "2000")
    ]
    assert Invoice.objects.get(pk=outcome.invoice.pk).total == Decimal("2400")
