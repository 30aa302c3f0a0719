"""The relational store's day and month tier (`MetricRollup`, see `metering.stores.tiers`): per
metric, customer id and group values, the hourly pre-aggregates added up over each whole UTC day and
calendar month.

Written beside the hourly rows by the same ingest statement (`sql.py`; on SQLite in the same
transaction, `ingest.aggregates_merge_sqlite`), and rebuilt from the hourly rows wherever those are
rebuilt rather than ingested (`rollups_rebuild`: a metric's backfill, a draft preview, the
migration that created the tier). Reads: `reads.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from ...models import MetricAggregate, MetricRollup
from ..partials import Partial
from ..tiers import GRAINS, period_ceiling, period_start
from .ingest import rollup_rows_write_sqlite


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
    rollups, hourly = MetricRollup.objects.all(), MetricAggregate.objects.all()
    conditions, params = ["TRUE"], {}
    if metric_id is not None:
        rollups, hourly = rollups.filter(metric_id=metric_id), hourly.filter(metric_id=metric_id)
        conditions.append("metric_id = %(metric)s")
        params["metric"] = metric_id
    if customer_ids is not None:
        ids = list(customer_ids)
        rollups, hourly = rollups.filter(customer_id__in=ids), hourly.filter(customer_id__in=ids)
        conditions.append("customer_id = ANY(%(ids)s)")
        params["ids"] = ids
    if starting_at is not None:
        start = params["start"] = period_start("month", starting_at)
        end = params["end"] = period_ceiling("month", ending_before)
        rollups = rollups.filter(period_start__gte=start, period_start__lt=end)
        hourly = hourly.filter(hour__gte=start, hour__lt=end)
        conditions.append("hour >= %(start)s AND hour < %(end)s")
    rollups.delete()
    if connection.vendor == "postgresql":
        _insert_postgresql(" AND ".join(conditions), params)
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
