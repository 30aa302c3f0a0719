"""Hourly SQL metrics: a query that can be summed hour by hour keeps each hour's rows
(`SqlMetricHour`) and the window's result, and reads again only the hours that gained events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlglot import exp

from ..models import SqlMetricHour, SqlMetricResult
from ..stores import event_store
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


# More hours than this gained events since the cached result: read the whole window again.
MAX_STALE_HOURS = 48


def _read_hours(metric, parsed, ids, starting_at, ending_before, only, ranges) -> dict:
    """{hour: [[group values..., quantity text], ...]}: the hourly query over the window (or
    only its `ranges`)."""
    rows = event_store().sql_metric_rows(
        sql=parsed.sql,
        by_hour=True,
        customer_ids=list(ids),
        starting_at=starting_at,
        ending_before=ending_before,
        only=only,
        ranges=ranges,
    )
    hours: dict[datetime, list] = {}
    for row in rows:
        *columns, bucket = row
        value = as_number(columns[parsed.value_index])
        groups = [as_group_value(v) for i, v in enumerate(columns) if i != parsed.value_index]
        hours.setdefault(datetime.fromisoformat(_hour_key(bucket)), []).append(
            [*groups, None if value is None else str(value)]
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


def _hourly_rows(metric, parsed, ids, starting_at, ending_before, only) -> list[list]:
    """`sql_metric_rows` of an hourly query. The window's result is kept with the events
    counted in its hours: unchanged, it is the answer (two small reads). Otherwise only the
    hours whose count changed are read again (a few hours of events, not the window's) and the
    result is corrected by them: what those hours gave before is taken out, what they give now
    is added (MIN and MAX: every kept hour combined again)."""
    scope = _scope(ids, starting_at, ending_before, only)
    counts = event_store().event_counts_by_hour(
        metric=metric, customer_ids=list(ids), starting_at=starting_at, ending_before=ending_before
    )
    fingerprint = f"hourly:{len(counts)}:{sum(counts.values())}"
    value = parsed.tree.expressions[parsed.value_index]
    kind = type(value.this if isinstance(value, exp.Alias) else value)
    result = SqlMetricResult.objects.filter(metric_id=metric.pk, scope=scope).first()
    if result is not None and result.fingerprint == fingerprint and isinstance(result.rows, list):
        return _decoded(result.rows)
    kept = SqlMetricHour.objects.filter(metric_id=metric.pk, scope=scope)
    known = dict(kept.values_list("hour", "event_count")) if result is not None else {}
    stale = sorted(
        {h for h, n in counts.items() if known.get(h) != n}
        | {h for h, n in known.items() if n and h not in counts}
    )
    whole = result is None or not isinstance(result.rows, list) or len(stale) > MAX_STALE_HOURS
    merged: dict[tuple, Decimal | None] = {}
    if whole:
        fresh = _read_hours(metric, parsed, ids, starting_at, ending_before, only, None)
        kept.delete()
        for rows in fresh.values():
            _merge(kind, merged, rows)
        changed = fresh
    else:
        fresh = _read_hours(
            metric,
            parsed,
            ids,
            starting_at,
            ending_before,
            only,
            _ranges([h.isoformat() for h in stale], starting_at, ending_before),
        )
        old = {row.hour: row.rows for row in kept.filter(hour__in=stale)}
        if kind in (exp.Sum, exp.Count):
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
    SqlMetricHour.objects.bulk_create(
        SqlMetricHour(
            metric_id=metric.pk,
            scope=scope,
            hour=hour,
            event_count=counts.get(hour, 0),
            rows=rows,
        )
        for hour, rows in {**{h: [] for h in counts if whole}, **changed}.items()
    )
    if not merged and not parsed.tree.args.get("group"):
        # An aggregate without GROUP BY answers one row even over no events: COUNT 0, else NULL.
        merged[()] = Decimal(0) if kind is exp.Count else None
    rows = [[*key, amount] for key, amount in merged.items()]
    SqlMetricResult.objects.update_or_create(
        metric_id=metric.pk,
        scope=scope,
        defaults={"fingerprint": fingerprint, "rows": _encoded(rows)},
    )
    return rows


def _encoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else str(row[-1])] for row in rows]


def _decoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else Decimal(row[-1])] for row in rows]
