"""Which pre-aggregate rows a relational usage read adds up, and the SQL that reads them (`reads.py`
turns them into usage): the hourly rows of a window's edges, the day and month rows of what each
segment covers whole (`metering.stores.tiers.cover`) and the hourly rows of those periods from the
tier's watermark on (`rollups.py`), all in one statement, so in one snapshot. A row's slot is its
segment, or with `owners` the position of the customer it belongs to.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from itertools import count, pairwise

from django.db import connection
from django.db.models import DateTimeField, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from ...models import MetricAggregate, MetricRollup, RollupWatermark
from ..tiers import GRAINS, cover, ranges_sql
from .ingest import _q


def customer_sql(owners) -> str:
    """The condition on a row's customer id: one of the bound `ids`, or with `owners` the ingest
    id of the `slotted` lookup the row is read by."""
    return "customer_id = ANY(%(ids)s)" if owners is None else "customer_id = o.ingest_id"


def slotted(rows: str, bounds, owners, params: dict) -> tuple[str, str]:
    """(SQL of a row's slot, the FROM source) of the `rows` subquery (its condition on the
    customer: `customer_sql`): the 0-based segment of its hour, or with `owners` (ingest id ->
    positions of the customers it belongs to) the customer's position, from two bound arrays.

    With `owners`, each ingest id's rows are read by its own index lookup (a LATERAL subquery,
    `OFFSET 0` keeping it from being flattened into a join the planner could hash), so the plan
    does not depend on the tables' statistics: matched with `customer_id = ANY(ids)` instead, a
    table never analyzed (a fresh database, before autovacuum's first ANALYZE) made the planner
    expect a few hundred ids to match most rows and read every customer's rows of the metric
    and window (an alert evaluation's 400 customers in the notifications benchmark: 25-38 ms
    instead of 9-11 ms; 400 of 2,000 customers with 310 rows each: 689 ms instead of 261 ms)."""
    if owners is None:
        return segment_sql(bounds), f"({rows}) AS t"
    pairs = [(ingest_id, slot) for ingest_id, slots in owners.items() for slot in slots]
    params["owner_ids"] = [ingest_id for ingest_id, _ in pairs]
    params["owner_slots"] = [slot for _, slot in pairs]
    return "o.slot", (
        "unnest(%(owner_ids)s::text[], %(owner_slots)s::int[]) AS o(ingest_id, slot) "
        f"CROSS JOIN LATERAL ({rows} OFFSET 0) AS t"
    )


def slot_rows(rows, bounds, owners):
    """SQLite: (slot, rest...) of (hour, customer id, rest...) rows, as `slotted` says."""
    for hour, customer_id, *rest in rows:
        if owners is None:
            yield (bisect_right(bounds, hour) - 1, *rest)
        else:
            for slot in owners[customer_id]:
                yield (slot, *rest)


def only_sql(only, params: dict) -> str:
    """The SQL condition of a usage filter on the canonical group values, its values bound."""
    if only is None:
        return ""
    params["only_key"] = only[0]
    params["only_values"] = sorted(only[1])
    return " AND (group_values::jsonb ->> %(only_key)s) = ANY(%(only_values)s)"


def read_params(metric, customer_ids, bounds) -> dict:
    return {
        "metric": metric.pk,
        "ids": list(customer_ids),
        "start": bounds[0],
        "end": bounds[-1],
        "bounds": list(bounds),
    }


def segment_sql(bounds) -> str:
    """SQL for the 0-based segment of `hour`: constant for one segment, arithmetic for equal
    segments (HOUR and DAY windows), else a binary search over the boundaries."""
    if len(bounds) == 2:
        return "0"
    steps = {b - a for a, b in pairwise(bounds)}
    if len(steps) == 1:
        seconds = int(steps.pop().total_seconds())
        return f"(EXTRACT(EPOCH FROM hour - %(start)s)::bigint / {seconds})::int"
    return "width_bucket(hour, %(bounds)s::timestamptz[]) - 1"


# The columns each aggregation adds up, and how (the rows of both tiers hold the same numbers).
_NO_LATEST = ", NULL::numeric, NULL::timestamptz, ''"
_NUMBERS = {
    "COUNT": ("event_count", "SUM(event_count), NULL::numeric, NULL::numeric" + _NO_LATEST),
    "SUM": ("value_sum", "0, SUM(value_sum), NULL::numeric" + _NO_LATEST),
    "MAX": ("value_max", "0, NULL::numeric, MAX(value_max)" + _NO_LATEST),
}
_LATEST = (
    "latest_value, latest_timestamp, latest_transaction_id",
    "0, NULL::numeric, NULL::numeric, (ARRAY_AGG(latest_value ORDER BY latest_timestamp DESC, "
    "latest_transaction_id DESC))[1], MAX(latest_timestamp), "
    "(ARRAY_AGG(latest_transaction_id ORDER BY latest_timestamp DESC, "
    "latest_transaction_id DESC))[1]",
)
# What every pre-aggregate row holds (hourly or rolled up), in this order.
NUMBER_COLUMNS = (
    "event_count",
    "value_sum",
    "value_max",
    "latest_value",
    "latest_timestamp",
    "latest_transaction_id",
)


def _binder(params: dict, name: str) -> Callable[[object], str]:
    """A function binding each value it is given as the next `%(<name><i>)s` of `params`."""
    numbers = count()

    def bind(value) -> str:
        key = f"{name}{next(numbers)}"
        params[key] = value
        return f"%({key})s"

    return bind


def usage_rows_sql(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(SQL, params) of the PostgreSQL read `usage_rows` runs: the hourly rows of the edges, the day
    and month rows of what each segment covers whole (`tiers.cover`) and the hourly rows of those
    periods from the watermark on, added up per slot and group values in one statement (one
    snapshot: the tier and its watermark as one commit left them)."""
    params = read_params(metric, customer_ids, bounds)
    inner, outer = _NUMBERS.get(metric.aggregation_type, _LATEST)
    where = f"metric_id = %(metric)s AND {customer_sql(owners)}{only_sql(only, params)}"
    covered = cover(bounds, grains)
    hours = [ranges_sql("hour", covered.hours, _binder(params, "h"))] if covered.hours else []
    periods = [r for ranges in covered.periods.values() for r in ranges]
    if periods:
        watermark = f"(SELECT folded_before FROM {_q(RollupWatermark)})"
        hours.append(ranges_sql("hour", periods, _binder(params, "f"), floor=watermark))
    branches = []
    if hours:
        branches.append(
            f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
            f"WHERE {where} AND ({' OR '.join(hours)})"
        )
    for grain, ranges in covered.periods.items():
        branches.append(
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} WHERE {where} AND grain = '{grain}' "
            f"AND ({ranges_sql('period_start', ranges, _binder(params, grain))})"
        )
    slot, source = slotted(" UNION ALL ".join(branches), bounds, owners, params)
    return f"SELECT {slot} AS segment, group_values, {outer} FROM {source} GROUP BY 1, 2", params


