"""The relational store's backfill: rebuild one metric's pre-aggregates from the stored events (a
metric created after its events): the hourly rows chunk by chunk from the events, then the day and
month rows of each calendar month from its hourly rows once its chunks are done (`rollups.py`).

Idempotent: each chunk of time (a UTC day by default) is rebuilt from scratch (its aggregate rows
deleted, then recomputed from the raw events) in its own transaction, so running it twice gives the
same rows and a stopped run can simply be started again.

Why it does not race with ingestion (PostgreSQL): every chunk first takes
`LOCK TABLE usage events IN SHARE MODE`, which waits for every in-flight ingest statement and
holds new ones back until the chunk commits. An ingest statement carries the metric-definitions
signature it was computed with and writes nothing if a metric was created since (see
`metering.ingest`). The backfill starts after the metric was committed, so once the first lock
was granted, no statement computed without the metric can commit any more: every event is either
committed before a chunk reads it (and counted by that chunk's rebuild) or counted by ingestion
itself after the chunk that holds its hour was rebuilt. A first, empty lock is taken before the
time range is read for the same reason. On SQLite there is one writer at a time anyway.

The lock waits `LOCK_WAIT` at most (as the tier's fold does): while a backfill waits for it behind
a long transaction that holds the events table (a bulk delete), every ingest statement queues
behind the backfill. It gives way and tries again `LOCK_ATTEMPTS`
times, then stops with `EventsLocked` (nothing half done: each chunk is its own transaction, and
the backfill is idempotent, so running it again, or the outbox retrying its handler, goes on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.db import OperationalError, connection, transaction
from django.db.models import Max, Min

from catalog.models import BillableMetric

from ...definitions import CompiledMetric
from ...models import MetricAggregate, MetricDistinctValue, UsageEvent
from ..base import Progress
from ..partials import Partial
from ..tiers import period_start
from .rollups import LOCK_WAIT, rollups_rebuild
from .sqlite import _q, aggregates_merge_sqlite

T = TypeVar("T")


# How often a backfill transaction tries for the events table's lock, and the pause between tries.
LOCK_ATTEMPTS = 5
LOCK_PAUSE = 1.0


class EventsLocked(RuntimeError):
    """The usage events table stayed locked by another transaction through every try."""


def _locked(work: Callable[[], T]) -> T:
    """`work()` in a transaction that first takes the events table's SHARE lock (PostgreSQL),
    waiting `LOCK_WAIT` at most per try."""
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                        cursor.execute(f"LOCK TABLE {_q(UsageEvent)} IN SHARE MODE")
                return work()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            if attempt == LOCK_ATTEMPTS:
                raise EventsLocked(
                    f"The usage events table stayed locked by another transaction through "
                    f"{LOCK_ATTEMPTS} waits of {LOCK_WAIT}: the backfill stopped (it is "
                    f"idempotent; run it again)."
                ) from exc
            time.sleep(LOCK_PAUSE)
    raise AssertionError("unreachable")


def _events(metric: CompiledMetric, start: datetime | None = None, end: datetime | None = None):
    events = UsageEvent.objects.all()
    if start is not None:
        events = events.filter(timestamp__gte=start, timestamp__lt=end)
    if metric.types_in is not None:
        events = events.filter(event_type__in=sorted(metric.types_in))
    if metric.types_not_in:
        events = events.exclude(event_type__in=sorted(metric.types_not_in))
    return events


def metric_aggregates_backfill(
    *,
    metric: BillableMetric,
    chunk: timedelta = timedelta(days=1),
    progress: Progress | None = None,
) -> int:
    """Rebuild `metric`'s aggregates over every stored event; returns the events it matched."""
    compiled = CompiledMetric.from_model(metric)
    _locked(lambda: None)
    span = _events(compiled).aggregate(first=Min("timestamp"), last=Max("timestamp"))
    if span["first"] is None:
        if progress:
            progress(f"{metric.name}: no events to measure.")
        return 0
    start = span["first"].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = span["last"].astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
        hours=1
    )
    chunks = []
    cursor_at = start
    while cursor_at < end:
        chunks.append((cursor_at, min(cursor_at + chunk, end)))
        cursor_at += chunk
    matched_total = 0
    pending = None
    for number, (chunk_start, chunk_end) in enumerate(chunks, start=1):
        scanned, matched = _rebuild_chunk(compiled, chunk_start, chunk_end)
        matched_total += matched
        pending = pending or chunk_start
        following = chunks[number][0] if number < len(chunks) else None
        if following is None or period_start("month", following) > chunk_start:
            # The hours of a month are all rebuilt: its day and month rows follow from them.
            _rebuild_rollups(compiled, pending, chunk_end)
            pending = None
        if progress:
            progress(
                f"{metric.name}: [{number}/{len(chunks)}] {chunk_start:%Y-%m-%d %H:%M} to "
                f"{chunk_end:%Y-%m-%d %H:%M}: {scanned} events read, {matched} matched"
            )
    return matched_total


