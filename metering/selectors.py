"""Metering reads: what a metric measured, for whom, over which hours; events and their customers.

Usage is read from the hourly pre-aggregates (`MetricAggregate`, `MetricDistinctValue`), never from
raw events, and always for a customer's ingest ids: `str(customer.id)` plus its current ingest
aliases (`customer_ingest_ids`), so usage follows alias changes without rewriting anything.

Answers are exact `Decimal`s per group: `{(value of key 1, value of key 2, ...): quantity}` with the
values in the order of the requested `group_keys`; `None` stands for an event that did not carry
that key. A group with no matching event is absent. Time ranges are `[starting_at, ending_before)`
on UTC hour boundaries (the aggregates are hourly); anything else is a ValueError.

Roll-up: COUNT and SUM add, MAX takes the maximum, LATEST the value of the latest event (ties: the
greater transaction id), all exact from the finer rows. UNIQUE counts distinct values over the whole
requested range and group (never a sum of hourly counts). On PostgreSQL the database does the first
level (per segment and full group values) in one indexed query; on SQLite, which has no exact
decimal arithmetic, rows are read and added in Python.
"""

from __future__ import annotations

import json
import uuid
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.db import connection
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDate

from catalog.models import BillableMetric, is_hour_aligned
from customers.models import Customer, IngestAlias

from .definitions import EXACT, definitions_current
from .ingest import _q
from .models import (
    DuplicateEvent,
    ExactDecimalField,
    MetricAggregate,
    MetricDistinctValue,
    UsageEvent,
    UsageMark,
)
from .validation import MAX_AGE

Group = tuple[str | None, ...]
GroupUsage = dict[Group, Decimal]


def customer_ingest_ids(*, customer: Customer) -> list[str]:
    """Every customer_id under which this customer's events may arrive."""
    aliases = IngestAlias.objects.filter(customer_id=customer.pk).values_list("alias", flat=True)
    return [str(customer.pk), *aliases]


def usage_marks_waiting() -> bool:
    """Whether some customer has usage stored since the apps above last took the marks."""
    return UsageMark.objects.exists()


def customers_by_ingest_id(ids: Iterable[str]) -> dict[str, Customer]:
    """The customer each id (a customer id or an alias) belongs to, for the ids that have one."""
    ids = set(ids)
    found: dict[str, Customer] = {}
    for alias in IngestAlias.objects.filter(alias__in=ids).select_related("customer"):
        found[alias.alias] = alias.customer
    uuids = {}
    for value in ids - set(found):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            continue
        if str(parsed) == value:
            uuids[parsed] = value
    for customer in Customer.objects.filter(pk__in=list(uuids)):
        found[uuids[customer.pk]] = customer
    return found


# --- Aggregation ------------------------------------------------------------------------------------


def _check_keys(metric: BillableMetric, group_keys: Sequence[str]) -> None:
    known = set(metric.all_group_keys)
    unknown = [k for k in group_keys if k not in known]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} is not a group key of metric {metric.name} "
            f"(group keys: {', '.join(sorted(known)) or 'none'})"
        )
    if len(set(group_keys)) != len(group_keys):
        raise ValueError("a group key is named twice")


def _check_boundaries(boundaries: Sequence[datetime]) -> list[datetime]:
    if len(boundaries) < 2:
        raise ValueError("need at least a start and an end")
    result = []
    for moment in boundaries:
        if moment.tzinfo is None or not is_hour_aligned(moment.astimezone(UTC)):
            raise ValueError(f"{moment.isoformat()} is not an aware UTC hour boundary")
        result.append(moment.astimezone(UTC))
    if any(b <= a for a, b in pairwise(result)):
        raise ValueError("boundaries must increase")
    return result


def metric_usage_by_group(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: Sequence[str],
) -> GroupUsage:
    """The metric's value per group (in `group_keys` order) for the customer over the range."""
    return metric_usage_by_segment(
        metric=metric,
        customer=customer,
        boundaries=[starting_at, ending_before],
        group_keys=group_keys,
    )[0]


