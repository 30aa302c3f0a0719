"""Ingestion marks the customers of an accepted batch (one write per batch) and records
`usage.marked` only when no mark existed before; readers take marks away."""

from datetime import UTC, datetime

import pytest

from core.models import DomainEvent
from metering.models import UsageMark
from metering.services import usage_events_ingest, usage_marks_take

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _event(tx, customer):
    return {
        "transaction_id": tx,
        "customer_id": customer,
        "event_type": "api_call",
        "timestamp": "2026-03-10T11:00:00Z",
        "properties": {"tokens": 1},
    }


def test_a_batch_marks_each_customer_once_and_wakes_only_when_nothing_was_marked():
    first = usage_events_ingest(
        events=[_event("t1", "acme"), _event("t2", "acme"), _event("t3", "globex")], now=NOW
    )
    second = usage_events_ingest(events=[_event("t4", "acme"), _event("t5", "initech")], now=NOW)

    assert first.woke is True
    assert second.woke is False
    assert sorted(UsageMark.objects.values_list("customer_id", flat=True)) == [
        "acme",
        "globex",
        "initech",
    ]
    assert DomainEvent.objects.filter(type="usage.marked").count() == 1


def test_duplicates_mark_nobody():
    usage_events_ingest(events=[_event("t1", "acme")], now=NOW)
    assert usage_marks_take(limit=10) == ["acme"]
    again = usage_events_ingest(events=[_event("t1", "acme")], now=NOW)
    assert again.woke is False
    assert not UsageMark.objects.exists()


def test_taking_marks_empties_them_and_the_next_batch_wakes_again():
    usage_events_ingest(events=[_event("t1", "acme"), _event("t2", "globex")], now=NOW)
    assert usage_marks_take(limit=1) == ["acme"]
    assert usage_marks_take(limit=10) == ["globex"]
    assert usage_events_ingest(events=[_event("t3", "acme")], now=NOW).woke is True
    assert DomainEvent.objects.filter(type="usage.marked").count() == 2
