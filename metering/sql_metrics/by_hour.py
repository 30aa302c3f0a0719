"""Hourly SQL metrics: a query that can be summed hour by hour keeps each hour's rows
(`SqlMetricHour`) and the window's result, and reads again only the hours that gained events.
The hours are first kept off the request path (`sql_metric_hours_keep`, a django-q2 task)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlglot import exp

from ..models import SqlMetricHour, SqlMetricResult
from ..stores import event_store
from .compiler import _parsed
from .quotients import parts_add, parts_decoded, parts_encoded, parts_rows, quotient_plan
from .runner import as_group_value, as_number


def _scope(ids: Sequence[str], start: datetime, end: datetime, only) -> str:
    text = json.dumps(
        [
            sorted(ids),
            start.isoformat(),
            end.isoformat(),
            [only[0], sorted(only[1])] if only else None,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _combine(kind, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    if b is None:
        return a
    if kind is exp.Min:
        return min(a, b)
    if kind is exp.Max:
        return max(a, b)
    return a + b


def _hour_key(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).isoformat()


def _ranges(hours: list[str], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The hours as [start, end) ranges inside the window, consecutive hours joined."""
    ranges: list[list[datetime]] = []
    for hour in sorted(datetime.fromisoformat(h) for h in hours):
        low, high = max(hour, start), min(hour + timedelta(hours=1), end)
        if ranges and ranges[-1][1] >= low:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])
    return [(low, high) for low, high in ranges]


# Hours that gained events since the kept result are read again as [start, end) ranges
# (consecutive hours joined: a backfill of a few days is one range): more ranges than this, or
# more than half of the window's events in them when they are many (reading by hour costs about
# twice a plain read per event), and the whole window is read in one plain read instead.
MAX_STALE_RANGES = 48
MANY_STALE_EVENTS = 100_000


def _too_stale(stale: list[datetime], counts: dict[datetime, int], start, end) -> bool:
    if len(_ranges([h.isoformat() for h in stale], start, end)) > MAX_STALE_RANGES:
        return True
    events = sum(counts.get(hour, 0) for hour in stale)
    return events > MANY_STALE_EVENTS and 2 * events > sum(counts.values())


def _read_hours(metric, parsed, ids, starting_at, ending_before, only, ranges, by=True) -> dict:
    """{hour: [[group values..., quantity text], ...]}: the hourly query over the window (or
    only its `ranges`); for a quotient, [group values..., each part as text]. With `by` "day",
    by UTC day instead of hour."""
    rows = event_store().sql_metric_rows(
        sql=parsed.sql,
        by_hour=by,
        customer_ids=list(ids),
        starting_at=starting_at,
        ending_before=ending_before,
        only=only,
        ranges=ranges,
    )
    plan = quotient_plan(parsed.sql)
    hours: dict[datetime, list] = {}
    for row in rows:
        *columns, bucket = row
        if plan is not None:
            groups = [as_group_value(v) for v in columns[: plan.groups]]
            amounts = [as_number(v) for v in columns[plan.groups :]]
        else:
            value = as_number(columns[parsed.value_index])
            groups = [as_group_value(v) for i, v in enumerate(columns) if i != parsed.value_index]
            amounts = [value]
        hours.setdefault(datetime.fromisoformat(_hour_key(bucket)), []).append(
            [*groups, *(None if amount is None else str(amount) for amount in amounts)]
        )
    return hours


def _merge(kind, merged: dict, rows, sign: int = 1) -> None:
    for row in rows:
        key = tuple(row[:-1])
        amount = None if row[-1] is None else Decimal(row[-1])
        if sign < 0:
            if amount is not None and key in merged and merged[key] is not None:
                merged[key] -= amount
            continue
        merged[key] = _combine(kind, merged.get(key), amount)


# Inside `sql_metric_hours_kept_inline` (a task warming drafts, off the request path): a first
# read keeps the window's hours itself instead of a plain read and a task queued for them.
_inline: ContextVar[bool] = ContextVar("SQL metric hours kept inline", default=False)


