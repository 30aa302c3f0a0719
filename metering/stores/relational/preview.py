"""A draft preview on the relational store (`RelationalStore.preview`): the stored usage of some
customer ids, minus some windows, plus the preview's own events, seen by one connection only, and
no lock taken that a real ingest would wait on.

PostgreSQL: the preview writes nothing into the shared tables. Inside a savepoint it makes, for
each event-store table, a temporary table of its own (`pg_temp.preview_<table>`, empty) and a
temporary view named like the table that reads the stored rows (minus the forgotten windows)
together with the preview's own. A connection resolves an unqualified name to its temporary
objects first, so inside the savepoint every read (selectors, the tier rules of `rows.py`, SQL
metrics, the ORM) reads the view without knowing it, and nothing changes for other connections.
The preview's events go through the very ingest statement (`sql.py`) pointed at its own tables, its
dedup ledger first given the stored ledger rows of the batch's ids (so an id already accepted
counts once); the forgotten months' day and month rows are rebuilt into its own tier table from
the hourly rows left. Rolling the savepoint back drops all of it (a connection that dies drops
its temporary objects too). What it takes: ACCESS SHARE on the tables (what any read takes;
only schema changes wait for it) and the shared side of an advisory lock that keeps the fold
from moving the tier's watermark meanwhile (`rollups.PREVIEW_LOCK`: the preview's own rows and
its rebuilt months are exact for the watermark it started with); an ingest takes neither.

SQLite has one writer at a time and every transaction begins IMMEDIATE (the settings), so a
preview holds the write lock whatever it does: there it stays a savepoint that deletes the
forgotten usage and ingests into the real tables, rolled back at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import count

from django.db import connection, transaction

from ...models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    MetricRollup,
    RollupWatermark,
    UnfoldedDay,
    UsageEvent,
    UsageMark,
)
from ..tiers import period_ceiling, period_start, ranges_sql
from .ingest import batch_store
from .rollups import PREVIEW_LOCK, rollups_insert_postgresql
from .sqlite import _q

Window = tuple[datetime, datetime]
OWN_PREFIX = "preview_"


class _Discard(Exception):
    """Rolls a preview's savepoint back."""


def own_table(model) -> str:
    """The preview's own table for `model`'s (temporary: in this connection only)."""
    return "pg_temp." + connection.ops.quote_name(OWN_PREFIX + model._meta.db_table)


# The tables the ingest statement writes (its placeholders), pointed at the preview's own.
_INGEST_TARGETS = {
    "ledger": IngestedTransaction,
    "event": UsageEvent,
    "duplicate": DuplicateEvent,
    "aggregate": MetricAggregate,
    "unfolded": UnfoldedDay,
    "distinct": MetricDistinctValue,
    "mark": UsageMark,
}
# The keys of the own tables whose rows the ingest statement upserts or must not repeat (its ON
# CONFLICT targets); the others need no index (a preview's own rows are few).
_KEYS = {
    IngestedTransaction: "transaction_id",
    MetricAggregate: "metric_id, customer_id, hour, group_values",
    UnfoldedDay: "metric_id, customer_id, day",
    UsageMark: "customer_id",
}


def real_table(schema: str, model) -> str:
    """The stored table itself, past the preview's view of the same name."""
    return f"{schema}.{connection.ops.quote_name(model._meta.db_table)}"


@contextlib.contextmanager
def preview_scope(customer_ids: Sequence[str], forget: Sequence[Window]) -> Iterator[str]:
    """PostgreSQL: the views and own tables above for the block, which is given the schema of
    the stored tables (for `preview_append`)."""
    ids = list(customer_ids)
    months = _merged([(period_start("month", s), period_ceiling("month", e)) for s, e in forget])
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT relnamespace::regnamespace::text, "
                    "pg_advisory_xact_lock_shared(%s, %s) FROM pg_class WHERE oid = %s::regclass",
                    [*PREVIEW_LOCK, connection.ops.quote_name(UsageEvent._meta.db_table)],
                )
                schema = connection.ops.quote_name(cursor.fetchone()[0])
                cursor.execute(*_shadows(schema, ids, forget, months))
            if months:
                _months_rebuild(ids, months)
            yield schema
            raise _Discard
    except _Discard:
        pass


