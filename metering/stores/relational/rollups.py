"""The relational store's day and month tier (`MetricRollup`, see `metering.stores.tiers`): per
metric, customer id and group values, the hourly pre-aggregates added up over each whole UTC day and
calendar month, for the hours before the tier's watermark (`RollupWatermark.folded_before`).

Kept off the ingest hot path: the ingest statement upserts hourly rows only, whatever the events'
age. For an event older than the watermark (late, or a backfill or catch-up sender) it also marks
the (metric, customer id, UTC day) unfolded (`UnfoldedDay`, `ON CONFLICT DO NOTHING`: a day's
marker is written once, unlike a busy customer's month row, which every batch would update; `sql.py`,
on SQLite `sqlite.aggregates_merge_sqlite`). A schedule folds the closed hours into the tier and
moves the watermark, and recomputes the marked days' day rows and their months' rows from the
hourly rows, then deletes the marks (`rollups_fold`). A read adds the tier's rows for what a window
covers whole and the hourly rows from the watermark on, and for a marked day its hourly rows
instead of its day row and, for a marked month, the month's unmarked day rows instead of its month
row (`rows.py`); so the answer is exact whenever the fold last ran, for every aggregation (the
marked periods are replaced by their parts, never corrected by a difference), and a draft read
right after an ingest includes it. The tier is rebuilt from the hourly rows wherever those are
rebuilt rather than ingested (`rollups_rebuild`: a metric's backfill, a draft preview on SQLite;
a PostgreSQL preview rebuilds its forgotten months into a table of its own, `preview.py`; marks it
leaves are harmless: a marked day is read from its hours, and recomputed again by the fold).

Why a fold and an ingest never miss or double count each other (PostgreSQL): the ingest statement
names the marker table (its `unfolded` CTE), so it holds a ROW EXCLUSIVE lock on it from before its
snapshot to its commit; the fold takes SHARE ROW EXCLUSIVE on it and on the tier table first, which
waits for every in-flight ingest and holds new ones back until the fold commits. So an ingest
statement either committed before the fold read the hourly rows and the marks (and is folded, or
recomputed with its marked day), or sees the new watermark (and marks its day if its hours are
before it). A read is one statement, so it sees the tier, the marks and the watermark of the same
commit. On SQLite there is one writer at a time anyway and a read runs in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Min

from ...models import MetricAggregate, MetricRollup, RollupWatermark, UnfoldedDay
from ..partials import Partial
from ..tiers import GRAINS, period_after, period_ceiling, period_start
from .rows import NUMBER_COLUMNS
from .sql import MERGE_SQL
from .sqlite import _q, folded_before, rollup_rows_write_sqlite

# The hours a fold leaves to the hourly rows: the current one and the one before it (events of an
# hour that has just ended still arrive; folded, they would take the late path).
FOLD_LAG = timedelta(hours=1)
# The most a fold adds up in one transaction (ingestion waits for each).
FOLD_CHUNK = timedelta(days=1)
# The most marked days a fold recomputes in one transaction (ingestion waits for each), and the
# most transactions one run takes (a backfill sender marking days faster than a run takes them up
# leaves the rest to the next run rather than keep it going).
MARK_CHUNK = 2000
MAX_PASSES = 1000
# How long a fold waits for the tier table's lock (PostgreSQL): while it waits, ingest statements
# queue behind it.
LOCK_WAIT = "2s"
# The advisory lock (PostgreSQL, two-int key space: "ROLL", 1) a draft preview holds shared while
# it lasts (`preview.py`): its own rows and rebuilt months are exact for the watermark it started
# with, so a fold that finds it held moves nothing and stops (the next run goes on). Ingestion
# never takes it.
PREVIEW_LOCK = (0x524F4C4C, 1)


class _PreviewInProgress(Exception):
    """A draft preview holds the watermark where it is (`PREVIEW_LOCK`)."""


def rollups_fold(*, now: datetime, lag: timedelta = FOLD_LAG) -> datetime | None:
    """Fold the hours from the watermark up to the start of the hour `lag` before `now` into the
    day and month rows (added to what they hold) and move the watermark there, a day at a time;
    returns the watermark. First it takes up the days marked unfolded (`_unfolded_days_fold`).
    Idempotent: a fold that finds the watermark there and no mark does nothing. If the
    tier table stays locked by another transaction (a backfill rebuilding it) for `LOCK_WAIT`, it
    stops where it is (the next run goes on) rather than hold ingestion back behind its queued
    lock."""
    target = (now - lag).replace(minute=0, second=0, microsecond=0)
    for _ in range(MAX_PASSES):
        try:
            reached, marks_left = _fold_chunk(target)
        except _PreviewInProgress:
            return folded_before()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            return folded_before()
        if reached >= target and not marks_left:
            break
    return reached


def _fold_chunk(target: datetime) -> tuple[datetime, bool]:
    """Recompute at most `MARK_CHUNK` of the days marked unfolded, then fold at most
    `FOLD_CHUNK` of hours towards `target`, in one transaction; returns the watermark it leaves
    and whether marks are left."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                cursor.execute(
                    f"LOCK TABLE {_q(MetricRollup)}, {_q(UnfoldedDay)} IN SHARE ROW EXCLUSIVE MODE"
                )
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", PREVIEW_LOCK)
                if not cursor.fetchone()[0]:
                    raise _PreviewInProgress
        start = folded_before()
        if start is None:
            # No watermark (a flushed database): the tier holds nothing, i.e. every hour from
            # the first stored one on is still to fold.
            first = MetricAggregate.objects.aggregate(first=Min("hour"))["first"]
            start = target if first is None else min(first, target)
            RollupWatermark.objects.create(pk=1, folded_before=start)
        marks_left = _unfolded_days_fold(start)
        if start >= target:
            return start, marks_left
        end = min(target, start + FOLD_CHUNK)
        if connection.vendor == "postgresql":
            rollups_insert_postgresql(
                "hour >= %(start)s AND hour < %(end)s", {"start": start, "end": end}, merge=True
            )
        else:
            _insert_sqlite(
                MetricAggregate.objects.filter(hour__gte=start, hour__lt=end), merge=True
            )
        RollupWatermark.objects.filter(pk=1).update(folded_before=end)
        return end, marks_left


