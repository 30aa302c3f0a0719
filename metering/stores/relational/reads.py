"""Usage reads of the relational store: the pre-aggregates (`MetricAggregate` by hour, `MetricRollup`
by day and month for what a window covers whole, `MetricDistinctValue`), never raw events (the
event reads are in `events.py`). The day and month rows hold the hours before the tier's
watermark, except the days marked unfolded; a read adds the hourly rows of the periods it takes
whole from the watermark on and of the marked days (`rollups.py`), reading them, the marks and the
watermark in one snapshot; which rows, and the SQL: `rows.py`.

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

from django.db import connection

from catalog.models import BillableMetric

from ...definitions import EXACT
from ...models import (
    MetricAggregate,
    MetricDistinctValue,
    MetricRollup,
)
from ..base import Group, GroupUsage, customer_slots, group_of
from ..tiers import GRAINS, cover
from .ingest import _q
from .rows import (
    cover_rows,
    customer_sql,
    fetch_range_rows,
    only_sql,
    read_params,
    segment_sql,
    slot_rows,
    slotted,
    usage_rows,
)


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
    customer: the customer's position takes the place of the segment (`slotted`)."""
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
        segment = segment_sql(bounds)
        keys = "".join(
            f", (group_values::jsonb) ->> %(key{i})s AS k{i}" for i in range(len(group_keys))
        )
        names = "".join(f", k{i}" for i in range(len(group_keys)))
        params = read_params(metric, customer_ids, bounds)
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
    for (
        segment,
        group_text,
        count,
        total,
        maximum,
        latest_value,
        latest_ts,
        latest_tx,
    ) in usage_rows(metric, customer_ids, bounds, only, owners, grains):
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


def _unique(metric, customer_ids, bounds, group_keys, segments, only=None, owners=None) -> None:
    if connection.vendor == "postgresql":
        params = read_params(metric, customer_ids, bounds)
        keys = "".join(f", (group_values::jsonb) ->> %(key{i})s" for i in range(len(group_keys)))
        group_by = ", ".join(str(i) for i in range(1, len(group_keys) + 2))
        params.update({f"key{i}": key for i, key in enumerate(group_keys)})
        segment, source = slotted(
            f"SELECT hour, group_values, value FROM {_q(MetricDistinctValue)} "
            f"WHERE metric_id = %(metric)s AND {customer_sql(owners)} "
            f"AND hour >= %(start)s AND hour < %(end)s{only_sql(only, params)}",
            bounds,
            owners,
            params,
        )
        for row in fetch_range_rows(
            f"SELECT {segment}{keys}, COUNT(DISTINCT value) FROM {source} GROUP BY {group_by}",
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
    for slot, group_text, value in slot_rows(rows.iterator(chunk_size=5000), bounds, owners):
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
    """The store's `daily_usage`: the whole UTC days of the window from their day rows (and
    their hours from the tier's watermark on), the hours of a partial day at its edges from the
    hourly rows (`grains=()`: hourly rows only). Events and sums add up exactly, whatever the
    aggregation (UNIQUE included: its events and sums are additive too), in Python with
    `Decimal`."""
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
    (the day rows of its whole days; the hourly rows of the partial days at its edges, of the
    whole days' hours from the tier's watermark on, `rows.after_watermark`, and of the days
    marked unfolded, whose day rows are left out, `rows.cover_rows`)."""
    if starting_at >= ending_before or not metric_ids or not customer_ids:
        return MetricRollup.objects.none(), MetricAggregate.objects.none()
    hours, tiers = cover_rows(
        cover([starting_at, ending_before], grains),
        metric_id__in=metric_ids,
        customer_id__in=customer_ids,
    )
    return tiers.get("day", MetricRollup.objects.none()), hours


def _daily_rows(metric_ids, customer_ids, starting_at, ending_before, grains):
    """(metric id, customer id, day, group values, events, sum) rows, a day row or an hourly
    row each, read in one statement (the day rows and the watermark of one snapshot)."""
    days, hours = daily_sources(metric_ids, customer_ids, starting_at, ending_before, grains)
    columns = ("metric_id", "customer_id", "group_values", *_DAILY)
    rows = (
        days.order_by()
        .values_list("period_start", *columns)
        .union(hours.order_by().values_list("hour", *columns), all=True)
    )
    for moment, metric_id, customer_id, group_values, *numbers in rows.iterator(5000):
        yield (metric_id, customer_id, moment.astimezone(UTC).date(), group_values, *numbers)


_DAILY = ("event_count", "value_sum")
