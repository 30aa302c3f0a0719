"""The relational backfill's lock on the usage events table (PostgreSQL, real concurrent
connections): it waits a bounded time behind a transaction holding the table, gives way and tries
again, and stops with a clear error if the table stays locked; ingestion is never queued behind
an unbounded wait."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from metering import selectors, services
from metering.stores.relational import backfill

from .conftest import postgres_only
from .factories import BillableMetricFactory, CustomerFactory

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _hold_events_table(locked: threading.Event, release: threading.Event) -> None:
    """A long transaction that writes the events table (a draft preview forgetting usage)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE metering_usageevent IN ROW EXCLUSIVE MODE")
            locked.set()
            release.wait(30)
    finally:
        connection.close()


def _customer_with_events():
    customer = CustomerFactory()
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": f"lock-{index}",
                "customer_id": str(customer.id),
                "event_type": "api_call",
                "timestamp": (NOW - timedelta(hours=index)).isoformat(),
                "properties": {"tokens": 2},
            }
            for index in range(5)
        ],
        now=NOW,
    )
    return customer


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backfill_behind_a_held_events_table_stops_with_a_clear_error(monkeypatch):
    postgres_only()
    monkeypatch.setattr(backfill, "LOCK_WAIT", "200ms")
    monkeypatch.setattr(backfill, "LOCK_ATTEMPTS", 3)
    monkeypatch.setattr(backfill, "LOCK_PAUSE", 0)
    _customer_with_events()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_events_table, args=(locked, release))
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(backfill.EventsLocked) as raised:
            backfill.metric_aggregates_backfill(metric=metric)
    finally:
        release.set()
        holder.join()
    assert str(raised.value) == (
        "The usage events table stayed locked by another transaction through 3 waits of 200ms: "
        "the backfill stopped (it is idempotent; run it again)."
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backfill_gives_way_and_goes_on_once_the_events_table_is_free(monkeypatch):
    postgres_only()
    monkeypatch.setattr(backfill, "LOCK_WAIT", "200ms")
    monkeypatch.setattr(backfill, "LOCK_ATTEMPTS", 5)
    monkeypatch.setattr(backfill, "LOCK_PAUSE", 0)
    customer = _customer_with_events()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_events_table, args=(locked, release))
    holder.start()
    tries = []
    sleep = backfill.time.sleep

    def pause(seconds):
        """The first give-way ends the other transaction."""
        tries.append(seconds)
        release.set()
        holder.join()
        sleep(seconds)

    monkeypatch.setattr(backfill.time, "sleep", pause)
    try:
        assert locked.wait(10)
        assert backfill.metric_aggregates_backfill(metric=metric) == 5
    finally:
        release.set()
        holder.join()
    assert tries == [0]
    usage = selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=NOW - timedelta(days=1),
        ending_before=NOW + timedelta(hours=1),
        group_keys=[],
    )
    assert usage == {(): 10}
