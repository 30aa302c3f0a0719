"""Usage reads of the relational store: the pre-aggregates (`MetricAggregate` by hour, `MetricRollup`
by day and month for what a window covers whole, `MetricDistinctValue`), never raw events (the
event reads are in `events.py`).

Roll-up: COUNT and SUM add, MAX takes the maximum, LATEST the value of the latest event (ties: the
greater transaction id), all exact from the finer rows. UNIQUE counts distinct values over the whole
requested range and group (never a sum of hourly counts). On PostgreSQL the database does the first
level (per segment and full group values) in one indexed query; on SQLite, which has no exact
decimal arithmetic, rows are read and added in Python.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

from django.db import connection
from django.db.models import Q, Sum
from django.db.models.functions import TruncDate

from catalog.models import BillableMetric

from ...definitions import EXACT
from ...models import ExactDecimalField, MetricAggregate, MetricDistinctValue, MetricRollup
from ..base import Group, GroupUsage, customer_slots
from ..tiers import GRAINS, cover
from .ingest import _q


def usage_by_segment(
    metric, customer_ids, bounds, group_keys, only=None, grains=GRAINS
) -> list[GroupUsage]:
    """The store's `usage_by_segment`; `grains=()` reads the hourly tier alone (tests compare)."""
    segments: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
    if not customer_ids:
        return segments
    if metric.aggregation_type == BillableMetric.AggregationType.UNIQUE:
        _unique(metric, list(customer_ids), bounds, group_keys, segments, only)
    else:
        _rolled_up(metric, list(customer_ids), bounds, group_keys, segments, only, grains=grains)
    return segments


def usage_by_customer(
    metric, customers, starting_at, ending_before, group_keys
) -> list[GroupUsage]:
    """One window's usage of many customers (each a list of ingest ids), in one read grouped by
    customer: the customer's position takes the place of the segment (`_slots`)."""
    answers: list[GroupUsage] = [{} for _ in customers]
    owners = customer_slots(customers)
    if not owners:
        return answers
    bounds = [starting_at, ending_before]
    if metric.aggregation_type == BillableMetric.AggregationType.UNIQUE:
        _unique(metric, list(owners), bounds, group_keys, answers, owners=owners)
    else:
        _rolled_up(metric, list(owners), bounds, group_keys, answers, owners=owners)
    return answers


def _slots(bounds, owners, params: dict) -> tuple[str, str]:
    """(SQL of a row's slot, a join): the 0-based segment of its hour, or with `owners` (ingest id
    -> positions of the customers it belongs to) the customer's position, joined from two
    bound arrays."""
    if owners is None:
        return _segment_sql(bounds), ""
    pairs = [(ingest_id, slot) for ingest_id, slots in owners.items() for slot in slots]
    params["owner_ids"] = [ingest_id for ingest_id, _ in pairs]
    params["owner_slots"] = [slot for _, slot in pairs]
    return "o.slot", (
        " JOIN unnest(%(owner_ids)s::text[], %(owner_slots)s::int[]) AS o(ingest_id, slot) "
        "ON customer_id = o.ingest_id"
    )


def _slot_rows(rows, bounds, owners):
    """SQLite: (slot, rest...) of (hour, customer id, rest...) rows, as `_slots` says."""
    for hour, customer_id, *rest in rows:
        if owners is None:
            yield (bisect_right(bounds, hour) - 1, *rest)
        else:
            for slot in owners[customer_id]:
                yield (slot, *rest)


def _only_sql(only, params: dict) -> str:
    """The SQL condition of a usage filter on the canonical group values, its values bound."""
    if only is None:
        return ""
    params["only_key"] = only[0]
    params["only_values"] = sorted(only[1])
    return " AND (group_values::jsonb ->> %(only_key)s) = ANY(%(only_values)s)"


def _kept(only, cache: dict, group_text: str) -> bool:
    if only is None:
        return True
    kept = cache.get(group_text)
    if kept is None:
        kept = cache[group_text] = json.loads(group_text).get(only[0]) in only[1]
    return kept