def usage_rows(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(slot, group_values, count, sum, max, latest value, latest ts, latest tx) rows, the slot
    a segment or with `owners` a customer (`slotted`), from the coarsest pre-aggregates that fit
    (`tiers.cover`; `grains=()`: hourly rows only) and the hourly rows after the watermark; on
    PostgreSQL already restricted to `only`, the caller checks it on SQLite."""
    if bounds[0] >= bounds[-1]:
        return
    if connection.vendor == "postgresql":
        yield from fetch_range_rows(
            *usage_rows_sql(metric, customer_ids, bounds, only, owners, grains)
        )
        return
    hours, tiers = cover_rows(
        cover(bounds, grains), metric_id=metric.pk, customer_id__in=customer_ids
    )
    parts = [hours, *tiers.values()]
    columns = ["customer_id", "group_values", *NUMBER_COLUMNS]
    first, *others = [
        part.order_by().values_list("hour" if index == 0 else "period_start", *columns)
        for index, part in enumerate(parts)
    ]
    # One statement, so one snapshot: the tier and the watermark as one commit left them.
    rows = first.union(*others, all=True) if others else first
    yield from slot_rows(rows.iterator(chunk_size=5000), bounds, owners)


def cover_rows(covered, **scope) -> tuple[QuerySet, dict[str, QuerySet]]:
    """(the hourly rows, {grain: its day or month rows}) that a read of `covered` adds up
    (`tiers.cover`; the hourly rows of its periods from the tier's watermark on included),
    filtered by `scope`."""
    periods = [r for ranges in covered.periods.values() for r in ranges]
    hours = within("hour", covered.hours) | after_watermark(periods)
    return MetricAggregate.objects.filter(hours, **scope), {
        grain: MetricRollup.objects.filter(within("period_start", ranges), grain=grain, **scope)
        for grain, ranges in covered.periods.items()
    }


def within(column: str, ranges, floor=None) -> Q:
    """`column` inside any of the [start, end) `ranges` (none: no row), as `tiers.ranges_sql`
    says in SQL; with `floor` (an expression; None where it is null) each range starts no
    earlier than it."""
    found = Q(pk__in=[])
    for start, end in ranges:
        low = start
        if floor is not None:
            start_at = Value(start, output_field=DateTimeField())
            low = Greatest(start_at, Coalesce(floor, start_at))
        found |= Q(**{f"{column}__gte": low, f"{column}__lt": end})
    return found


def after_watermark(periods) -> Q:
    """The hourly rows of `periods` (taken from the tier) from its watermark on: what their tier
    rows do not hold yet. The watermark is a subquery, so it is read in the statement that reads
    the tier rows (one snapshot); without one, every hour of the periods."""
    return within(
        "hour", periods, floor=Subquery(RollupWatermark.objects.values("folded_before")[:1])
    )


def fetch_range_rows(sql: str, params: dict) -> list[tuple]:
    """Rows of a read of one customer's pre-aggregates over a time range, on PostgreSQL, with
    plain index scans off for that one statement.

    A customer's rows correlate with their hours, which PostgreSQL's statistics do not see: for a
    large customer it can expect a thousand rows where there are tens of thousands, and then picks
    a plain index scan, which visits the table once per row in index order. A bitmap scan reads
    each page once: on a million events of one customer (37,200 hourly rows) the read took 53 ms
    with the index scan and about 25 ms with the bitmap scan.

    One round trip: Django binds parameters client-side, so the three statements go as one simple
    query, which PostgreSQL runs as one implicit transaction in autocommit (`SET LOCAL` ends with
    it); inside an enclosing transaction the last statement puts the setting back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SET LOCAL enable_indexscan = off; {sql}; SET LOCAL enable_indexscan = DEFAULT",
            params,
        )
        cursor.nextset()
        return cursor.fetchall()
