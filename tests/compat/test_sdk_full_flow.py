"""Reference section 5, steps 16-20 (ingest, usage, invoices) on top of the configuration steps.

Dates are relative to now: ingestion only accepts events from the last 34 days.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def flow(client, world):
    now = datetime.now(UTC)
    # The contract starts a month back so an event an hour ago is always inside it.
    start = _month_start(_month_start(now) - timedelta(days=1))
    customer = world["customer"].id
    contract = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=world["rate_card"],
        starting_at=start,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
    ).data.id
    at = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    events = [
        {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": "acme@example.com",
            "event_type": "api_call",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "properties": {"tokens": "1500", "region": "eu"},
        },
        {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": "acme@example.com",
            "event_type": "api_call",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "properties": {"tokens": "150000", "region": "us"},
        },
    ]
    return {**world, "contract": contract, "customer_id": customer, "at": at, "events": events}


def test_steps_16_to_20_ingest_usage_and_the_draft_invoice(client, flow):
    # 16: the same events twice: the duplicates are dropped, both calls answer 200.
    assert client.v1.usage.ingest(usage=flow["events"]) is None
    assert client.v1.usage.ingest(usage=flow["events"]) is None

    day = flow["at"].replace(hour=0)
    # 17: grouped usage equals the ingested sums.
    groups = list(
        client.v1.usage.list_with_groups(
            billable_metric_id=flow["metric"],
            customer_id=flow["customer_id"],
            window_size="DAY",
            starting_on=day,
            ending_before=day + timedelta(days=1),
            group_key=["region"],
        )
    )
    assert {g.group_value: g.value for g in groups} == {"eu": 1500, "us": 150000}

    # 18: batch usage, same total.
    usage = list(
        client.v1.usage.list(
            starting_on=day,
            ending_before=day + timedelta(days=1),
            window_size="DAY",
            customer_ids=[flow["customer_id"]],
            billable_metrics=[{"id": flow["metric"]}],
        )
    )
    assert [u.value for u in usage] == [151500]

    # 19: the draft of the period holding the events reflects them at once.
    drafts = [
        invoice
        for invoice in client.v1.customers.invoices.list(
            customer_id=flow["customer_id"], status="DRAFT"
        )
        if invoice.start_timestamp <= flow["at"] < invoice.end_timestamp
    ]
    assert len(drafts) == 1
    # 20: lines: eu 1500 tokens -> 2 (per 1000, rounded up) x 250 = 500;
    # us 150000 -> 150 units, tiered 100 x 300 + 50 x 200 = 30000 + 10000.
    invoice = client.v1.customers.invoices.retrieve(
        customer_id=flow["customer_id"], invoice_id=drafts[0].id
    ).data
    lines = sorted(
        (li.pricing_group_values["region"], li.quantity, li.unit_price, li.total)
        for li in invoice.line_items
        if li.product_id == flow["product"]
    )
    assert lines == [("eu", 2, 250, 500), ("us", 50, 200, 10000), ("us", 100, 300, 30000)]
    assert invoice.total == 40500