def _unfolded_days_fold(watermark: datetime) -> bool:
    """Make the tier hold what the days marked unfolded (`UnfoldedDay`: events older than the
    watermark were ingested into them) hold now, `MARK_CHUNK` marks at most (in key order): their
    day rows and their months' rows recomputed from the hourly rows before the watermark, then
    their marks deleted; returns whether marks are left. Runs under the fold's lock: no mark or
    hourly row is written meanwhile. A month with marks left over for the next chunk is
    recomputed from day rows not all exact yet, but reads skip it while it has a mark, and the
    chunk that takes its last mark recomputes it again."""
    if not UnfoldedDay.objects.exists():
        return False
    if connection.vendor != "postgresql":
        _unfolded_days_fold_sqlite(watermark)
        return False
    rollup, marks = _q(MetricRollup), _q(UnfoldedDay)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT metric_id, customer_id, day FROM {marks} ORDER BY 1, 2, 3 OFFSET %s LIMIT 1",
            [MARK_CHUNK],
        )
        bound = cursor.fetchone()
    chosen = "TRUE"
    params: dict = {"watermark": watermark}
    if bound is not None:
        chosen = "(metric_id, customer_id, day) < (%(m)s, %(c)s, %(d)s)"
        params.update(m=bound[0], c=bound[1], d=bound[2])
    marks_chosen = f"(SELECT * FROM {marks} WHERE {chosen})"
    months = f"(SELECT DISTINCT metric_id, customer_id, month FROM {marks} WHERE {chosen})"
    same = "r.metric_id = u.metric_id AND r.customer_id = u.customer_id"
    columns = (
        f"INSERT INTO {rollup} (metric_id, customer_id, grain, period_start, group_values, "
        f"event_count, value_sum, value_max, latest_value, latest_timestamp, "
        f"latest_transaction_id) "
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {rollup} AS r USING {marks_chosen} AS u "
            f"WHERE {same} AND r.grain = 'day' AND r.period_start = u.day",
            params,
        )
        cursor.execute(
            f"DELETE FROM {rollup} AS r USING {months} AS u "
            f"WHERE {same} AND r.grain = 'month' AND r.period_start = u.month",
            params,
        )
        # A day is 24 hours in UTC; the hour index (metric, customer id, hour, ...) finds them.
        cursor.execute(
            f"{columns}SELECT r.metric_id, r.customer_id, 'day', u.day, r.group_values, "
            f"{_ROLLED_UP} FROM {marks_chosen} AS u JOIN {_q(MetricAggregate)} AS r ON {same} "
            f"AND r.hour >= u.day AND r.hour < u.day + interval '24 hours' "
            f"AND r.hour < %(watermark)s GROUP BY 1, 2, 4, 5",
            params,
        )
        cursor.execute(
            f"{columns}SELECT r.metric_id, r.customer_id, 'month', u.month, r.group_values, "
            f"{_ROLLED_UP} FROM {months} AS u JOIN {rollup} AS r ON {same} "
            f"AND r.grain = 'day' AND r.period_start >= u.month "
            f"AND r.period_start < u.month + interval '31 days' "
            f"AND date_trunc('month', r.period_start, 'UTC') = u.month GROUP BY 1, 2, 4, 5",
            params,
        )
        cursor.execute(f"DELETE FROM {marks} WHERE {chosen}", params)
    return bound is not None