@contextlib.contextmanager
def sql_metric_hours_kept_inline() -> Iterator[None]:
    """Inside it, the first read of a window (nothing kept, or too many hours stale:
    `_too_stale`) reads it grouped by hour and keeps every hour, as `sql_metric_hours_keep`
    does, before answering: for a task that reads drafts ahead of a person (a contract made over
    existing events), so that the person's read finds the hours kept."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


# A kept result computed by one plain read of the window (its hours not kept yet) carries this
# before its fingerprint; one corrected hour by hour, "hourly:".
PLAIN = "plain:"
HOURS_TASK = "metering.tasks.sql_metric_hours_keep_task"


def window_rows(parsed, ids, starting_at, ending_before, only) -> list[list]:
    """The query's rows over the window in one read (no grouping by hour): every column, the
    group values as text, the quantity a Decimal."""
    found = event_store().sql_metric_rows(
        sql=parsed.sql,
        by_hour=False,
        customer_ids=list(ids),
        starting_at=starting_at,
        ending_before=ending_before,
        only=only,
    )
    return [
        [
            *(as_group_value(v) for i, v in enumerate(row) if i != parsed.value_index),
            as_number(row[parsed.value_index]),
        ]
        for row in found
    ]


def _kind(parsed):
    value = parsed.tree.expressions[parsed.value_index]
    return type(value.this if isinstance(value, exp.Alias) else value)


def _hourly_rows(metric, parsed, ids, starting_at, ending_before, only) -> list[list]:
    """`sql_metric_rows` of an hourly query. The window's result is kept with the events
    counted in its hours: unchanged, it is the answer (two small reads). Otherwise only the
    hours whose count changed are read again (a few hours of events, not the window's) and the
    result is corrected by them: what those hours gave before is taken out, what they give now
    is added (MIN and MAX: every kept hour combined again).

    The first read of a window (or one after too many hours gained events: `_too_stale`)
    has no hours to correct: it answers with one plain read of the window, several times cheaper
    than the read grouped by hour (a month of events is ~700 hours x the groups to sort), and
    queues `sql_metric_hours_keep` to keep the hours off the request path."""
    scope = _scope(ids, starting_at, ending_before, only)
    counts = event_store().event_counts_by_hour(
        metric=metric, customer_ids=list(ids), starting_at=starting_at, ending_before=ending_before
    )
    fingerprint = f"hourly:{len(counts)}:{sum(counts.values())}"
    kind = _kind(parsed)
    plan = quotient_plan(parsed.sql)
    result = SqlMetricResult.objects.filter(metric_id=metric.pk, scope=scope).first()
    usable = result is not None and isinstance(result.rows, list)
    if usable and result.fingerprint in (fingerprint, PLAIN + fingerprint):
        return _decoded(result.rows)
    kept = SqlMetricHour.objects.filter(metric_id=metric.pk, scope=scope)
    known = dict(kept.values_list("hour", "event_count")) if usable else {}
    stale = sorted(
        {h for h, n in counts.items() if known.get(h) != n}
        | {h for h, n in known.items() if n and h not in counts}
    )
    if (
        not usable
        or not result.fingerprint.startswith("hourly:")
        or (plan is not None and result.parts is None)
        or _too_stale(stale, counts, starting_at, ending_before)
    ):
        if _inline.get():
            return _keep_all(metric, parsed, ids, starting_at, ending_before, only, counts)
        rows = _first_rows(metric, parsed, plan, ids, starting_at, ending_before, only)
        SqlMetricResult.objects.update_or_create(
            metric_id=metric.pk,
            scope=scope,
            defaults={"fingerprint": PLAIN + fingerprint, "rows": _encoded(rows), "parts": None},
        )
        _keep_hours_later(metric, ids, starting_at, ending_before, only)
        return rows
    fresh = _read_hours(
        metric,
        parsed,
        ids,
        starting_at,
        ending_before,
        only,
        _ranges([h.isoformat() for h in stale], starting_at, ending_before),
    )
    merged: dict = {}
    old = {row.hour: row.rows for row in kept.filter(hour__in=stale)}
    if plan is not None and plan.extremes:
        # A MIN or MAX among the parts: every kept hour combined again with the read ones.
        for hour, rows in kept.exclude(hour__in=stale).values_list("hour", "rows"):
            parts_add(plan, merged, hour, rows)
        for hour, rows in fresh.items():
            parts_add(plan, merged, hour, rows)
    elif plan is not None:
        # A quotient's parts: what the read hours gave before taken out, what they give now
        # added; divided once the window's parts are whole (`_kept`).
        merged = parts_decoded(result.parts)
        for hour, rows in old.items():
            parts_add(plan, merged, hour, rows, sign=-1)
        for hour, rows in fresh.items():
            parts_add(plan, merged, hour, rows)
    elif kind in (exp.Sum, exp.Count):
        _merge(kind, merged, [[*row[:-1], str(row[-1])] for row in _decoded(result.rows)])
        for rows in old.values():
            _merge(kind, merged, rows, sign=-1)
        for rows in fresh.values():
            _merge(kind, merged, rows)
    else:
        for rows in kept.exclude(hour__in=stale).values_list("rows", flat=True):
            _merge(kind, merged, rows)
        for rows in fresh.values():
            _merge(kind, merged, rows)
    kept.filter(hour__in=stale).delete()
    changed = {hour: fresh.get(hour, []) for hour in stale}
    return _kept(metric, parsed, scope, counts, fingerprint, changed, merged)


def _first_rows(metric, parsed, plan, ids, starting_at, ending_before, only) -> list[list]:
    """The window's rows in one read, its hours not kept yet. On the relational store a
    quotient that counts days (or hours) has its parts read by day (by hour) and divided once:
    PostgreSQL hashes those groups, where COUNT(DISTINCT day) over the whole window sorts every
    event of each group (20-40% less on 1M events, benchmarks/sql_metrics.py). ClickHouse counts
    distinct days in a hash set, faster than it groups by day: there, and for any other query,
    the query is read as it is."""
    if plan is None or not plan.units or event_store().name != "relational":
        return window_rows(parsed, ids, starting_at, ending_before, only)
    by = True if any(unit == "hour" for unit, _ in plan.units) else "day"
    merged: dict = {}
    for day, rows in _read_hours(
        metric, parsed, ids, starting_at, ending_before, only, None, by
    ).items():
        parts_add(plan, merged, day, rows)
    return parts_rows(plan, merged, bool(parsed.tree.args.get("group")))


def _keep_hours_later(metric, ids, starting_at, ending_before, only) -> None:
    from django_q.tasks import async_task

    async_task(
        HOURS_TASK,
        str(metric.pk),
        sorted(ids),
        starting_at,
        ending_before,
        [only[0], sorted(only[1])] if only else None,
    )


def sql_metric_hours_keep(*, metric, customer_ids, starting_at, ending_before, only) -> bool:
    """Read an hourly query's window grouped by hour and keep every hour's rows and the result
    (what the next read corrects hour by hour). Nothing to do when the kept hours are current
    (another task kept them first). Returns whether it read."""
    parsed = _parsed(metric.sql)
    ids = list(customer_ids)
    scope = _scope(ids, starting_at, ending_before, only)
    counts = event_store().event_counts_by_hour(
        metric=metric, customer_ids=ids, starting_at=starting_at, ending_before=ending_before
    )
    fingerprint = f"hourly:{len(counts)}:{sum(counts.values())}"
    result = SqlMetricResult.objects.filter(metric_id=metric.pk, scope=scope).first()
    if result is not None and result.fingerprint == fingerprint:
        return False
    _keep_all(metric, parsed, ids, starting_at, ending_before, only, counts)
    return True


def _keep_all(metric, parsed, ids, starting_at, ending_before, only, counts) -> list[list]:
    """Read the window grouped by hour, keep every hour's rows and the result; its rows."""
    scope = _scope(ids, starting_at, ending_before, only)
    fingerprint = f"hourly:{len(counts)}:{sum(counts.values())}"
    fresh = _read_hours(metric, parsed, ids, starting_at, ending_before, only, None)
    SqlMetricHour.objects.filter(metric_id=metric.pk, scope=scope).delete()
    merged: dict = {}
    plan = quotient_plan(parsed.sql)
    for hour, rows in fresh.items():
        if plan is not None:
            parts_add(plan, merged, hour, rows)
        else:
            _merge(_kind(parsed), merged, rows)
    changed = {**{h: [] for h in counts}, **fresh}
    return _kept(metric, parsed, scope, counts, fingerprint, changed, merged)


def _kept(metric, parsed, scope, counts, fingerprint, changed, merged) -> list[list]:
    """Keep the `changed` hours' rows and the window's result (`merged`: per group the
    quantity, or a quotient's parts); returns its rows."""
    SqlMetricHour.objects.bulk_create(
        SqlMetricHour(
            metric_id=metric.pk,
            scope=scope,
            hour=hour,
            event_count=counts.get(hour, 0),
            rows=rows,
        )
        for hour, rows in changed.items()
    )
    plan = quotient_plan(parsed.sql)
    grouped = bool(parsed.tree.args.get("group"))
    if plan is not None:
        rows = parts_rows(plan, merged, grouped)
    else:
        if not merged and not grouped:
            # An aggregate without GROUP BY answers one row even over no events: COUNT 0, else
            # NULL.
            merged[()] = Decimal(0) if _kind(parsed) is exp.Count else None
        rows = [[*key, amount] for key, amount in merged.items()]
    SqlMetricResult.objects.update_or_create(
        metric_id=metric.pk,
        scope=scope,
        defaults={
            "fingerprint": fingerprint,
            "rows": _encoded(rows),
            "parts": parts_encoded(merged) if plan is not None else None,
        },
    )
    return rows


def _encoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else str(row[-1])] for row in rows]


def _decoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else Decimal(row[-1])] for row in rows]
