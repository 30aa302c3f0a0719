"""The relational store (the default): events, the 34-day dedup ledger and hourly pre-aggregates in
the Django database, SQLite or PostgreSQL (`metering.models`).

Ingestion is one prepared statement on PostgreSQL (`ingest.py`, `sql.py`; SQLite: `sqlite.py`),
a schedule folds closed hours into the day and month tier (`rollups.py`), usage is read from the
pre-aggregates (`reads.py`), events from the event tables (`events.py`), a metric created after its
events is backfilled (`backfill.py`), a draft preview reads and writes tables of its own
(`preview.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from django.db import connection, transaction

from ...models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    UsageEvent,
)
from ...validation import MAX_AGE
from ..base import EventStore
from . import backfill, events, preview, reads, rollups
from .ingest import batch_store
from .rollups import rollups_rebuild


class _Discard(Exception):
    """Rolls a preview's savepoint back."""


class RelationalStore(EventStore):
    name = "relational"

    @contextlib.contextmanager
    def preview(self, *, customer_ids, forget=()) -> Iterator[EventStore]:
        """PostgreSQL: views over the stored rows and the preview's own temporary tables, which
        take no lock an ingest waits on (`preview.py`). SQLite: a savepoint, the forgotten
        windows deleted, appends stored in it, all of it rolled back at the end. Either way
        nothing is seen by other connections, and nothing is left."""
        if connection.vendor == "postgresql":
            with preview.preview_scope(customer_ids, forget) as schema:
                yield _Previewing(schema)
            return
        ids = list(customer_ids)
        try:
            with transaction.atomic():
                for starting_at, ending_before in forget:
                    _usage_forget(ids, starting_at, ending_before)
                yield self
                raise _Discard
        except _Discard:
            pass

    def append(self, events, *, now, is_late=None, admit=None):
        return batch_store(events, now=now, is_late=is_late, admit=admit)

    def metric_backfill(self, *, metric, progress=None) -> int:
        return backfill.metric_aggregates_backfill(metric=metric, progress=progress)

    def rollups_fold(self, *, now: datetime) -> datetime | None:
        return rollups.rollups_fold(now=now)

    def expire(self, *, now: datetime) -> int:
        cutoff = now - MAX_AGE
        deleted, _ = IngestedTransaction.objects.filter(received_at__lt=cutoff).delete()
        DuplicateEvent.objects.filter(received_at__lt=cutoff).delete()
        return deleted

    def usage_by_segment(self, *, metric, customer_ids, bounds, group_keys, only=None):
        return reads.usage_by_segment(metric, customer_ids, bounds, group_keys, only)

    def usage_by_customer(self, *, metric, customers, starting_at, ending_before, group_keys):
        return reads.usage_by_customer(metric, customers, starting_at, ending_before, group_keys)

    def unique_first_seen(self, *, metric, customer_ids, bounds, group_keys):
        return reads.unique_first_seen(metric, customer_ids, bounds, group_keys)

    def daily_usage(self, *, metric_ids, customer_ids, starting_at, ending_before):
        return reads.daily_usage(metric_ids, customer_ids, starting_at, ending_before)

    def events_between(self, *, customer_ids, starting_at, ending_before, event_types):
        return events.events_between(customer_ids, starting_at, ending_before, event_types)

    def events_by_transaction(self, *, transaction_ids, since):
        return events.events_by_transaction(transaction_ids, since)

    def transaction_accepted_at(self, *, transaction_id, since):
        return (
            IngestedTransaction.objects.filter(
                transaction_id=transaction_id, received_at__gte=since
            )
            .values_list("received_at", flat=True)
            .first()
        )

    def late_event_count(self, *, customer_ids) -> int:
        return events.late_event_count(customer_ids)

    def event_customer_ids(self):
        return events.event_customer_ids()

    def customer_id_activity(self, *, customer_ids, since):
        return events.customer_id_activity(customer_ids, since)

    def recent_events(
        self, *, customer_ids=None, transaction_id=None, event_type=None, before=None, limit=50
    ):
        return events.recent_events(customer_ids, transaction_id, event_type, before, limit)

    def sql_metric_rows(
        self,
        *,
        sql,
        by_hour,
        customer_ids,
        starting_at,
        ending_before,
        only=None,
        ranges=None,
        hours_from=None,
    ):
        from ...sql_metrics.compiler import bind, compiled_for
        from ...sql_metrics.runner import run_bound

        vendor = connection.vendor
        query, params = bind(
            compiled_for(sql, vendor, by_hour),
            vendor=vendor,
            customer_ids=list(customer_ids),
            starting_at=starting_at,
            ending_before=ending_before,
            only=only,
            ranges=ranges,
            hours_from=hours_from,
        )
        # A whole window grouped by bucket: in parallel (`run_bound`).
        rows = run_bound(query, params, parallel=bool(by_hour) and not ranges)
        return [list(row) for row in rows]

    def event_counts_by_hour(self, *, metric, customer_ids, starting_at, ending_before):
        counts: dict[datetime, int] = {}
        for hour, count in MetricAggregate.objects.filter(
            metric_id=metric.pk,
            customer_id__in=list(customer_ids),
            hour__gte=starting_at.replace(minute=0, second=0, microsecond=0),
            hour__lt=ending_before,
        ).values_list("hour", "event_count"):
            counts[hour] = counts.get(hour, 0) + count
        return counts


class _Previewing(RelationalStore):
    """The relational store inside a PostgreSQL preview: it reads as the store does (through the
    preview's views) and appends into the preview's own tables."""

    def __init__(self, schema: str):
        self.schema = schema

    def append(self, events, *, now, is_late=None, admit=None):
        return preview.preview_append(
            events, now=now, is_late=is_late, admit=admit, schema=self.schema
        )


def _usage_forget(ids: list[str], starting_at: datetime, ending_before: datetime) -> None:
    """Delete the events of these customer ids in [starting_at, ending_before) and their usage
    (the hours the window touches; the day and month rows rebuilt from the hours left)."""
    UsageEvent.objects.filter(
        customer_id__in=ids, timestamp__gte=starting_at, timestamp__lt=ending_before
    ).delete()
    window = {
        "customer_id__in": ids,
        "hour__gte": starting_at.replace(minute=0, second=0, microsecond=0),
        "hour__lt": ending_before,
    }
    MetricAggregate.objects.filter(**window).delete()
    MetricDistinctValue.objects.filter(**window).delete()
    rollups_rebuild(customer_ids=ids, starting_at=starting_at, ending_before=ending_before)