def unique_first_seen(metric, customer_ids, bounds, group_keys) -> list[GroupUsage]:
    """Per segment and group: how many distinct values appear for the first time in it."""
    segments: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
    if not customer_ids:
        return segments
    if connection.vendor == "postgresql":
        segment = _segment_sql(bounds)
        keys = "".join(
            f", (group_values::jsonb) ->> %(key{i})s AS k{i}" for i in range(len(group_keys))
        )
        names = "".join(f", k{i}" for i in range(len(group_keys)))
        params = _params(metric, customer_ids, bounds)
        params.update({f"key{i}": key for i, key in enumerate(group_keys)})
        rows = fetch_range_rows(
            f"SELECT {segment}{names}, COUNT(*) FROM (SELECT MIN(hour) AS hour{keys}, value "
            f"FROM {_q(MetricDistinctValue)} WHERE metric_id = %(metric)s "
            f"AND customer_id = ANY(%(ids)s) AND hour >= %(start)s AND hour < %(end)s "
            f"GROUP BY {', '.join(str(i) for i in range(2, len(group_keys) + 3))}) AS firsts "
            f"GROUP BY {', '.join(str(i) for i in range(1, len(group_keys) + 2))}",
            params,
        )
        for row in rows:
            segments[row[0]][tuple(row[1:-1])] = Decimal(row[-1])
        return segments
    first: dict[tuple[Group, str], datetime] = {}
    groups: dict[str, Group] = {}
    rows = MetricDistinctValue.objects.filter(
        metric_id=metric.pk,
        customer_id__in=list(customer_ids),
        hour__gte=bounds[0],
        hour__lt=bounds[-1],
    ).values_list("hour", "group_values", "value")
    for hour, group_text, value in rows.iterator(chunk_size=5000):
        key = (group_of(groups, group_text, group_keys), value)
        if key not in first or hour < first[key]:
            first[key] = hour
    for (group, _), hour in first.items():
        bucket = segments[bisect_right(bounds, hour) - 1]
        bucket[group] = bucket.get(group, Decimal(0)) + 1
    return segments


def group_of(cache: dict[str, Group], text: str, group_keys) -> Group:
    group = cache.get(text)
    if group is None:
        values = json.loads(text)
        group = cache[text] = tuple(values.get(k) for k in group_keys)
    return group


def _params(metric, customer_ids, bounds) -> dict:
    return {
        "metric": metric.pk,
        "ids": list(customer_ids),
        "start": bounds[0],
        "end": bounds[-1],
        "bounds": list(bounds),
    }


@dataclass(slots=True)
class _State:
    value: Decimal | None
    latest: tuple[datetime, str] | None = None


def _rolled_up(
    metric, customer_ids, bounds, group_keys, segments, only=None, owners=None, grains=GRAINS
) -> None:
    aggregation = metric.aggregation_type
    states: list[dict[Group, _State]] = [{} for _ in segments]
    groups: dict[str, Group] = {}
    kept: dict[str, bool] = {}
    for segment, group_text, count, total, maximum, latest_value, latest_ts, latest_tx in _rows(
        metric, customer_ids, bounds, only, owners, grains
    ):
        if not _kept(only, kept, group_text):
            continue
        group = group_of(groups, group_text, group_keys)
        bucket = states[segment]
        state = bucket.get(group)
        if aggregation == "COUNT":
            value = Decimal(count)
        elif aggregation == "SUM":
            value = total
        elif aggregation == "MAX":
            value = maximum
        else:
            value = latest_value
        if value is None:
            continue
        if state is None:
            bucket[group] = _State(value, (latest_ts, latest_tx))
        elif aggregation in ("COUNT", "SUM"):
            state.value = EXACT.add(state.value, value)
        elif aggregation == "MAX":
            if value > state.value:
                state.value = value
        elif (latest_ts, latest_tx) > state.latest:
            state.value = value
            state.latest = (latest_ts, latest_tx)
    for index, bucket in enumerate(states):
        segments[index].update({group: state.value for group, state in bucket.items()})


def _segment_sql(bounds) -> str:
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
_ROW = (
    "event_count",
    "value_sum",
    "value_max",
    "latest_value",
    "latest_timestamp",
    "latest_transaction_id",
)


