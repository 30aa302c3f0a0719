"""Event reads of the relational store: the stored events (`UsageEvent`) and the dropped
duplicates (`DuplicateEvent`), for rating windows not on hour boundaries, the events search, the
late-event count and the customer-id activity pages."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Max

from ...models import DuplicateEvent, UsageEvent
from ..base import CustomerIdActivity, StoredEvent
from .ingest import _q


def events_between(customer_ids, starting_at, ending_before, event_types):
    events = UsageEvent.objects.filter(
        customer_id__in=list(customer_ids),
        timestamp__gte=starting_at,
        timestamp__lt=ending_before,
    )
    if event_types:
        events = events.filter(event_type__in=list(event_types))
    rows = events.order_by("timestamp", "received_at", "id").values_list("event_type", "properties")
    for event_type, properties in rows.iterator(chunk_size=5000):
        yield event_type, properties or {}


def _stored(event, duplicate: bool) -> StoredEvent:
    return StoredEvent(
        id=event.id,
        transaction_id=event.transaction_id,
        customer_id=event.customer_id,
        event_type=event.event_type,
        timestamp=event.timestamp,
        properties=event.properties or {},
        received_at=event.received_at,
        is_duplicate=duplicate,
        is_late=getattr(event, "is_late", False),
    )


def events_by_transaction(transaction_ids, since) -> list[StoredEvent]:
    found = []
    for model, duplicate in ((UsageEvent, False), (DuplicateEvent, True)):
        for event in model.objects.filter(
            transaction_id__in=list(transaction_ids), received_at__gte=since
        ).order_by("received_at", "id"):
            found.append(_stored(event, duplicate))
    return found


def late_event_count(customer_ids) -> int:
    return UsageEvent.objects.filter(customer_id__in=list(customer_ids), is_late=True).count()


def event_customer_ids() -> list[str]:
    """Every customer_id events were sent under: a recursive CTE stepping through the index to the
    next greater id (PostgreSQL has no skip scan of its own; SQLite runs the same query), one
    probe per id rather than a read of every event."""
    table = _q(UsageEvent)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE ids(customer_id) AS (
                SELECT MIN(customer_id) FROM {table}
                UNION ALL
                SELECT (SELECT MIN(e.customer_id) FROM {table} e
                        WHERE e.customer_id > ids.customer_id)
                FROM ids WHERE ids.customer_id IS NOT NULL
            )
            SELECT customer_id FROM ids WHERE customer_id IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def customer_id_activity(customer_ids, since) -> list[CustomerIdActivity]:
    ids = sorted(customer_ids)
    found = []
    for start in range(0, len(ids), 500):
        for row in (
            UsageEvent.objects.filter(
                customer_id__in=ids[start : start + 500], received_at__gte=since
            )
            .order_by()
            .values("customer_id")
            .annotate(events=Count("id"), last=Max("timestamp"))
        ):
            found.append(CustomerIdActivity(row["customer_id"], row["events"], row["last"]))
    return found


def recent_events(customer_ids, transaction_id, event_type, before, limit) -> list[StoredEvent]:
    events = UsageEvent.objects.all()
    if customer_ids is not None:
        events = events.filter(customer_id__in=list(customer_ids))
    if transaction_id:
        events = events.filter(transaction_id=transaction_id)
    if event_type:
        events = events.filter(event_type=event_type)
    if before is not None:
        moment, tx = before
        events = events.filter(timestamp__lte=moment).exclude(
            timestamp=moment, transaction_id__gte=tx
        )
    return [_stored(e, False) for e in events.order_by("-timestamp", "-transaction_id")[:limit]]