def metric_usage_by_segment(
    *,
    metric: BillableMetric,
    customer: Customer,
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
) -> list[GroupUsage]:
    """One `metric_usage_by_group` answer per segment [b0, b1), [b1, b2), ... of hour-aligned
    `boundaries` (rate segments of a billing period, or usage windows)."""
    return usage_by_segment(
        metric=metric,
        customer_ids=customer_ingest_ids(customer=customer),
        boundaries=boundaries,
        group_keys=group_keys,
    )


def usage_by_segment(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
    only: tuple[str, Sequence[str]] | None = None,
) -> list[GroupUsage]:
    """`metric_usage_by_segment` for explicit ingest ids (several customers at once, or none).

    `only` = (group key, values): count only the events whose value of that group key is one of
    `values` (a contract's usage filter). It is applied to the full group values before rolling
    up, so it is exact for every aggregation, UNIQUE included."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    if only is not None:
        _check_keys(metric, [only[0]])
        only = (only[0], frozenset(only[1]))
    bounds = _check_boundaries(boundaries)
    segments: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
    if not customer_ids:
        return segments
    if metric.sql:
        # A SQL metric is its query over each segment's events (see metering.sql_metrics).
        from .sql_metrics import sql_metric_usage_by_segment

        return sql_metric_usage_by_segment(
            metric=metric,
            customer_ids=list(customer_ids),
            bounds=bounds,
            group_keys=group_keys,
            only=only,
        )
    if metric.aggregation_type == BillableMetric.AggregationType.UNIQUE:
        _unique(metric, list(customer_ids), bounds, group_keys, segments, only)
    else:
        _rolled_up(metric, list(customer_ids), bounds, group_keys, segments, only)
    return segments


def usage_by_customer(
    *,
    metric: BillableMetric,
    customer_ids: dict[str, Sequence[str]],
    starting_at: datetime,
    ending_before: datetime,
    group_keys: Sequence[str],
) -> dict[str, GroupUsage]:
    """`usage_by_segment` over one window for many customers at once: {key: the usage of the
    ingest ids `customer_ids[key]`}, in one read of the pre-aggregates on PostgreSQL (elsewhere,
    and for UNIQUE metrics, one read per customer)."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    bounds = _check_boundaries([starting_at, ending_before])
    unique = metric.aggregation_type == BillableMetric.AggregationType.UNIQUE
    if connection.vendor != "postgresql" or unique:
        return {
            key: usage_by_segment(
                metric=metric, customer_ids=ids, boundaries=bounds, group_keys=group_keys
            )[0]
            for key, ids in customer_ids.items()
        }
    owner = {ingest_id: key for key, ids in customer_ids.items() for ingest_id in ids}
    rows: dict[str, list] = {key: [] for key in customer_ids}
    if owner:
        for ingest_id, *row in _rows(metric, list(owner), bounds, by_customer=True):
            rows[owner[ingest_id]].append(row)
    found = {}
    for key, own in rows.items():
        segments: list[GroupUsage] = [{}]
        _fold(metric, own, group_keys, segments)
        found[key] = segments[0]
    return found


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