def _ranges_sql(column: str, name: str, ranges, params: dict) -> str:
    """`column` inside any of the [start, end) `ranges`, their bounds bound as `name<i>s/e`."""
    found = []
    for index, (start, end) in enumerate(ranges):
        params[f"{name}{index}s"], params[f"{name}{index}e"] = start, end
        found.append(f"({column} >= %({name}{index}s)s AND {column} < %({name}{index}e)s)")
    return " OR ".join(found)


def usage_rows_sql(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(SQL, params) of the PostgreSQL read `_rows` runs: the hourly rows of the edges and the
    day and month rows of what each segment covers whole (`rollups.cover`), added up per slot and
    group values in one statement."""
    params = _params(metric, customer_ids, bounds)
    slot, join = _slots(bounds, owners, params)
    inner, outer = _NUMBERS.get(metric.aggregation_type, _LATEST)
    where = f"metric_id = %(metric)s AND customer_id = ANY(%(ids)s){_only_sql(only, params)}"
    covered = cover(bounds, grains)
    branches = []
    if covered.hours:
        branches.append(
            f"SELECT customer_id, hour, group_values, {inner} FROM {_q(MetricAggregate)} "
            f"WHERE {where} AND ({_ranges_sql('hour', 'h', covered.hours, params)})"
        )
    for grain, ranges in covered.periods.items():
        branches.append(
            f"SELECT customer_id, period_start AS hour, group_values, {inner} "
            f"FROM {_q(MetricRollup)} WHERE {where} AND grain = '{grain}' "
            f"AND ({_ranges_sql('period_start', grain, ranges, params)})"
        )
    sql = (
        f"SELECT {slot} AS segment, group_values, {outer} "
        f"FROM ({' UNION ALL '.join(branches)}) AS t{join} GROUP BY 1, 2"
    )
    return sql, params


def _rows(metric, customer_ids, bounds, only=None, owners=None, grains=GRAINS):
    """(slot, group_values, count, sum, max, latest value, latest ts, latest tx) rows, the slot
    a segment or with `owners` a customer (`_slots`), from the coarsest pre-aggregates that fit
    (`rollups.cover`; `grains=()`: hourly rows only); on PostgreSQL already restricted to
    `only`, the caller checks it on SQLite."""
    if bounds[0] >= bounds[-1]:
        return
    if connection.vendor == "postgresql":
        yield from fetch_range_rows(
            *usage_rows_sql(metric, customer_ids, bounds, only, owners, grains)
        )
        return
    covered = cover(bounds, grains)
    tiers = [(MetricAggregate, "hour", {}, covered.hours)]
    tiers += [
        (MetricRollup, "period_start", {"grain": grain}, ranges)
        for grain, ranges in covered.periods.items()
    ]
    for model, column, filters, ranges in tiers:
        if not ranges:
            continue
        within = Q()
        for start, end in ranges:
            within |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
        rows = model.objects.filter(
            within, metric_id=metric.pk, customer_id__in=customer_ids, **filters
        ).values_list(column, "customer_id", "group_values", *_ROW)
        yield from _slot_rows(rows.iterator(chunk_size=5000), bounds, owners)


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


def _unique(metric, customer_ids, bounds, group_keys, segments, only=None, owners=None) -> None:
    if connection.vendor == "postgresql":
        params = _params(metric, customer_ids, bounds)
        segment, join = _slots(bounds, owners, params)
        keys = "".join(f", (group_values::jsonb) ->> %(key{i})s" for i in range(len(group_keys)))
        group_by = ", ".join(str(i) for i in range(1, len(group_keys) + 2))
        params.update({f"key{i}": key for i, key in enumerate(group_keys)})
        for row in fetch_range_rows(
            f"SELECT {segment}{keys}, COUNT(DISTINCT value) FROM {_q(MetricDistinctValue)}{join} "
            f"WHERE metric_id = %(metric)s AND customer_id = ANY(%(ids)s) "
            f"AND hour >= %(start)s AND hour < %(end)s{_only_sql(only, params)} "
            f"GROUP BY {group_by}",
            params,
        ):
            segments[row[0]][tuple(row[1:-1])] = Decimal(row[-1])
        return
    values: list[dict[Group, set[str]]] = [{} for _ in segments]
    groups: dict[str, Group] = {}
    rows = MetricDistinctValue.objects.filter(
        metric_id=metric.pk,
        customer_id__in=customer_ids,
        hour__gte=bounds[0],
        hour__lt=bounds[-1],
    ).values_list("hour", "customer_id", "group_values", "value")
    kept: dict[str, bool] = {}
    for slot, group_text, value in _slot_rows(rows.iterator(chunk_size=5000), bounds, owners):
        if not _kept(only, kept, group_text):
            continue
        group = group_of(groups, group_text, group_keys)
        values[slot].setdefault(group, set()).add(value)
    for index, bucket in enumerate(values):
        segments[index].update({g: Decimal(len(v)) for g, v in bucket.items()})


DAILY_GRAINS = ("day",)


def daily_usage(
    metric_ids, customer_ids, starting_at, ending_before, grains=DAILY_GRAINS
) -> list[tuple]:
    """The store's `daily_usage`: the whole UTC days of the window from their day rows, the
    hours of a partial day at its edges from the hourly rows (`grains=()`: hourly rows only).
    Events and sums add up exactly, whatever the aggregation (UNIQUE included: its events and
    sums are additive too). PostgreSQL adds the edge hours up per day (`numeric`); SQLite keeps
    decimals as text, so Python does."""
    found: dict[tuple, list] = {}
    for metric_id, customer_id, day, group_values, events, amount in _daily_rows(
        list(metric_ids), list(customer_ids), starting_at, ending_before, grains
    ):
        key = (metric_id, customer_id, day, group_values)
        totals = found.get(key)
        if totals is None:
            found[key] = [events, None if amount is None else Decimal(amount)]
        else:
            totals[0] += events
            if amount is not None:
                totals[1] = Decimal(amount) + (totals[1] or 0)
    return [(*key, events, amount) for key, (events, amount) in found.items()]


def daily_sources(metric_ids, customer_ids, starting_at, ending_before, grains=DAILY_GRAINS):
    """The pre-aggregate rows a `daily_usage` read adds up: (day rows, hourly rows) querysets
    (the day rows of its whole days, the hourly rows of the partial days at its edges)."""
    if starting_at >= ending_before or not metric_ids or not customer_ids:
        return MetricRollup.objects.none(), MetricAggregate.objects.none()
    covered = cover([starting_at, ending_before], grains)
    scope = {"metric_id__in": metric_ids, "customer_id__in": customer_ids}

    def within(model, column, ranges, **filters):
        if not ranges:
            return model.objects.none()
        found = Q()
        for start, end in ranges:
            found |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
        return model.objects.filter(found, **scope, **filters)

    return (
        within(MetricRollup, "period_start", covered.periods.get("day", []), grain="day"),
        within(MetricAggregate, "hour", covered.hours),
    )


def _daily_rows(metric_ids, customer_ids, starting_at, ending_before, grains):
    """(metric id, customer id, day, group values, events, sum) rows: the day rows as stored,
    the hourly rows per day on PostgreSQL, one by one on SQLite."""
    days, hours = daily_sources(metric_ids, customer_ids, starting_at, ending_before, grains)
    for row in days.values_list(
        "metric_id", "customer_id", "period_start", "group_values", *_DAILY
    ):
        yield (row[0], row[1], row[2].astimezone(UTC).date(), *row[3:])
    if connection.vendor == "postgresql":
        yield from (
            hours.annotate(day=TruncDate("hour", tzinfo=UTC))
            .values("metric_id", "customer_id", "day", "group_values")
            .annotate(
                events=Sum("event_count"),
                amount=Sum("value_sum", output_field=ExactDecimalField()),
            )
            .order_by()
            .values_list("metric_id", "customer_id", "day", "group_values", "events", "amount")
        )
    else:
        for row in hours.values_list("metric_id", "customer_id", "hour", "group_values", *_DAILY):
            yield (row[0], row[1], row[2].astimezone(UTC).date(), *row[3:])


_DAILY = ("event_count", "value_sum")
