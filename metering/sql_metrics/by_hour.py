"""Hourly SQL metrics: a query that can be summed hour by hour keeps its window's result and the
rows of each span of its hours (`SqlMetricHour`: an hour, or a day piece, `spans`), and reads
again only the spans whose hours gained events. The first read of a window reads it whole in one
pass grouped by span and keeps it in the same transaction, so the next read is warm."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from sqlglot import exp

from ..definitions import EXACT
from ..models import SqlMetricHour, SqlMetricResult
from ..stores import event_store
from .quotients import parts_add, parts_decoded, parts_encoded, parts_rows, quotient_plan
from .runner import as_group_value, as_number
from .spans import ReadPlan, read_plan


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
    return EXACT.add(a, b)  # every digit (`metering.definitions`), not Python's 28


def _hour_key(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).isoformat()


def _read_hours(
    metric, parsed, ids, starting_at, ending_before, only, ranges, hours_from=None
) -> dict:
    """{bucket: [[group values..., quantity text], ...]}: the hourly query over the window (or
    only its `ranges`) by UTC hour (before `hours_from`, by UTC day); for a quotient,
    [group values..., each part as text]."""
    rows = event_store().sql_metric_rows(
        sql=parsed.sql,
        by_hour=True,
        customer_ids=list(ids),
        starting_at=starting_at,
        ending_before=ending_before,
        only=only,
        ranges=ranges,
        hours_from=hours_from,
    )
    plan = quotient_plan(parsed.sql)
    hours: dict[datetime, list] = {}
    moments: dict = {}  # bucket as read -> UTC datetime
    for row in rows:
        *columns, bucket = row
        if bucket not in moments:
            moments[bucket] = datetime.fromisoformat(_hour_key(bucket))
        if plan is not None:
            groups = [as_group_value(v) for v in columns[: plan.groups]]
            amounts = [as_number(v) for v in columns[plan.groups :]]
        else:
            value = as_number(columns[parsed.value_index])
            groups = [as_group_value(v) for i, v in enumerate(columns) if i != parsed.value_index]
            amounts = [value]
        hours.setdefault(moments[bucket], []).append(
            [*groups, *(None if amount is None else str(amount) for amount in amounts)]
        )
    return hours


def _merge(kind, merged: dict, rows, sign: int = 1) -> None:
    """Combine rows ([*group values, quantity text]) into `merged`; with `sign` -1, take a SUM's
    or COUNT's rows out."""
    for row in rows:
        key = tuple(row[:-1])
        amount = None if row[-1] is None else Decimal(row[-1])
        if sign < 0:
            if amount is not None and merged.get(key) is not None:
                merged[key] = EXACT.subtract(merged[key], amount)
            continue
        merged[key] = _combine(kind, merged.get(key), amount)


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
    """`sql_metric_rows` of an hourly query (or a quotient of hourly parts). The window's result
    is kept with the events counted in its hours: unchanged, it is the answer (two small reads).
    Otherwise the spans `spans.read_plan` finds stale are read again in one statement (the
    whole window when nothing is kept), and the kept result (a quotient's: its parts) is
    corrected by them: what those spans gave before is taken out, what they give now is added
    (a MIN or MAX: every kept span combined again with the read ones). Both are kept before
    answering (`_keep`)."""
    scope = _scope(ids, starting_at, ending_before, only)
    results = SqlMetricResult.objects.filter(metric_id=metric.pk, scope=scope)
    result = results.defer("parts").first()  # a quotient's parts: only to correct them
    # The counts before the events (`spans`): an event arriving during this read is read again.
    counts = event_store().event_counts_by_hour(
        metric=metric, customer_ids=list(ids), starting_at=starting_at, ending_before=ending_before
    )
    fingerprint = f"hourly:{len(counts)}:{sum(counts.values())}"
    if _current(result, fingerprint):
        return _decoded(result.rows)
    plan = quotient_plan(parsed.sql)
    kind = _kind(parsed)
    # A SUM, a COUNT and a quotient's additive parts are corrected; a MIN or MAX is combined.
    corrected = not plan.extremes if plan is not None else kind in (exp.Sum, exp.Count)
    kept = SqlMetricHour.objects.filter(metric_id=metric.pk, scope=scope)
    with transaction.atomic():
        # The result and its spans as one writer left them (`_keep` holds the same lock).
        result = results.select_for_update().first()
        if _current(result, fingerprint):
            return _decoded(result.rows)
        usable = (
            result is not None
            and isinstance(result.rows, list)
            and result.fingerprint.startswith("hourly:")
            and (plan is None or result.parts is not None)
        )
        read = read_plan(
            starting_at=starting_at,
            ending_before=ending_before,
            counts=counts,
            kept=(
                {
                    hour: (hours, count)
                    for hour, hours, count in kept.values_list("hour", "hours", "event_count")
                }
                if usable
                else None
            ),
            # Distinct hours are counted from each hour's rows: no day pieces.
            hourly_only=plan is not None and any(unit == "hour" for unit, _ in plan.units),
        )
        merged: dict = {}
        if usable and corrected:
            if plan is not None:
                merged = parts_decoded(result.parts)
            else:
                _merge(kind, merged, result.rows)
            for hour, rows in kept.filter(hour__in=read.replaces).values_list("hour", "rows"):
                _add(plan, kind, merged, hour, rows, sign=-1)
        elif usable:
            for hour, rows in kept.exclude(hour__in=read.replaces).values_list("hour", "rows"):
                _add(plan, kind, merged, hour, rows)
    fresh = _read_spans(metric, parsed, ids, starting_at, ending_before, only, read)
    for hour, rows in fresh.items():
        _add(plan, kind, merged, hour, rows)
    grouped = bool(parsed.tree.args.get("group"))
    if plan is not None:
        rows = parts_rows(plan, merged, grouped)
    else:
        if not merged and not grouped:
            # An aggregate without GROUP BY answers one row even over no events: COUNT 0, else
            # NULL.
            merged[()] = Decimal(0) if kind is exp.Count else None
        rows = [[*key, amount] for key, amount in merged.items()]
    _keep(
        metric,
        scope,
        basis=result,
        read=read,
        counts=counts,
        fresh=fresh,
        values={
            "fingerprint": fingerprint,
            "rows": _encoded(rows),
            "parts": parts_encoded(merged) if plan is not None else None,
        },
        whole=not usable,
    )
    return rows


