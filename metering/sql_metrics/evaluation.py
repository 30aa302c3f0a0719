"""Evaluating SQL metrics: rows and per-group quantities of a window (cached), per segment for
the usage API, and the check run when a metric is made."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlglot import exp

from catalog.models import BillableMetric

from ..models import SqlMetricResult
from ..stores import event_store, in_preview
from .by_hour import _decoded, _encoded, _hourly_rows, _merge, _read_hours, _scope, window_rows
from .compiler import _parsed, hourly
from .quotients import parts_add, parts_rows, quotient_plan


def _fingerprint(metric: BillableMetric, ids: Sequence[str], start: datetime, end: datetime) -> str:
    """Events counted for the metric's customer ids in the hours the window touches."""
    counts = event_store().event_counts_by_hour(
        metric=metric, customer_ids=list(ids), starting_at=start, ending_before=end
    )
    return f"{len(counts)}:{sum(counts.values())}"


def sql_metric_rows(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    starting_at: datetime,
    ending_before: datetime,
    only=None,
) -> list[list]:
    """The query's rows over the window (every column, the quantity a Decimal), from the cache
    while no event of the customer arrived in the window's hours. A preview's what-if events
    (`metering.stores.previewing`) are read afresh: the cache counts events per hour, which a
    replace preview can leave the same while changing them."""
    if not customer_ids:
        return []
    parsed = _parsed(metric.sql)
    if in_preview():
        return window_rows(parsed, customer_ids, starting_at, ending_before, only)
    if hourly(parsed) or quotient_plan(metric.sql) is not None:
        return _hourly_rows(metric, parsed, customer_ids, starting_at, ending_before, only)
    scope = _scope(customer_ids, starting_at, ending_before, only)
    fingerprint = _fingerprint(metric, customer_ids, starting_at, ending_before)
    cached = SqlMetricResult.objects.filter(metric_id=metric.pk, scope=scope).first()
    if cached is not None and cached.fingerprint == fingerprint and isinstance(cached.rows, list):
        return _decoded(cached.rows)
    rows = window_rows(parsed, customer_ids, starting_at, ending_before, only)
    SqlMetricResult.objects.update_or_create(
        metric_id=metric.pk,
        scope=scope,
        defaults={"fingerprint": fingerprint, "rows": _encoded(rows)},
    )
    return rows


def sql_metric_usage(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    starting_at: datetime,
    ending_before: datetime,
    group_keys: Sequence[str],
    only=None,
) -> dict[tuple, Decimal]:
    """{(values of `group_keys`, in order): quantity}: the query's quantity per group, the
    columns not asked for summed away. `group_keys` must be among the query's."""
    parsed = _parsed(metric.sql)
    unknown = [key for key in group_keys if key not in parsed.group_keys]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} is not a column of the SQL metric {metric.name} "
            f"(its columns: {', '.join(parsed.group_keys) or 'none'})"
        )
    positions = [parsed.group_keys.index(key) for key in group_keys]
    result: dict[tuple, Decimal] = {}
    for row in sql_metric_rows(
        metric=metric,
        customer_ids=customer_ids,
        starting_at=starting_at,
        ending_before=ending_before,
        only=only,
    ):
        value = row[-1]
        if value is None:
            continue
        group = tuple(row[p] for p in positions)
        result[group] = result.get(group, Decimal(0)) + value
    return result


def sql_metric_check_runs(metric_sql: str) -> None:
    """Run a new query once over no events, so a type error (SUM of text) is refused when the
    metric is made, not when a draft is read, by the engine of the configured event store."""
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    event_store().sql_metric_rows(
        sql=_parsed(metric_sql).sql,
        by_hour=False,
        customer_ids=["(no customer)"],
        starting_at=moment,
        ending_before=moment + timedelta(hours=1),
    )


def sql_metric_usage_by_segment(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    bounds: Sequence[datetime],
    group_keys: Sequence[str],
    only=None,
) -> list[dict[tuple, Decimal]]:
    """`sql_metric_usage` for each segment of hour-aligned `bounds` (the usage API's windows).
    An hourly query (or a quotient of hourly parts, `quotients`) is read once, hour by hour,
    over the whole range and each hour added to its segment; any other query runs once per
    segment."""
    parsed = _parsed(metric.sql)
    plan = quotient_plan(metric.sql)
    if not (hourly(parsed) or plan is not None) or len(bounds) <= 2:
        return [
            sql_metric_usage(
                metric=metric,
                customer_ids=customer_ids,
                starting_at=start,
                ending_before=end,
                group_keys=group_keys,
                only=only,
            )
            for start, end in pairwise(bounds)
        ]
    unknown = [key for key in group_keys if key not in parsed.group_keys]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} is not a column of the SQL metric {metric.name} "
            f"(its columns: {', '.join(parsed.group_keys) or 'none'})"
        )
    positions = [parsed.group_keys.index(key) for key in group_keys]
    value = parsed.tree.expressions[parsed.value_index]
    kind = type(value.this if isinstance(value, exp.Alias) else value)
    per_segment: list[dict] = [{} for _ in range(len(bounds) - 1)]
    hours = _read_hours(metric, parsed, list(customer_ids), bounds[0], bounds[-1], only, None)
    for hour, rows in hours.items():
        index = bisect_right(bounds, hour) - 1
        if 0 <= index < len(per_segment):
            if plan is not None:
                parts_add(plan, per_segment[index], hour, rows)
            else:
                _merge(kind, per_segment[index], rows)
    result = []
    grouped = bool(parsed.tree.args.get("group"))
    for merged in per_segment:
        if plan is not None:
            rows = parts_rows(plan, merged, grouped)
        else:
            rows = [[*key, amount] for key, amount in merged.items()]
        usage: dict[tuple, Decimal] = {}
        for *key, amount in rows:
            if amount is None:
                continue
            group = tuple(key[p] for p in positions)
            usage[group] = usage.get(group, Decimal(0)) + amount
        result.append(usage)
    return result