def usage_running(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
) -> list[GroupUsage]:
    """Running totals: answer k is the metric over [b0, b(k+1)), for hour-aligned `boundaries`
    (usage so far at the end of each day of a period), in one read of the aggregates.

    COUNT and SUM add the segments up, MAX keeps the largest, LATEST the value of the last
    segment that had an event. UNIQUE counts each distinct value from the segment it first
    appears in, so a value seen on several days is counted once."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    bounds = _check_boundaries(boundaries)
    if metric.aggregation_type == BillableMetric.AggregationType.UNIQUE:
        firsts: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
        if customer_ids:
            _unique_first_seen(metric, list(customer_ids), bounds, group_keys, firsts)
        segments, aggregation = firsts, "COUNT"
    else:
        segments = usage_by_segment(
            metric=metric, customer_ids=customer_ids, boundaries=bounds, group_keys=group_keys
        )
        aggregation = metric.aggregation_type
    running: list[GroupUsage] = []
    so_far: GroupUsage = {}
    for segment in segments:
        so_far = dict(so_far)
        for group, value in segment.items():
            before = so_far.get(group)
            if before is None or aggregation == "LATEST":
                so_far[group] = value
            elif aggregation in ("COUNT", "SUM"):
                so_far[group] = EXACT.add(before, value)
            elif value > before:  # MAX
                so_far[group] = value
        running.append(so_far)
    return running


def _unique_first_seen(metric, customer_ids, bounds, group_keys, segments) -> None:
    """Per segment and group: how many distinct values appear for the first time in it."""
    if connection.vendor == "postgresql":
        segment = _segment_sql(bounds)
        keys = "".join(
            f", (group_values::jsonb) ->> %(key{i})s AS k{i}" for i in range(len(group_keys))
        )
        names = "".join(f", k{i}" for i in range(len(group_keys)))
        params = {
            "metric": metric.pk,
            "ids": list(customer_ids),
            "start": bounds[0],
            "end": bounds[-1],
            "bounds": bounds,
        }
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
        return
    first: dict[tuple[Group, str], datetime] = {}
    groups: dict[str, Group] = {}
    rows = MetricDistinctValue.objects.filter(
        metric_id=metric.pk,
        customer_id__in=customer_ids,
        hour__gte=bounds[0],
        hour__lt=bounds[-1],
    ).values_list("hour", "group_values", "value")
    for hour, group_text, value in rows.iterator(chunk_size=5000):
        key = (_group_of(groups, group_text, group_keys), value)
        if key not in first or hour < first[key]:
            first[key] = hour
    for (group, _), hour in first.items():
        bucket = segments[bisect_right(bounds, hour) - 1]
        bucket[group] = bucket.get(group, Decimal(0)) + 1


def _group_of(cache: dict[str, Group], text: str, group_keys: list[str]) -> Group:
    group = cache.get(text)
    if group is None:
        values = json.loads(text)
        group = cache[text] = tuple(values.get(k) for k in group_keys)
    return group


@dataclass(slots=True)
class _State:
    value: Decimal | None
    latest: tuple[datetime, str] | None = None


def _rolled_up(metric, customer_ids, bounds, group_keys, segments, only=None) -> None:
    _fold(metric, _rows(metric, customer_ids, bounds, only), group_keys, segments, only)


def _fold(metric, rows, group_keys, segments, only=None) -> None:
    """Fold `_rows`' rows into `segments` ({group: value} per segment), keeping `only`'s."""
    aggregation = metric.aggregation_type
    states: list[dict[Group, _State]] = [{} for _ in segments]
    groups: dict[str, Group] = {}
    kept: dict[str, bool] = {}
    for segment, group_text, count, total, maximum, latest_value, latest_ts, latest_tx in rows:
        if not _kept(only, kept, group_text):
            continue
        group = _group_of(groups, group_text, group_keys)
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


def _segment_sql(bounds: list[datetime]) -> str:
    """SQL for the 0-based segment of `hour`: constant for one segment, arithmetic for equal
    segments (HOUR and DAY windows), else a binary search over the boundaries."""
    if len(bounds) == 2:
        return "0"
    steps = {b - a for a, b in pairwise(bounds)}
    if len(steps) == 1:
        seconds = int(steps.pop().total_seconds())
        return f"(EXTRACT(EPOCH FROM hour - %(start)s)::bigint / {seconds})::int"
    return "width_bucket(hour, %(bounds)s::timestamptz[]) - 1"


def _rows(metric, customer_ids, bounds, only=None, *, by_customer: bool = False):
    """(segment index, group_values, count, sum, max, latest value, latest ts, latest tx) rows
    (on PostgreSQL already restricted to `only`; the caller checks it on SQLite); `by_customer`
    (PostgreSQL only): each row starts with the ingest id it sums."""
    if connection.vendor == "postgresql":
        segment = _segment_sql(bounds)
        column = {
            "COUNT": "SUM(event_count), NULL::numeric, NULL::numeric",
            "SUM": "0, SUM(value_sum), NULL::numeric",
            "MAX": "0, NULL::numeric, MAX(value_max)",
        }.get(metric.aggregation_type)
        if column is None:  # LATEST
            latest = (
                "(ARRAY_AGG(latest_value ORDER BY latest_timestamp DESC, "
                "latest_transaction_id DESC))[1], MAX(latest_timestamp), "
                "(ARRAY_AGG(latest_transaction_id ORDER BY latest_timestamp DESC, "
                "latest_transaction_id DESC))[1]"
            )
            column = "0, NULL::numeric, NULL::numeric, " + latest
        else:
            column += ", NULL::numeric, NULL::timestamptz, ''"
        who, by = ("customer_id, ", "3, ") if by_customer else ("", "")
        params = {
            "metric": metric.pk,
            "ids": list(customer_ids),
            "start": bounds[0],
            "end": bounds[-1],
            "bounds": bounds,
        }
        sql = (
            f"SELECT {who}{segment} AS segment, group_values, {column} "
            f"FROM {_q(MetricAggregate)} WHERE metric_id = %(metric)s "
            f"AND customer_id = ANY(%(ids)s) AND hour >= %(start)s AND hour < %(end)s"
            f"{_only_sql(only, params)} GROUP BY {by}1, 2"
        )
        yield from fetch_range_rows(sql, params)
        return
    rows = MetricAggregate.objects.filter(
        metric_id=metric.pk,
        customer_id__in=customer_ids,
        hour__gte=bounds[0],
        hour__lt=bounds[-1],
    ).values_list(
        "hour",
        "group_values",
        "event_count",
        "value_sum",
        "value_max",
        "latest_value",
        "latest_timestamp",
        "latest_transaction_id",
    )
    for hour, *rest in rows.iterator(chunk_size=5000):
        yield (bisect_right(bounds, hour) - 1, *rest)


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


def _unique(metric, customer_ids, bounds, group_keys, segments, only=None) -> None:
    if connection.vendor == "postgresql":
        segment = _segment_sql(bounds)
        keys = "".join(f", (group_values::jsonb) ->> %(key{i})s" for i in range(len(group_keys)))
        group_by = ", ".join(str(i) for i in range(1, len(group_keys) + 2))
        params = {
            "metric": metric.pk,
            "ids": list(customer_ids),
            "start": bounds[0],
            "end": bounds[-1],
            "bounds": bounds,
        }
        params.update({f"key{i}": key for i, key in enumerate(group_keys)})
        for row in fetch_range_rows(
            f"SELECT {segment}{keys}, COUNT(DISTINCT value) FROM {_q(MetricDistinctValue)} "
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
    ).values_list("hour", "group_values", "value")
    kept: dict[str, bool] = {}
    for hour, group_text, value in rows.iterator(chunk_size=5000):
        if not _kept(only, kept, group_text):
            continue
        group = _group_of(groups, group_text, group_keys)
        values[bisect_right(bounds, hour) - 1].setdefault(group, set()).add(value)
    for index, bucket in enumerate(values):
        segments[index].update({g: Decimal(len(v)) for g, v in bucket.items()})


def window_boundaries(
    starting_at: datetime, ending_before: datetime, window: str
) -> list[datetime]:
    """Boundaries of HOUR, DAY or NONE windows over [starting_at, ending_before)."""
    if window == "NONE":
        return [starting_at, ending_before]
    step = timedelta(hours=1) if window == "HOUR" else timedelta(days=1)
    bounds = []
    moment = starting_at
    while moment < ending_before:
        bounds.append(moment)
        moment += step
    bounds.append(ending_before)
    return bounds


@dataclass(frozen=True)
class MetricUsage:
    metric: BillableMetric
    value: Decimal


def customer_usage_summary(
    *, customer: Customer, starting_at: datetime, ending_before: datetime
) -> list[MetricUsage]:
    """Every metric (archived too) that measured something for the customer in the range, with
    its ungrouped value; for the customer's admin page."""
    ids = customer_ingest_ids(customer=customer)
    result = []
    for metric in BillableMetric.objects.order_by("name"):
        value = usage_by_segment(
            metric=metric,
            customer_ids=ids,
            boundaries=[starting_at, ending_before],
            group_keys=[],
        )[0].get(())
        if value is not None:
            result.append(MetricUsage(metric=metric, value=value))
    return result


