"""Racing ingest requests on PostgreSQL: each with its own connection, real concurrent statements."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from metering import selectors, services
from metering.models import DuplicateEvent, MetricAggregate, UsageEvent

from .conftest import postgres_only
from .factories import BillableMetricFactory, CustomerFactory

NOW = datetime.now(UTC).replace(microsecond=0)


def _race(batches: list[list[dict]]) -> list[BaseException]:
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def run(batch):
        try:
            barrier.wait()
            services.usage_events_ingest(events=batch, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _event(customer_id: str, tx: str, tokens: int) -> dict:
    return {
        "transaction_id": tx,
        "customer_id": customer_id,
        "event_type": "api_call",
        "timestamp": (NOW - timedelta(hours=1)).isoformat(),
        "properties": {"tokens": tokens, "region": "eu"},
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_the_same_transaction_id_store_it_once():
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    rounds = 10
    for _ in range(rounds):
        shared = str(uuid.uuid4())
        # Four requests carry the same transaction id (with different payloads) plus their own.
        errors = _race(
            [[_event(cid, shared, 1), _event(cid, str(uuid.uuid4()), 10)] for _ in range(4)]
        )
        assert errors == []
        assert UsageEvent.objects.filter(transaction_id=shared).count() == 1
    assert UsageEvent.objects.count() == rounds * 5
    assert DuplicateEvent.objects.count() == rounds * 3
    start = NOW.replace(minute=0, second=0) - timedelta(days=1)
    total = selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=start,
        ending_before=start + timedelta(days=2),
        group_keys=[],
    )
    assert total == {(): Decimal(rounds * (1 + 4 * 10))}
    assert sum(MetricAggregate.objects.values_list("event_count", flat=True)) == rounds * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_batches_updating_the_same_aggregate_rows_lose_nothing():
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    batches = [[_event(cid, str(uuid.uuid4()), 1) for _ in range(50)] for _ in range(6)]
    assert _race(batches) == []
    start = NOW.replace(minute=0, second=0) - timedelta(days=1)
    assert selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=start,
        ending_before=start + timedelta(days=2),
        group_keys=["region"],
    ) == {("eu",): Decimal(300)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_batch_is_retried_and_stored_once(monkeypatch):
    postgres_only()
    import psycopg

    BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    real_execute = psycopg.Cursor.execute
    failures = []

    def execute(self, query, *args, **kwargs):
        if "json_to_recordset" in str(query) and not failures:
            failures.append(query)
            raise psycopg.errors.DeadlockDetected("deadlock detected (simulated)")
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    tx = str(uuid.uuid4())
    result = services.usage_events_ingest(events=[_event("c", tx, 5)], now=NOW)
    assert len(failures) == 1
    assert [e.transaction_id for e in result.inserted] == [tx]
    assert UsageEvent.objects.filter(transaction_id=tx).count() == 1
