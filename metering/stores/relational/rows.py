"""Which pre-aggregate rows a relational usage read adds up, and the SQL that reads them (`reads.py`
turns them into usage): the hourly rows of a window's edges, the day and month rows of what each
segment covers whole (`metering.stores.tiers.cover`) and the hourly rows of those periods from the
tier's watermark on (`rollups.py`); a day marked unfolded (`UnfoldedDay`: old events ingested since
the fold) read from its hourly rows, a marked month from its unmarked day rows and those hours;
all in one statement, so in one snapshot. A row's slot is its
segment, or with `owners` the position of the customer it belongs to.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC
from itertools import pairwise

from django.db import connection
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDay, TruncMonth

from ...models import MetricAggregate, MetricRollup, RollupWatermark, UnfoldedDay
from ..tiers import GRAINS, cover
from .ingest import _q


def slots_sql(bounds, owners, params: dict) -> tuple[str, str]:
    """(SQL of a row's slot, a join): the 0-based segment of its hour, or with `owners` (ingest id
    -> positions of the customers it belongs to) the customer's position, joined from two
    bound arrays."""
    if owners is None:
        return segment_sql(bounds), ""
    pairs = [(ingest_id, slot) for ingest_id, slots in owners.items() for slot in slots]
    params["owner_ids"] = [ingest_id for ingest_id, _ in pairs]
    params["owner_slots"] = [slot for _, slot in pairs]
    return "o.slot", (
        " JOIN unnest(%(owner_ids)s::text[], %(owner_slots)s::int[]) AS o(ingest_id, slot) "
        "ON customer_id = o.ingest_id"
    )


def slot_rows(rows, bounds, owners):
    """SQLite: (slot, rest...) of (hour, customer id, rest...) rows, as `slots_sql` says."""
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


def _ranges_sql(column: str, name: str, ranges, params: dict, floor: str = "") -> str:
    """`column` inside any of the [start, end) `ranges`, their bounds bound as `name<i>s/e`;
    with `floor` (an SQL expression) each range starts no earlier than it."""
    found = []
    for index, (start, end) in enumerate(ranges):
        params[f"{name}{index}s"], params[f"{name}{index}e"] = start, end
        low = f"%({name}{index}s)s"
        if floor:
            low = f"GREATEST({low}, {floor})"
        found.append(f"({column} >= {low} AND {column} < %({name}{index}e)s)")
    return " OR ".join(found)


def usage_rows_sql(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(SQL, params) of the PostgreSQL read `usage_rows` runs: the hourly rows of the edges, the day
    and month rows of what each segment covers whole (`tiers.cover`) and the hourly rows of those
    periods from the watermark on, added up per slot and group values in one statement (one
    snapshot: the tier and its watermark as one commit left them)."""
    params = read_params(metric, customer_ids, bounds)
    slot, join = slots_sql(bounds, owners, params)
    inner, outer = _NUMBERS.get(metric.aggregation_type, _LATEST)
    where = f"metric_id = %(metric)s AND customer_id = ANY(%(ids)s){only_sql(only, params)}"
    covered = cover(bounds, grains)
    hours = [_ranges_sql("hour", "h", covered.hours, params)] if covered.hours else []
    periods = [r for ranges in covered.periods.values() for r in ranges]
    watermark = f"(SELECT folded_before FROM {_q(RollupWatermark)})"
    if periods:
        hours.append(_ranges_sql("hour", "f", periods, params, floor=watermark))
    branches = []
    if hours:
        branches.append(
            f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
            f"WHERE {where} AND ({' OR '.join(hours)})"
        )
    if periods:
        branches += _unfolded_sql(inner, where, watermark, covered, periods, params)
    for grain, ranges in covered.periods.items():
        branches.append(
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} AS t WHERE {where} AND grain = '{grain}' "
            f"AND ({_ranges_sql('period_start', grain, ranges, params)}) "
            f"AND NOT EXISTS ({_marks_sql(grain, 't.customer_id')} = t.period_start)"
        )
    sql = (
        f"SELECT {slot} AS segment, group_values, {outer} "
        f"FROM ({' UNION ALL '.join(branches)}) AS t{join} GROUP BY 1, 2"
    )
    return sql, params


def _marks_sql(field: str, customer: str) -> str:
    """The read metric's unfolded-day marks of `customer` (SQL), to compare `field` (day or
    month) with; restricted to the read's customer ids too, so that the planner reads only theirs
    (it may hash them rather than probe per row)."""
    return (
        f"SELECT 1 FROM {_q(UnfoldedDay)} AS u WHERE u.metric_id = %(metric)s "
        f"AND u.customer_id = ANY(%(ids)s) AND u.customer_id = {customer} AND u.{field}"
    )