@dataclass(frozen=True)
class UnattributedId:
    customer_id: str
    events: int
    last_timestamp: datetime


def unattributed_customer_ids(
    *, now: datetime | None = None, limit: int = 200
) -> list[UnattributedId]:
    """customer_ids of events received in the last 34 days that match no customer id and no
    ingest alias, most recent first: what staff should add as an alias.

    The distinct ids come from a skip scan of the (customer_id, timestamp) index, one probe per
    id rather than a read of every event; only the unknown ids' events are then counted."""
    since = (now or datetime.now(UTC)) - MAX_AGE
    ids = _distinct_event_customer_ids()
    known = customers_by_ingest_id(ids)
    unknown = sorted(set(ids) - set(known))
    missing = []
    for start in range(0, len(unknown), 500):
        missing += (
            UsageEvent.objects.filter(
                customer_id__in=unknown[start : start + 500], received_at__gte=since
            )
            .order_by()
            .values("customer_id")
            .annotate(events=Count("id"), last=Max("timestamp"))
        )
    missing.sort(key=lambda row: (row["last"], row["customer_id"]), reverse=True)
    return [
        UnattributedId(
            customer_id=row["customer_id"], events=row["events"], last_timestamp=row["last"]
        )
        for row in missing[:limit]
    ]


def _distinct_event_customer_ids() -> list[str]:
    """Every customer_id events were sent under: a recursive CTE stepping through the index to the
    next greater id (PostgreSQL has no skip scan of its own; SQLite runs the same query)."""
    table = _q(UsageEvent)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE ids(customer_id) AS (
                SELECT MIN(customer_id) FROM {table}
                UNION ALL
                SELECT (SELECT MIN(e.customer_id) FROM {table} e
                        WHERE e.customer_id > ids.customer_id)
                FROM ids WHERE ids.customer_id IS NOT NULL
            )
            SELECT customer_id FROM ids WHERE customer_id IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


