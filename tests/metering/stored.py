"""What the event store holds, read through the store (so a test runs against either engine)."""

from datetime import UTC, datetime
from decimal import Decimal

from metering.models import MetricAggregate
from metering.stores import StoredEvent, event_store
from metering.stores.clickhouse.numbers import value_from_parts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stored_events(**filters) -> list[StoredEvent]:
    return event_store().recent_events(limit=1_000_000, **filters)


def stored_count(**filters) -> int:
    return len(stored_events(**filters))


def stored_one(**filters) -> StoredEvent:
    (found,) = stored_events(**filters)
    return found


def dropped(*transaction_ids: str) -> list[StoredEvent]:
    """Dropped duplicates remembered under these transaction ids."""
    found = event_store().events_by_transaction(transaction_ids=list(transaction_ids), since=EPOCH)
    return [event for event in found if event.is_duplicate]


def store_reset() -> None:
    """Empty the ClickHouse store (a relational store is emptied by the test's rollback)."""
    store = event_store()
    if store.name == "clickhouse":
        for table in ("usage", "duplicates"):
            store.client.command(f"TRUNCATE TABLE {store.database}.{table}")


def aggregate_rows(metric) -> dict[tuple[str, str], tuple[int, Decimal | None, Decimal | None]]:
    """{(customer id, group values JSON): (events, sum, max)} of a metric's pre-aggregates."""
    store = event_store()
    if store.name != "clickhouse":
        return {
            (row.customer_id, row.group_values): (row.event_count, row.value_sum, row.value_max)
            for row in MetricAggregate.objects.filter(metric=metric)
        }
    rows = store.client.rows(
        f"SELECT customer_id, group_values, sum(event_count), sum(sum_int), sum(sum_frac1), "
        f"sum(sum_frac2), max(sum_scale), max(max_value) FROM {store.database}.usage "
        f"WHERE kind = 'aggregate' AND metric_id = '{metric.pk}' "
        f"GROUP BY customer_id, group_values"
    )
    found = {}
    for customer_id, group, count, *parts, highest in rows:
        total = value_from_parts(*parts) if highest[3] else None
        found[(customer_id, group)] = (
            int(count),
            total,
            Decimal(highest[3]) if highest[3] else None,
        )
    return found