def _unfolded_days_fold_sqlite(watermark: datetime) -> None:
    """SQLite (one writer at a time): each marked month's day and month rows rebuilt from its
    hourly rows before the watermark."""
    months = set(UnfoldedDay.objects.values_list("metric_id", "customer_id", "month"))
    for metric_id, customer_id, month in sorted(months):
        scope = {"metric_id": metric_id, "customer_id": customer_id}
        end = period_after("month", month)
        MetricRollup.objects.filter(period_start__gte=month, period_start__lt=end, **scope).delete()
        _insert_sqlite(
            MetricAggregate.objects.filter(hour__gte=month, hour__lt=min(end, watermark), **scope),
            merge=False,
        )
    UnfoldedDay.objects.all().delete()


def rollups_rebuild(
    *,
    starting_at: datetime | None = None,
    ending_before: datetime | None = None,
    metric_id=None,
    customer_ids: Sequence[str] | None = None,
) -> None:
    """Recompute the rollup rows of every calendar month overlapping [starting_at, ending_before)
    (every month without a range), for one metric or all, some customer ids or all, from the
    hourly rows before the watermark. Run it inside the transaction that changed those hourly
    rows other than by ingesting (ingestion and the fold keep the tier in step themselves)."""
    rollups, hourly = MetricRollup.objects.all(), MetricAggregate.objects.all()
    conditions, params = [f"hour < (SELECT folded_before FROM {_q(RollupWatermark)})"], {}
    if metric_id is not None:
        rollups, hourly = rollups.filter(metric_id=metric_id), hourly.filter(metric_id=metric_id)
        conditions.append("metric_id = %(metric)s")
        params["metric"] = metric_id
    if customer_ids is not None:
        ids = list(customer_ids)
        rollups, hourly = rollups.filter(customer_id__in=ids), hourly.filter(customer_id__in=ids)
        conditions.append("customer_id = ANY(%(ids)s)")
        params["ids"] = ids
    if starting_at is not None:
        start = params["start"] = period_start("month", starting_at)
        end = params["end"] = period_ceiling("month", ending_before)
        rollups = rollups.filter(period_start__gte=start, period_start__lt=end)
        hourly = hourly.filter(hour__gte=start, hour__lt=end)
        conditions.append("hour >= %(start)s AND hour < %(end)s")
    # The DELETE takes the tier table's lock first: a fold cannot move the watermark meanwhile.
    rollups.delete()
    if connection.vendor == "postgresql":
        rollups_insert_postgresql(" AND ".join(conditions), params)
    else:
        watermark = folded_before()
        if watermark is not None:
            _insert_sqlite(hourly.filter(hour__lt=watermark), merge=False)


# The numbers of several pre-aggregate rows added up into one (PostgreSQL, exact `numeric`).
_LATEST = "ORDER BY latest_timestamp DESC NULLS LAST, latest_transaction_id DESC"
_ROLLED_UP = (
    f"SUM(event_count), SUM(value_sum), MAX(value_max), (ARRAY_AGG(latest_value {_LATEST}))[1], "
    f"MAX(latest_timestamp), (ARRAY_AGG(latest_transaction_id {_LATEST}))[1]"
)


def rollups_insert_postgresql(
    where: str, params: dict, *, merge: bool = False, into: str | None = None
) -> None:
    """One INSERT ... SELECT of the day and month rows of the hourly rows `where` says into the
    tier (or the table `into`: a preview's own): the database adds the numbers exactly
    (`numeric`); with `merge` added to the rows already there."""
    conflict = (
        " ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (metric_id, customer_id, grain, period_start, "
        f"group_values) DO UPDATE SET {MERGE_SQL}"
        if merge
        else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {into or _q(MetricRollup)} AS a "
            f"(metric_id, customer_id, grain, period_start, group_values, event_count, value_sum, "
            f"value_max, latest_value, latest_timestamp, latest_transaction_id) "
            f"SELECT metric_id, customer_id, g, date_trunc(g, hour, 'UTC'), group_values, "
            f"{_ROLLED_UP} "
            f"FROM {_q(MetricAggregate)}, (VALUES ('day'), ('month')) AS v(g) "
            f"WHERE {where} GROUP BY 1, 2, 3, 4, 5{conflict}",
            params,
        )


def _insert_sqlite(hourly, *, merge: bool) -> None:
    """SQLite has no exact decimal arithmetic: the hourly rows are merged in Python."""
    partials: dict[tuple, Partial] = {}
    rows = hourly.values_list("metric_id", "customer_id", "hour", "group_values", *NUMBER_COLUMNS)
    for metric_id, customer_id, hour, group, *numbers in rows.iterator(chunk_size=5000):
        hourly_partial = Partial(*numbers)
        for grain in GRAINS:
            key = (metric_id.hex, customer_id, grain, period_start(grain, hour), group)
            partial = partials.get(key)
            if partial is None:
                partials[key] = Partial(*numbers)
            else:
                partial.merge(hourly_partial)
    if partials:
        with connection.cursor() as cursor:
            rollup_rows_write_sqlite(cursor, partials, merge_existing=merge)