def _current(result, fingerprint: str) -> bool:
    return (
        result is not None and isinstance(result.rows, list) and result.fingerprint == fingerprint
    )


def _add(plan, kind, merged: dict, hour: datetime, rows, sign: int = 1) -> None:
    if plan is not None:
        parts_add(plan, merged, hour, rows, sign)
    else:
        _merge(kind, merged, rows, sign)


def _read_spans(metric, parsed, ids, starting_at, ending_before, only, read: ReadPlan) -> dict:
    """{first hour of a span: its rows}: the plan's spans read in one statement."""
    if not read.spans:
        return {}
    ranges = list(read.ranges) if read.ranges is not None else None
    found = _read_hours(
        metric, parsed, ids, starting_at, ending_before, only, ranges, read.hours_from
    )
    return {read.span_of(bucket).hour: rows for bucket, rows in found.items()}


def _keep(metric, scope, *, basis, read: ReadPlan, counts, fresh, values, whole: bool) -> None:
    """Keep the read spans (those with events counted or rows) in place of the ones they
    replace (every kept span when the window was read `whole`) and the window's result, in one
    transaction, unless another read kept this window since `basis` (the result this read
    started from; None: there was none): the state it left is as current as this one."""
    spans = []
    for span in read.spans:
        count = sum(counts.get(hour, 0) for hour in span.each_hour())
        if count or span.hour in fresh:
            spans.append(
                SqlMetricHour(
                    metric_id=metric.pk,
                    scope=scope,
                    hour=span.hour,
                    hours=span.hours,
                    event_count=count,
                    rows=fresh.get(span.hour, []),
                )
            )
    kept = SqlMetricHour.objects.filter(metric_id=metric.pk, scope=scope)
    try:
        with transaction.atomic():
            if basis is None:
                SqlMetricResult.objects.create(metric_id=metric.pk, scope=scope, **values)
                kept.delete()  # left by a result deleted alone
            else:
                locked = (
                    SqlMetricResult.objects.select_for_update()
                    .filter(pk=basis.pk)
                    .values_list("fingerprint", flat=True)
                    .first()
                )
                if locked != basis.fingerprint:
                    return
                (kept if whole else kept.filter(hour__in=read.replaces)).delete()
                for name, value in values.items():
                    setattr(basis, name, value)
                basis.save(update_fields=[*values, "computed_at"])
            SqlMetricHour.objects.bulk_create(spans)
    except IntegrityError:
        return  # another read made this window's result first


def _encoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else str(row[-1])] for row in rows]


def _decoded(rows) -> list:
    return [[*row[:-1], None if row[-1] is None else Decimal(row[-1])] for row in rows]
