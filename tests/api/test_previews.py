"""previewEvents (what the drafts would be, nothing stored) and createHistoricalInvoices (past
periods from given quantities: previewed, or stored finalized in place of their drafts)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.models import Invoice
from metering.models import MetricAggregate, UsageEvent
from metering.selectors import events_roll_back
from tests.api.conftest import USD, data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest


@pytest.fixture
def world(db, post):
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[],
    )
    card = RateCardFactory()
    tokens = ProductFactory(name="Tokens", billable_metric=metric)
    RateFactory(
        rate_card=card,
        product=tokens,
        price=Decimal(2),
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    customer = CustomerFactory()
    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (month - timedelta(days=1)).replace(day=1)
    contract = data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "rate_card_id": str(card.pk),
                "starting_at": start.isoformat(),
            },
        )
    )["id"]
    return {
        "customer": customer,
        "contract": contract,
        "tokens": tokens,
        "start": start,
        "month": month,
    }


def _event(n: int, tokens: str, when: datetime) -> dict:
    return {
        "transaction_id": f"p{n}",
        "event_type": "tokens_usage",
        "timestamp": when.isoformat(),
        "properties": {"num_tokens": tokens},
    }


@pytest.mark.relational_store
def test_preview_merge_and_replace_leave_nothing_behind(world, post):
    customer = world["customer"]
    now = timezone.now()
    stored = {**_event(1, "100", now - timedelta(minutes=2)), "customer_id": str(customer.pk)}
    ingest([stored], now=now)
    url = f"/v1/customers/{customer.pk}/previewEvents"
    events = [_event(2, "50", now - timedelta(minutes=1))]
    merged = data(post(url, {"events": events, "mode": "merge"}))
    assert [(i["type"], i["total"]) for i in merged] == [("USAGE", 300)]
    replaced = data(post(url, {"events": events}))
    assert [i["total"] for i in replaced] == [100]
    # Nothing was kept: the stored event is the only one, and the draft is as before.
    assert UsageEvent.objects.count() == 1
    assert sum(MetricAggregate.objects.values_list("event_count", flat=True)) == 1
    bad = post(url, {"events": [{"event_type": "tokens_usage", "timestamp": "yesterday"}]})
    assert "timestamp" in error(bad, 400)


def test_a_preview_stores_nothing_on_either_store(world, post, get):
    """On the relational store the preview answers and the draft stays as it was; on a ClickHouse
    store (make test-chdb) it is refused before anything is written, and the draft stays too."""
    customer = world["customer"]
    now = timezone.now()
    ingest(
        [{**_event(1, "100", now - timedelta(minutes=2)), "customer_id": str(customer.pk)}], now=now
    )
    events = [_event(2, "50", now - timedelta(minutes=1))]
    answer = post(f"/v1/customers/{customer.pk}/previewEvents", {"events": events, "mode": "merge"})
    if events_roll_back():
        assert [i["total"] for i in data(answer)] == [300]
    else:
        assert "Previews are not available on a ClickHouse event store" in error(answer, 400)
    drafts = data(get(f"/v1/customers/{customer.pk}/invoices", {"status": "DRAFT"}))
    assert [i["total"] for i in drafts if i["type"] == "USAGE" and i["total"]] == [200]


def test_historical_invoices_previewed_then_stored(world, post):
    start, month = world["start"], world["month"]
    item = {
        "contract_id": world["contract"],
        "customer_id": str(world["customer"].pk),
        "credit_type_id": USD,
        "inclusive_start_date": start.isoformat(),
        "exclusive_end_date": month.isoformat(),
        "issue_date": month.isoformat(),
        "usage_line_items": [
            {
                "product_id": str(world["tokens"].pk),
                "inclusive_start_date": start.isoformat(),
                "exclusive_end_date": month.isoformat(),
                "quantity": 7,
            }
        ],
    }
    preview = data(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": True})
    )
    assert [(i["status"], i["total"]) for i in preview] == [("FINALIZED", 14)]
    assert not Invoice.objects.filter(contract_id=world["contract"], status="FINALIZED").exists()
    stored = data(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": False})
    )
    invoice = Invoice.objects.get(pk=stored[0]["id"])
    assert (invoice.status, invoice.total, invoice.issued_at) == ("FINALIZED", Decimal(14), month)
    assert not Invoice.objects.filter(
        contract_id=world["contract"], status="DRAFT", start_timestamp=start
    ).exists()
    again = post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": False})
    assert (
        error(again, 400)
        == "invoices[0]: This period already has a finalized invoice; void it first."
    )
    off = {**item, "inclusive_start_date": (start + timedelta(days=2)).isoformat()}
    assert error(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [off], "preview": True}), 400
    ) == (
        "invoices[0].inclusive_start_date: The dates must be one of the contract's billing periods "
        "(its usage statement schedule)."
    )
