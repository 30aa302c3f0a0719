"""End to end with the official metronome-sdk (4.12.0, strict response validation) against a live
server: ingest twice with the same ids, then read usage back with groups and in batch."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from metronome import Metronome

from .factories import BillableMetricFactory, CustomerFactory, IngestAliasFactory


@pytest.mark.django_db(transaction=True)
def test_sdk_ingest_twice_then_usage_with_groups_and_batch(live_server, api_token, request):
    metric = BillableMetricFactory(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["api_call"]},
        property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    )
    customer = CustomerFactory(name="Acme")
    IngestAliasFactory(customer=customer, alias="acme@example.com")
    client = Metronome(
        base_url=live_server.url,
        bearer_token=api_token,
        max_retries=0,
        _strict_response_validation=True,
    )
    # Keep-alive connections closed before the test database goes: the server thread serving one
    # would otherwise still hold its database connection at teardown.
    request.addfinalizer(client.close)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - timedelta(days=2)
    events = [
        {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": "acme@example.com",
            "event_type": "api_call",
            "timestamp": (day + timedelta(hours=h)).isoformat().replace("+00:00", "Z"),
            "properties": {"tokens": tokens, "region": region},
        }
        for h, tokens, region in [(1, "1500", "eu"), (2, "250.5", "eu"), (3, "700", "us")]
    ]
    assert client.v1.usage.ingest(usage=events) is None
    assert client.v1.usage.ingest(usage=events) is None  # duplicates: dropped, still 200

    groups = list(
        client.v1.usage.list_with_groups(
            billable_metric_id=str(metric.id),
            customer_id=str(customer.id),
            window_size="DAY",
            starting_on=day,
            ending_before=today,
            group_key=["region"],
        )
    )
    assert [(g.group_key, g.group_value, g.group, g.value) for g in groups] == [
        ("region", "eu", {"region": "eu"}, 1750.5),
        ("region", "us", {"region": "us"}, 700),
    ]
    assert groups[0].starting_on == day

    usage = list(
        client.v1.usage.list(
            starting_on=day,
            ending_before=today,
            window_size="NONE",
            customer_ids=[str(customer.id)],
            billable_metrics=[{"id": str(metric.id), "group_by": {"key": "region"}}],
        )
    )
    assert len(usage) == 1
    assert usage[0].value == 2450.5
    assert usage[0].groups == {"eu": 1750.5, "us": 700}
    assert usage[0].billable_metric_name == "Tokens"

    found = client.v1.usage.search(transaction_ids=[events[0]["transaction_id"]])
    assert [(e.transaction_id, e.is_duplicate) for e in found] == [
        (events[0]["transaction_id"], False),
        (events[0]["transaction_id"], True),
    ]
    assert found[0].matched_customer.id == str(customer.id)
    assert [m.id for m in found[0].matched_billable_metrics] == [str(metric.id)]