# --- Events search ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundEvent:
    id: uuid.UUID
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict
    received_at: datetime
    is_duplicate: bool
    customer: Customer | None
    metrics: list[BillableMetric]


def usage_events_search(*, transaction_ids: Sequence[str], now: datetime) -> list[FoundEvent]:
    """Events (and dropped duplicates) received in the last 34 days under these transaction ids,
    with the customer they resolve to now and the metrics they match now."""
    since = now - MAX_AGE
    found: list[tuple] = []
    for model, duplicate in ((UsageEvent, False), (DuplicateEvent, True)):
        for event in model.objects.filter(
            transaction_id__in=list(transaction_ids), received_at__gte=since
        ).order_by("received_at", "id"):
            found.append((event, duplicate))
    found.sort(key=lambda pair: (pair[0].received_at, pair[1], pair[0].transaction_id))
    customers = customers_by_ingest_id(event.customer_id for event, _ in found)
    definitions = definitions_current()
    metric_ids = {
        m.id
        for event, _ in found
        for m in definitions.matching(event.event_type, event.properties or {})
    }
    metrics = BillableMetric.objects.in_bulk(list(metric_ids))
    result = []
    for event, duplicate in found:
        matched = [
            metrics[m.id]
            for m in definitions.matching(event.event_type, event.properties or {})
            if m.id in metrics
        ]
        result.append(
            FoundEvent(
                id=event.id,
                transaction_id=event.transaction_id,
                customer_id=event.customer_id,
                event_type=event.event_type,
                timestamp=event.timestamp,
                properties=event.properties or {},
                received_at=event.received_at,
                is_duplicate=duplicate,
                customer=customers.get(event.customer_id),
                metrics=matched,
            )
        )
    return result


def daily_usage(
    *,
    metric_ids: Iterable,
    customer_ids: Iterable[str],
    starting_at: datetime,
    ending_before: datetime,
) -> list[tuple]:
    """Per metric, customer id, UTC day and group values: the events counted and the sum of
    their aggregation-key values, from the hourly pre-aggregates (one query). Revenue
    recognition spreads a usage line over the days its usage happened."""
    rows = (
        MetricAggregate.objects.filter(
            metric_id__in=list(metric_ids),
            customer_id__in=list(customer_ids),
            hour__gte=starting_at,
            hour__lt=ending_before,
        )
        .annotate(day=TruncDate("hour", tzinfo=UTC))
        .values("metric_id", "customer_id", "day", "group_values")
        .annotate(
            events=Sum("event_count"), amount=Sum("value_sum", output_field=ExactDecimalField())
        )
        .order_by()
    )
    return [
        (r["metric_id"], r["customer_id"], r["day"], r["group_values"], r["events"], r["amount"])
        for r in rows
    ]