def preview_append(events, *, now, is_late, admit, schema: str):
    """Dedup and append into the preview's own tables, with the ingest statement itself."""
    with connection.cursor() as cursor:
        # The stored ledger rows of the batch's ids (a plain read: no lock), so that the
        # statement's dedup finds them among its own.
        cursor.execute(
            f"INSERT INTO {own_table(IngestedTransaction)} SELECT * FROM "
            f"{real_table(schema, IngestedTransaction)} WHERE transaction_id = ANY(%s) "
            f"ON CONFLICT DO NOTHING",
            [sorted({event.transaction_id for event in events})],
        )
    tables = {name: own_table(model) for name, model in _INGEST_TARGETS.items()}
    result = batch_store(events, now=now, is_late=is_late, admit=admit, tables=tables)
    # A what-if wakes no alert.
    result.woke = False
    return result


def _shadows(schema: str, ids: list[str], forget: Sequence[Window], months) -> tuple[str, list]:
    """The statements (one round trip) making the own tables and the views, and their
    parameters (bound client-side: a view's text holds its values)."""
    params: list = []

    def bound(value) -> str:
        params.append(value)
        return "%s"

    def stored(model, column: str = "", windows=()) -> str:
        """The stored rows a view shows: all, or those outside the forgotten `windows`."""
        where = ""
        if windows:
            where = (
                f" WHERE NOT (customer_id = ANY({bound(ids)}) AND "
                f"({ranges_sql(column, windows, bound)}))"
            )
        return f"SELECT * FROM {real_table(schema, model)}{where}"

    def once(model, key: str) -> str:
        """The rows of `model` by `key`, one per key, the own ones where both have it (a row of
        each would be read twice: a day's mark, a transaction id)."""
        same = " AND ".join(f"o.{column} = r.{column}" for column in key.split(", "))
        return (
            f"SELECT * FROM {own_table(model)} UNION ALL SELECT * FROM "
            f"{real_table(schema, model)} AS r WHERE NOT EXISTS "
            f"(SELECT 1 FROM {own_table(model)} AS o WHERE {same})"
        )

    def both(model, rows: str) -> str:
        return f"{rows} UNION ALL SELECT * FROM {own_table(model)}"

    hours = [(start.replace(minute=0, second=0, microsecond=0), end) for start, end in forget]
    views = {
        UsageEvent: both(UsageEvent, stored(UsageEvent, '"timestamp"', forget)),
        # The own ledger holds the stored rows of the preview's ids too (`preview_append`).
        IngestedTransaction: once(IngestedTransaction, _KEYS[IngestedTransaction]),
        DuplicateEvent: both(DuplicateEvent, stored(DuplicateEvent)),
        MetricAggregate: both(MetricAggregate, stored(MetricAggregate, "hour", hours)),
        MetricDistinctValue: both(MetricDistinctValue, stored(MetricDistinctValue, "hour", hours)),
        UnfoldedDay: once(UnfoldedDay, _KEYS[UnfoldedDay]),
    }
    if months:
        views[MetricRollup] = both(MetricRollup, stored(MetricRollup, "period_start", months))
    statements = [
        f"CREATE TEMP TABLE {own_table(model)} (LIKE {real_table(schema, model)}"
        + (f", PRIMARY KEY ({_KEYS[model]}))" if model in _KEYS else ")")
        for model in dict.fromkeys([*_INGEST_TARGETS.values(), *views])
    ]
    statements += [
        f"CREATE TEMP VIEW {connection.ops.quote_name(model._meta.db_table)} AS {rows}"
        for model, rows in views.items()
    ]
    return "; ".join(statements), params


def _months_rebuild(ids: list[str], months: list[Window]) -> None:
    """The forgotten months' day and month rows, into the preview's own tier table, from the
    hourly rows before the watermark left (read through the view: without the forgotten hours),
    as `rollups.rollups_rebuild` makes them."""
    params: dict = {"ids": ids}
    names = count()

    def bound(value) -> str:
        key = f"m{next(names)}"
        params[key] = value
        return f"%({key})s"

    rollups_insert_postgresql(
        f"customer_id = ANY(%(ids)s) AND ({ranges_sql('hour', months, bound)}) "
        f"AND hour < (SELECT folded_before FROM {_q(RollupWatermark)})",
        params,
        into=own_table(MetricRollup),
    )


def _merged(ranges: list[Window]) -> list[Window]:
    """The union of [start, end) ranges, as disjoint ranges in order."""
    merged: list[Window] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