def _unfolded_sql(inner, where, watermark, covered, periods, params) -> list[str]:
    """The branches that stand in for the tier rows of days marked unfolded (`UnfoldedDay`: events
    older than the watermark ingested since the fold): their hourly rows before the watermark,
    and for a marked month the day rows of its unmarked days (the tier branches skip marked days
    and months). Each starts from the marks (a handful of rows, none after a fold) and reaches
    the pre-aggregates by index, so a read with nothing marked costs two empty index probes."""
    marks = f"FROM {_q(UnfoldedDay)} WHERE metric_id = %(metric)s AND customer_id = ANY(%(ids)s)"
    branches = [
        f"SELECT a.* FROM (SELECT customer_id AS marked, day {marks} "
        f"AND ({_ranges_sql('day', 'f', periods, params)})) AS u, LATERAL ("
        f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
        f"WHERE {where} AND customer_id = u.marked AND hour >= u.day "
        f"AND hour < LEAST(u.day + interval '24 hours', {watermark})) AS a"
    ]
    months = covered.periods.get("month")
    if months:
        branches.append(
            f"SELECT r.* FROM (SELECT DISTINCT customer_id AS marked, month {marks} "
            f"AND ({_ranges_sql('month', 'month', months, params)})) AS u, LATERAL ("
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} AS t WHERE {where} AND customer_id = u.marked "
            f"AND grain = 'day' AND period_start >= u.month "
            f"AND period_start < u.month + interval '31 days' "
            f"AND date_trunc('month', period_start, 'UTC') = u.month "
            f"AND NOT EXISTS ({_marks_sql('day', 't.customer_id')} = t.period_start)) AS r"
        )
    return branches


def usage_rows(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(slot, group_values, count, sum, max, latest value, latest ts, latest tx) rows, the slot
    a segment or with `owners` a customer (`slots_sql`), from the coarsest pre-aggregates that fit
    (`tiers.cover`; `grains=()`: hourly rows only) and the hourly rows after the watermark; on
    PostgreSQL already restricted to `only`, the caller checks it on SQLite."""
    if bounds[0] >= bounds[-1]:
        return
    if connection.vendor == "postgresql":
        yield from fetch_range_rows(
            *usage_rows_sql(metric, customer_ids, bounds, only, owners, grains)
        )
        return
    covered = cover(bounds, grains)
    periods = [r for ranges in covered.periods.values() for r in ranges]
    scope = {"metric_id": metric.pk, "customer_id__in": customer_ids}
    hours = (
        within("hour", covered.hours)
        | after_watermark(periods)
        | unfolded_hours(periods, [metric.pk], customer_ids)
    )
    parts = [MetricAggregate.objects.filter(hours, **scope)]
    months = covered.periods.get("month", [])
    if months:
        parts.append(
            MetricRollup.objects.filter(
                within("period_start", months), grain="month", **scope
            ).exclude(_marked("month", OuterRef("period_start"), customer_ids))
        )
    days = covered.periods.get("day", [])
    if periods:
        # The day rows of the days a read takes whole, and those of a marked month's days.
        in_marked_month = within("period_start", months) & Q(
            _marked("month", TruncMonth(_outer_moment("period_start"), tzinfo=UTC), customer_ids)
        )
        parts.append(
            unfolded_excluded(
                MetricRollup.objects.filter(
                    within("period_start", days) | in_marked_month, grain="day", **scope
                ),
                customer_ids,
            )
        )
    columns = ["customer_id", "group_values", *NUMBER_COLUMNS]
    first, *others = [
        part.order_by().values_list("hour" if index == 0 else "period_start", *columns)
        for index, part in enumerate(parts)
    ]
    # One statement, so one snapshot: the tier and the watermark as one commit left them.
    rows = first.union(*others, all=True) if others else first
    yield from slot_rows(rows.iterator(chunk_size=5000), bounds, owners)


def within(column: str, ranges) -> Q:
    """`column` inside any of the [start, end) `ranges` (none: no row)."""
    found = Q(pk__in=[])
    for start, end in ranges:
        found |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
    return found


def after_watermark(periods) -> Q:
    """The hourly rows of `periods` (taken from the tier) from its watermark on: what their tier
    rows do not hold yet. The watermark is a subquery, so it is read in the statement that reads
    the tier rows (one snapshot); without one, every hour of the periods."""
    found = Q(pk__in=[])
    watermark = Subquery(RollupWatermark.objects.values("folded_before")[:1])
    for start, end in periods:
        start_at = Value(start, output_field=DateTimeField())
        found |= Q(hour__gte=Greatest(start_at, Coalesce(watermark, start_at)), hour__lt=end)
    return found


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
    watermark: what those days' tier rows do not hold yet (their rows are left out,
    `unfolded_excluded`). The first marked day of these metrics and customer ids bounds the
    index range (an uncorrelated subquery, NULL without marks: no row is scanned then)."""
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


def unfolded_excluded(day_rows, customer_ids):
    """Day rows of `customer_ids` without those of days marked unfolded (read from their hours
    instead)."""
    return day_rows.exclude(_marked("day", OuterRef("period_start"), customer_ids))


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