def _rebuild_rollups(metric: CompiledMetric, start: datetime, end: datetime) -> None:
    """Rebuild the metric's day and month rows of the calendar months overlapping [start, end)
    from its hourly rows, under the same lock as a chunk (the hourly rows cannot change
    meanwhile; an event ingested since its chunk was rebuilt is in the hourly rows, so counted
    once; until then the month's day and month rows may be off, as its hours were mid-chunk)."""
    _locked(lambda: rollups_rebuild(starting_at=start, ending_before=end, metric_id=metric.id))


def _rebuild_chunk(metric: CompiledMetric, start: datetime, end: datetime) -> tuple[int, int]:
    return _locked(lambda: _rebuild_chunk_locked(metric, start, end))


def _rebuild_chunk_locked(metric: CompiledMetric, start: datetime, end: datetime):
    """The chunk's hourly rows and distinct values deleted and recomputed from its events; returns
    (events read, events matched)."""
    for model in (MetricAggregate, MetricDistinctValue):
        model.objects.filter(metric_id=metric.id, hour__gte=start, hour__lt=end).delete()
    rows = []
    scanned = 0
    events = (
        _events(metric, start, end)
        .order_by()
        .values_list("customer_id", "timestamp", "transaction_id", "properties")
    )
    for customer_id, timestamp, transaction_id, properties in events.iterator(chunk_size=5000):
        scanned += 1
        found = metric.contribution(properties or {})
        if found is None:
            continue
        timestamp = timestamp.astimezone(UTC)
        hour = timestamp.replace(minute=0, second=0, microsecond=0)
        rows.append(
            (
                metric.id,
                customer_id,
                hour,
                found[0],
                found[1],
                found[2],
                timestamp,
                transaction_id,
            )
        )
    if rows:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _insert_postgresql(cursor, rows)
            else:
                aggregates_merge_sqlite(cursor, rows)
    return scanned, len(rows)


def _insert_postgresql(cursor, rows) -> None:
    partials: dict[tuple, Partial] = {}
    distinct: set[tuple] = set()
    for metric_id, customer_id, hour, group, value, distinct_value, timestamp, tx in rows:
        key = (metric_id, customer_id, hour, group)
        partial = partials.get(key)
        if partial is None:
            partial = partials[key] = Partial()
        partial.add(value, timestamp, tx)
        if distinct_value is not None:
            distinct.add((*key, distinct_value))
    keys = sorted(partials)
    for start in range(0, len(keys), 5000):
        part = keys[start : start + 5000]
        values = [partials[k] for k in part]
        cursor.execute(
            f"INSERT INTO {_q(MetricAggregate)} (metric_id, customer_id, hour, group_values, "
            f"event_count, value_sum, value_max, latest_value, latest_timestamp, "
            f"latest_transaction_id) SELECT * FROM unnest(%s::uuid[], %s::text[], "
            f"%s::timestamptz[], %s::text[], %s::bigint[], %s::numeric[], %s::numeric[], "
            f"%s::numeric[], %s::timestamptz[], %s::text[])",
            [
                [k[0] for k in part],
                [k[1] for k in part],
                [k[2] for k in part],
                [k[3] for k in part],
                [p.count for p in values],
                [p.total for p in values],
                [p.maximum for p in values],
                [p.latest_value for p in values],
                [p.latest_timestamp for p in values],
                [p.latest_transaction_id for p in values],
            ],
        )
    rows_distinct = sorted(distinct)
    for start in range(0, len(rows_distinct), 5000):
        part = rows_distinct[start : start + 5000]
        cursor.execute(
            f"INSERT INTO {_q(MetricDistinctValue)} (metric_id, customer_id, hour, group_values, "
            f"value) SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], "
            f"%s::text[], %s::text[])",
            [[r[i] for r in part] for i in range(5)],
        )
