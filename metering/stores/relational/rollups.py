"""The relational store's coarser aggregate tier (`MetricRollup`): per metric, customer id and group
values, the hourly pre-aggregates added up over each whole UTC day and calendar month.

Written beside the hourly rows by the same ingest statement (`sql.py`; on SQLite in the same
transaction, `ingest.aggregates_merge_sqlite`), and rebuilt from the hourly rows wherever those are
rebuilt rather than ingested (`rollups_rebuild`: a metric's backfill, a draft preview, the
migration that created the tier). A read covers each segment of its window with the coarsest rows
that fit whole inside it (`cover`): months, then days, then hours at the edges. COUNT, SUM, MAX and
LATEST roll up exactly (add, add, maximum, latest by (timestamp, transaction id)); UNIQUE does not
(distinct values over a month are not a function of the days' counts) and never reads this tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from django.db import connection

from ...models import MetricAggregate, MetricRollup
from ..partials import Partial

# Coarsest first: a segment takes the months it covers whole, then the days, then hours.
GRAINS = (MetricRollup.Grain.MONTH.value, MetricRollup.Grain.DAY.value)

Range = tuple[datetime, datetime]


def period_start(grain: str, moment: datetime) -> datetime:
    """The start of the UTC day or calendar month holding `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if grain == "month" else day


def period_after(grain: str, start: datetime) -> datetime:
    """The start of the period after the one starting at `start`."""
    if grain == "day":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _period_ceiling(grain: str, moment: datetime) -> datetime:
    start = period_start(grain, moment)
    return start if start == moment else period_after(grain, start)


@dataclass(slots=True)
class Cover:
    """Which rows a read of hour-aligned `bounds` adds up: hourly rows in `hours`, rollup rows of
    each grain whose period starts in that grain's `periods` (ranges merged where they touch)."""

    hours: list[Range] = field(default_factory=list)
    periods: dict[str, list[Range]] = field(default_factory=dict)


def cover(bounds: Sequence[datetime], grains: Sequence[str] = GRAINS) -> Cover:
    """The coarsest rows that fit whole inside each segment [b0, b1), [b1, b2), ... of `bounds`
    (a period crossing a segment boundary is read as its finer parts)."""
    found = Cover()
    for start, end in pairwise(bounds):
        for grain, piece_start, piece_end in _split(start, end, tuple(grains)):
            ranges = found.hours if grain is None else found.periods.setdefault(grain, [])
            if ranges and ranges[-1][1] == piece_start:
                ranges[-1] = (ranges[-1][0], piece_end)
            else:
                ranges.append((piece_start, piece_end))
    return found


def _split(start: datetime, end: datetime, grains: tuple[str, ...]):
    if start >= end:
        return []
    if not grains:
        return [(None, start, end)]
    grain, finer = grains[0], grains[1:]
    whole_start, whole_end = _period_ceiling(grain, start), period_start(grain, end)
    if whole_start >= whole_end:
        return _split(start, end, finer)
    return [
        *_split(start, whole_start, finer),
        (grain, whole_start, whole_end),
        *_split(whole_end, end, finer),
    ]


def rollups_rebuild(
    *,
    starting_at: datetime | None = None,
    ending_before: datetime | None = None,
    metric_id=None,
    customer_ids: Sequence[str] | None = None,
) -> None:
    """Recompute the rollup rows of every calendar month overlapping [starting_at, ending_before)
    (every month without a range), for one metric or all, some customer ids or all, from the
    hourly rows. Run it inside the transaction that changed those hourly rows other than by
    ingesting (the ingest statement keeps both tiers in step itself)."""
    conditions, params = [], {}
    if metric_id is not None:
        conditions.append("metric_id = %(metric)s")
        params["metric"] = metric_id
    if customer_ids is not None:
        conditions.append("customer_id = ANY(%(ids)s)")
        params["ids"] = list(customer_ids)
    if starting_at is not None:
        conditions.append("{time} >= %(start)s AND {time} < %(end)s")
        params["start"] = period_start("month", starting_at)
        params["end"] = _period_ceiling("month", ending_before)
    rollups = MetricRollup.objects.all()
    hourly = MetricAggregate.objects.all()
    if metric_id is not None:
        rollups, hourly = rollups.filter(metric_id=metric_id), hourly.filter(metric_id=metric_id)
    if customer_ids is not None:
        ids = list(customer_ids)
        rollups, hourly = rollups.filter(customer_id__in=ids), hourly.filter(customer_id__in=ids)
    if starting_at is not None:
        window = (params["start"], params["end"])
        rollups = rollups.filter(period_start__gte=window[0], period_start__lt=window[1])
        hourly = hourly.filter(hour__gte=window[0], hour__lt=window[1])
    rollups.delete()
    if connection.vendor == "postgresql":
        where = " AND ".join(conditions).format(time="hour") or "TRUE"
        _insert_postgresql(where, params)
    else:
        _insert_sqlite(hourly)


def _insert_postgresql(where: str, params: dict) -> None:
    """One INSERT ... SELECT: the database adds the numbers exactly (`numeric`)."""
    quote = connection.ops.quote_name
    latest = "ORDER BY latest_timestamp DESC NULLS LAST, latest_transaction_id DESC"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(MetricRollup._meta.db_table)} "
            f"(metric_id, customer_id, grain, period_start, group_values, event_count, value_sum, "
            f"value_max, latest_value, latest_timestamp, latest_transaction_id) "
            f"SELECT metric_id, customer_id, g, date_trunc(g, hour, 'UTC'), group_values, "
            f"SUM(event_count), SUM(value_sum), MAX(value_max), "
            f"(ARRAY_AGG(latest_value {latest}))[1], MAX(latest_timestamp), "
            f"(ARRAY_AGG(latest_transaction_id {latest}))[1] "
            f"FROM {quote(MetricAggregate._meta.db_table)}, (VALUES ('day'), ('month')) AS v(g) "
            f"WHERE {where} GROUP BY 1, 2, 3, 4, 5",
            params,
        )


def _insert_sqlite(hourly) -> None:
    """SQLite has no exact decimal arithmetic: the hourly rows are merged in Python."""
    from .ingest import rollup_rows_write_sqlite

    partials: dict[tuple, Partial] = {}
    rows = hourly.values_list(
        "metric_id",
        "customer_id",
        "hour",
        "group_values",
        "event_count",
        "value_sum",
        "value_max",
        "latest_value",
        "latest_timestamp",
        "latest_transaction_id",
    )
    for metric_id, customer_id, hour, group, *numbers in rows.iterator(chunk_size=5000):
        hourly_partial = Partial(*numbers)
        for grain in GRAINS:
            key = (metric_id.hex, customer_id, grain, period_start(grain, hour), group)
            partial = partials.get(key)
            if partial is None:
                partials[key] = Partial(*numbers)
            else:
                partial.merge(hourly_partial)
    with connection.cursor() as cursor:
        rollup_rows_write_sqlite(cursor, partials, merge_existing=False)
