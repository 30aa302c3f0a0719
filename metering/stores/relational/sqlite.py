"""The relational store's ingest path on SQLite (the development and test database): the same steps
as PostgreSQL's one statement (`ingest.py`), as a few statements inside one IMMEDIATE transaction
(SQLite has one writer at a time, so the metric-definitions signature is checked inside it).
SQLite cannot add decimals exactly, so the affected pre-aggregate rows are read, merged in Python
with `Decimal` and written back (`aggregates_merge_sqlite`, also the backfill's and the tier's
writer).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction

from ...definitions import definitions_cached, definitions_load, definitions_signature
from ...models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    MetricRollup,
    RollupWatermark,
    UnfoldedDay,
    UsageEvent,
)
from ...validation import MAX_AGE
from ..marks import usage_marks_add
from ..partials import Partial, contributions
from ..tiers import period_start


def _q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def folded_before() -> datetime | None:
    """The tier's watermark (`RollupWatermark`): its rows hold the hours before it. None when
    there is no watermark (a flushed database): the tier holds nothing."""
    return RollupWatermark.objects.values_list("folded_before", flat=True).first()


def store_sqlite(events, firsts, late, now, admit=None) -> tuple[set[str], bool] | None:
    """None: `admit` said no inside the write transaction (nothing written)."""
    stamp = _sqlite_text
    received = stamp(now)
    with transaction.atomic(), connection.cursor() as cursor:
        if admit is not None and not admit():
            return None
        definitions = definitions_cached()
        if definitions.signature != definitions_signature():
            definitions = definitions_load()
        firsts_ids = [e.transaction_id for i, e in enumerate(events) if firsts[i]]
        values = ", ".join(["(%s, %s)"] * len(firsts_ids))
        params: list = []
        for transaction_id in firsts_ids:
            params += [transaction_id, received]
        params.append(stamp(now - MAX_AGE))
        ledger = _q(IngestedTransaction)
        cursor.execute(
            f"INSERT INTO {ledger} (transaction_id, received_at) VALUES {values} "
            f"ON CONFLICT (transaction_id) DO UPDATE SET received_at = excluded.received_at "
            f"WHERE {ledger}.received_at < %s RETURNING transaction_id",
            params,
        )
        new_ids = {row[0] for row in cursor.fetchall()}
        kept = [firsts[i] and e.transaction_id in new_ids for i, e in enumerate(events)]
        stored = [
            (
                uuid.uuid4().hex,
                e.transaction_id,
                e.customer_id,
                e.event_type,
                stamp(e.timestamp),
                e.properties_json,
                received,
                late[i],
            )
            for i, e in enumerate(events)
            if kept[i]
        ]
        if stored:
            cursor.executemany(
                f"INSERT INTO {_q(UsageEvent)} (id, transaction_id, customer_id, event_type, "
                f'"timestamp", properties, received_at, is_late) '
                f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                stored,
            )
        dropped = [
            (
                uuid.uuid4().hex,
                e.transaction_id,
                e.customer_id,
                e.event_type,
                stamp(e.timestamp),
                e.properties_json,
                received,
            )
            for i, e in enumerate(events)
            if not kept[i]
        ]
        if dropped:
            cursor.executemany(
                f"INSERT INTO {_q(DuplicateEvent)} (id, transaction_id, customer_id, event_type, "
                f'"timestamp", properties, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s)',
                dropped,
            )
        woke = usage_marks_add(
            cursor, {e.customer_id for i, e in enumerate(events) if kept[i]}, received
        )
        found = contributions(events, kept, definitions)
        if found:
            aggregates_merge_sqlite(
                cursor,
                [
                    (
                        row[1].id,
                        events[row[0]].customer_id,
                        row[2],
                        row[3],
                        row[4],
                        row[5],
                        events[row[0]].timestamp,
                        events[row[0]].transaction_id,
                    )
                    for row in found
                ],
                rollups_before=folded_before(),
            )
    return new_ids, woke


def aggregates_merge_sqlite(cursor, rows, *, rollups_before: datetime | None = None) -> None:
    """Add contributions to the pre-aggregates with Decimal arithmetic in Python (SQLite only):
    the hourly rows, and for the hours before `rollups_before` (the tier's watermark: late or
    backfilled events) a mark on their days (`UnfoldedDay`), which reads and the next fold take
    up (`rollups.py`; a backfill rebuilds the day and month rows from the hours instead).

    rows: (metric_id, customer_id, hour, group_values, value, distinct, timestamp, transaction_id).
    Must run inside the write transaction.
    """
    stamp = _sqlite_text
    metric_hex: dict = {}
    partials: dict[tuple, Partial] = {}
    unfolded: set[tuple] = set()
    distinct: set[tuple] = set()
    for metric_id, customer_id, hour, group, value, distinct_value, timestamp, tx in rows:
        db_metric = metric_hex.get(metric_id)
        if db_metric is None:
            db_metric = metric_hex[metric_id] = uuid.UUID(str(metric_id)).hex
        key = (db_metric, customer_id, stamp(hour), group)
        partial = partials.get(key)
        if partial is None:
            partial = partials[key] = Partial()
        partial.add(value, timestamp, tx)
        if rollups_before is not None and hour < rollups_before:
            day = period_start("day", hour)
            unfolded.add((db_metric, customer_id, stamp(day), stamp(period_start("month", day))))
        if distinct_value is not None:
            distinct.add((*key, distinct_value))
    _partials_write(
        cursor,
        MetricAggregate,
        ("metric_id", "customer_id", "hour", "group_values"),
        partials,
        merge_existing=True,
    )
    if unfolded:
        cursor.executemany(
            f"INSERT INTO {_q(UnfoldedDay)} (metric_id, customer_id, day, month) "
            f"VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            sorted(unfolded),
        )
    if distinct:
        cursor.executemany(
            f"INSERT INTO {_q(MetricDistinctValue)} (metric_id, customer_id, hour, group_values, "
            f"value) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            sorted(distinct),
        )


def rollup_rows_write_sqlite(cursor, partials: dict[tuple, Partial], *, merge_existing) -> None:
    """Write {(metric hex, customer id, grain, period start, group values): Partial} to the
    rollup tier, added to the rows already there with `merge_existing`."""
    keys = ("metric_id", "customer_id", "grain", "period_start", "group_values")
    stamped = {
        (m, c, g, _sqlite_text(p), v): partial for (m, c, g, p, v), partial in partials.items()
    }
    _partials_write(cursor, MetricRollup, keys, stamped, merge_existing=merge_existing)


_NUMBERS = (
    "event_count, value_sum, value_max, latest_value, latest_timestamp, latest_transaction_id"
)


def _partials_write(cursor, model, key_columns, partials, *, merge_existing: bool) -> None:
    """Upsert {key: Partial} into a pre-aggregate table on SQLite (the key's timestamp as naive
    UTC text, in the position of the key's one datetime column), merged in Python with the rows
    already there when `merge_existing`."""
    table = _q(model)
    keys = sorted(partials)
    moment_at = next(i for i, c in enumerate(key_columns) if c in ("hour", "period_start"))
    columns = ", ".join(key_columns)
    matches = " AND ".join(f"a.{c} = k.c{i}" for i, c in enumerate(key_columns))
    placeholders = "(" + ", ".join(["%s"] * len(key_columns)) + ")"
    existing: dict[tuple, Partial] = {}
    for start in range(0, len(keys) if merge_existing else 0, 200):
        chunk = keys[start : start + 200]
        # `FROM keys CROSS JOIN table` makes SQLite loop over the keys and probe the primary key
        # (a row-value IN (VALUES ...) would scan the whole table).
        names = ", ".join(f"c{i}" for i in range(len(key_columns)))
        cursor.execute(
            f"WITH k({names}) AS (VALUES "
            + ", ".join([placeholders] * len(chunk))
            + f") SELECT {', '.join('a.' + c for c in key_columns)}, "
            f"{', '.join('a.' + c for c in _NUMBERS.split(', '))} "
            f"FROM k CROSS JOIN {table} AS a ON {matches}",
            [part for key in chunk for part in key],
        )
        width = len(key_columns)
        for row in cursor.fetchall():
            key = list(row[:width])
            # The backend hands `datetime` columns back as naive UTC datetimes.
            key[moment_at] = _sqlite_text(_sqlite_datetime(key[moment_at]))
            existing[tuple(key)] = Partial(
                count=row[width],
                total=_dec(row[width + 1]),
                maximum=_dec(row[width + 2]),
                latest_value=_dec(row[width + 3]),
                latest_timestamp=_sqlite_datetime(row[width + 4]),
                latest_transaction_id=row[width + 5],
            )
    writes = []
    for key in keys:
        partial = existing.get(key)
        if partial is None:
            partial = partials[key]
        else:
            partial.merge(partials[key])
        writes.append(
            (
                *key,
                partial.count,
                _text(partial.total),
                _text(partial.maximum),
                _text(partial.latest_value),
                _sqlite_text(partial.latest_timestamp) if partial.latest_timestamp else None,
                partial.latest_transaction_id,
            )
        )
    updates = ", ".join(f"{c} = excluded.{c}" for c in _NUMBERS.split(", "))
    cursor.executemany(
        f"INSERT INTO {table} ({columns}, {_NUMBERS}) "
        f"VALUES ({', '.join(['%s'] * (len(key_columns) + 6))}) "
        f"ON CONFLICT ({columns}) DO UPDATE SET {updates}",
        writes,
    )


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sqlite_text(moment: datetime) -> str:
    """A datetime as Django stores it on SQLite: naive UTC text (what
    `adapt_datetimefield_value` makes, without its per-call overhead)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ")


def _sqlite_datetime(value) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
