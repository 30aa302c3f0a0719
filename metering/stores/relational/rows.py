"""Which pre-aggregate rows a relational usage read adds up, and the SQL that reads them (`reads.py`
turns them into usage): the hourly rows of a window's edges, the day and month rows of what each
segment covers whole (`metering.stores.tiers.cover`) and the hourly rows of those periods from the
tier's watermark on (`rollups.py`); a day marked unfolded (`UnfoldedDay`: old events ingested since
the fold) read from its hourly rows, a marked month from its unmarked day rows and those hours;
all in one statement, so in one snapshot. A row's slot is its segment, or with `owners` the
position of the customer it belongs to.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC
from itertools import count, pairwise

from django.db import connection
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDay, TruncMonth

from ...models import MetricAggregate, MetricRollup, RollupWatermark, UnfoldedDay
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
    watermark = f"(SELECT folded_before FROM {_q(RollupWatermark)})"
    if periods:
        hours.append(ranges_sql("hour", periods, _binder(params, "f"), floor=watermark))
    branches = []
    if hours:
        branches.append(
            f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
            f"WHERE {where} AND ({' OR '.join(hours)})"
        )
    if periods:
        marks = f"FROM {_q(UnfoldedDay)} WHERE metric_id = %(metric)s AND {customer_sql(owners)}"
        branches += _unfolded_sql(inner, where, marks, watermark, covered, periods, params)
    for grain, ranges in covered.periods.items():
        branches.append(
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} AS r WHERE {where} AND grain = '{grain}' "
            f"AND ({ranges_sql('period_start', ranges, _binder(params, grain))}) "
            f"AND NOT EXISTS ({_marks_sql(grain)} = r.period_start)"
        )
    slot, source = slotted(" UNION ALL ".join(branches), bounds, owners, params)
    return f"SELECT {slot} AS segment, group_values, {outer} FROM {source} GROUP BY 1, 2", params


def _marks_sql(field: str) -> str:
    """The read metric's unfolded-day marks of the customer id of the tier row `r` (SQL), to
    compare `field` (day or month) with; restricted to the read's customer ids too, so that the
    planner reads only theirs (it may hash them rather than probe per row)."""
    return (
        f"SELECT 1 FROM {_q(UnfoldedDay)} AS u WHERE u.metric_id = %(metric)s "
        f"AND u.customer_id = ANY(%(ids)s) AND u.customer_id = r.customer_id AND u.{field}"
    )


def _unfolded_sql(inner, where, marks, watermark, covered, periods, params) -> list[str]:
    """The branches that stand in for the tier rows of days marked unfolded (`UnfoldedDay`: events
    older than the watermark ingested since the fold; `marks` the read's): their hourly rows
    before the watermark, and for a marked month the day rows of its unmarked days (the tier
    branches skip marked days and months). Each starts from the marks (a handful of rows, none
    after a fold) and reaches the pre-aggregates by index, so a read with nothing marked costs
    two empty index probes."""
    branches = [
        f"SELECT a.* FROM (SELECT customer_id AS marked, day {marks} "
        f"AND ({ranges_sql('day', periods, _binder(params, 'ud'))})) AS u, LATERAL ("
        f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
        f"WHERE {where} AND customer_id = u.marked AND hour >= u.day "
        f"AND hour < LEAST(u.day + interval '24 hours', {watermark})) AS a"
    ]
    months = covered.periods.get("month")
    if months:
        branches.append(
            f"SELECT d.* FROM (SELECT DISTINCT customer_id AS marked, month {marks} "
            f"AND ({ranges_sql('month', months, _binder(params, 'um'))})) AS u, LATERAL ("
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} AS r WHERE {where} AND customer_id = u.marked "
            f"AND grain = 'day' AND period_start >= u.month "
            f"AND period_start < u.month + interval '31 days' "
            f"AND date_trunc('month', period_start, 'UTC') = u.month "
            f"AND NOT EXISTS ({_marks_sql('day')} = r.period_start)) AS d"
        )
    return branches


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
    (`tiers.cover`; the hourly rows of its periods from the tier's watermark on included; a day
    marked unfolded from its hourly rows, a marked month from its unmarked day rows and those
    hours), filtered by `scope` (the metric id or ids, `customer_id__in`)."""
    periods = [r for ranges in covered.periods.values() for r in ranges]
    metric_ids = scope.get("metric_id__in") or [scope["metric_id"]]
    customer_ids = scope["customer_id__in"]
    hours = (
        within("hour", covered.hours)
        | after_watermark(periods)
        | unfolded_hours(periods, metric_ids, customer_ids)
    )
    tiers: dict[str, QuerySet] = {}
    months = covered.periods.get("month", [])
    if months:
        tiers["month"] = MetricRollup.objects.filter(
            within("period_start", months), grain="month", **scope
        ).exclude(_marked("month", OuterRef("period_start"), customer_ids))
    if periods:
        days = within("period_start", covered.periods.get("day", []))
        if months:
            # A marked month's day rows stand in for its month row.
            month_of = TruncMonth(_outer_moment("period_start"), tzinfo=UTC)
            days |= within("period_start", months) & Q(_marked("month", month_of, customer_ids))
        tiers["day"] = MetricRollup.objects.filter(days, grain="day", **scope).exclude(
            _marked("day", OuterRef("period_start"), customer_ids)
        )
    return MetricAggregate.objects.filter(hours, **scope), tiers


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


def _outer_moment(column: str) -> ExpressionWrapper:
    """The outer row's datetime `column`, typed (a bare `OuterRef` cannot be truncated)."""
    return ExpressionWrapper(OuterRef(column), output_field=DateTimeField())


def _marked(field: str, value, customer_ids) -> Exists:
    """A row's metric and customer id (one of `customer_ids`, which lets the planner read only
    their marks) have an unfolded-day mark whose `field` is `value`."""
    return Exists(
        UnfoldedDay.objects.filter(
            metric_id=OuterRef("metric_id"),
            customer_id=OuterRef("customer_id"),
            customer_id__in=customer_ids,
            **{field: value},
        )
    )


def unfolded_hours(periods, metric_ids, customer_ids) -> Q:
    """The hourly rows of `periods` (taken from the tier) in days marked unfolded before the
    watermark: what those days' tier rows do not hold yet (`cover_rows` leaves those out). The
    first marked day of these metrics and customer ids bounds the index range (an uncorrelated
    subquery, NULL without marks: no row is scanned then)."""
    if not periods:
        return Q(pk__in=[])
    watermark = Subquery(RollupWatermark.objects.values("folded_before")[:1])
    first = Subquery(
        UnfoldedDay.objects.filter(metric_id__in=metric_ids, customer_id__in=customer_ids)
        .order_by("day")
        .values("day")[:1]
    )
    return (
        within("hour", periods)
        & Q(hour__gte=first, hour__lt=watermark)
        & Q(_marked("day", TruncDay(_outer_moment("hour"), tzinfo=UTC), customer_ids))
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
