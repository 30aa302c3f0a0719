"""The relational store's ingest hot path, after validation (`metering.validation`): store a batch
in one round trip.

Storage (`batch_store`) keeps only events whose `transaction_id` is new in the dedup ledger, and in
the same transaction inserts them and upserts the pre-aggregates of every metric they match:
- PostgreSQL: ONE prepared statement (`metering/stores/relational/sql.py`), its batch passed as two JSON
  documents, run in autocommit (a statement is atomic on its own). Data-modifying
  CTEs insert the dedup rows with `ON CONFLICT ... DO UPDATE ... WHERE expired RETURNING`, join the
  events and their per-metric contributions (computed in Python) to what was returned, insert the
  events, log the duplicates, and upsert `MetricAggregate` (`sum = sum + excluded.sum`,
  `GREATEST`, latest by (timestamp, transaction id)), its day and month rows (`MetricRollup`,
  the same merge) and `MetricDistinctValue`. Rows are grouped
  and sorted by key so that concurrent batches lock in the same order; a deadlock is retried.
  The statement also compares the metric-definitions signature it was computed with and writes
  nothing if a metric was created since (the batch is then recomputed and sent again): this is
  what keeps a metric backfill and concurrent ingestion from missing or double counting events
  (see `metering.backfill`). The late-event rule runs inside it too when the hook has an
  in-statement form (invoicing's does: `positions_sql`), so a batch is one round trip.
- SQLite: the same steps as a few statements inside one IMMEDIATE transaction (SQLite has one
  writer at a time, so the signature is checked inside it). SQLite cannot add decimals exactly, so
  the affected aggregate rows are read, merged in Python with `Decimal` and written back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
from django.db import OperationalError, connection, transaction

from core.db import hot_cursor

from ...definitions import (
    definitions_cached,
    definitions_load,
    definitions_signature,
)
from ...models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    MetricRollup,
    UsageEvent,
    UsageMark,
)
from ...validation import MAX_AGE, Event
from ..base import LateCheck, StoreResult, firsts_in_batch, late_flags, late_sql_of
from ..marks import usage_marks_add
from ..partials import Partial, contributions
from ..tiers import GRAINS, period_start
from .sql import INGEST_SQL, LATE_FROM_FLAGS


def batch_store(
    events: Sequence[Event],
    *,
    now: datetime,
    is_late: LateCheck | None = None,
) -> StoreResult:
    """Store a validated batch: dedup, insert, pre-aggregate, all in one transaction."""
    firsts = firsts_in_batch(events)
    if connection.vendor == "postgresql":
        late_sql = late_sql_of(is_late)
        late = [False] * len(events) if late_sql else late_flags(events, is_late)
        new_ids, woke = _store_postgresql(events, firsts, late, now, late_sql or LATE_FROM_FLAGS)
    else:
        new_ids, woke = _store_sqlite(events, firsts, late_flags(events, is_late), now)
    inserted = []
    duplicates = []
    for index, event in enumerate(events):
        if firsts[index] and event.transaction_id in new_ids:
            inserted.append(event)
        else:
            duplicates.append(event)
    return StoreResult(inserted=inserted, duplicates=duplicates, woke=woke)


def _q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_pg_sql_cache: dict[str, tuple[str, tuple[str, ...]]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def postgresql_statement(late_sql: str = LATE_FROM_FLAGS) -> str:
    """The ingest statement for PostgreSQL with this late-event SELECT (see `sql.py`), with
    `%(name)s` placeholders, its whitespace collapsed (no comment or string literal in it holds a
    line break or a run of spaces)."""
    from catalog.models import BillableMetric

    return " ".join(
        INGEST_SQL.format(
            metric=_q(BillableMetric),
            ledger=_q(IngestedTransaction),
            event=_q(UsageEvent),
            duplicate=_q(DuplicateEvent),
            aggregate=_q(MetricAggregate),
            rollup=_q(MetricRollup),
            distinct=_q(MetricDistinctValue),
            mark=_q(UsageMark),
            late=late_sql,
        ).split()
    )


def postgresql_native_statement(late_sql: str = LATE_FROM_FLAGS) -> tuple[str, tuple[str, ...]]:
    """The statement as the hot path sends it: PostgreSQL's own placeholders (`$1`, ...; a name
    used twice is one number) and the parameter names in their order, for a psycopg `RawCursor`,
    which sends it as is. (A `%(name)s` statement over 4,096 bytes is parsed again by psycopg, a
    regular expression over all of it, on every execute: about 40 µs a batch.) The benchmark's SQL
    ceiling runs the very same text."""
    found = _pg_sql_cache.get(late_sql)
    if found is None:
        names: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        text = _PLACEHOLDER.sub(number, postgresql_statement(late_sql)).replace("%%", "%")
        found = _pg_sql_cache[late_sql] = (text, tuple(names))
    return found


# msgspec writes JSON several times faster than `json.dumps`: datetimes as RFC 3339 (`...Z`),
# Decimals as JSON numbers digit for digit (`str(Decimal)`, as `Event.properties_json` writes them).
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _events_json(events, firsts, late) -> str:
    """The batch as one JSON document for `json_to_recordset` (`i` is the event's position)."""
    return _ENCODER.encode(
        [
            {
                "i": index,
                "t": e.transaction_id,
                "c": e.customer_id,
                "y": e.event_type,
                "s": e.timestamp,
                "p": e.properties,
                "l": late[index],
                "f": firsts[index],
            }
            for index, e in enumerate(events)
        ]
    ).decode()


def _contributions_json(events, rows) -> str:
    return _ENCODER.encode(
        [
            {
                "t": events[index].transaction_id,
                "m": metric.id_text,
                "h": hour,
                "g": group,
                "v": None if value is None else str(value),
                "d": distinct,
            }
            for index, metric, hour, group, value, distinct in rows
        ]
    ).decode()


def _is_retryable(exc: Exception) -> bool:
    """A deadlock or serialization failure: the statement had no effect and can run again."""
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")


def _store_postgresql(events, firsts, late, now, late_sql) -> tuple[set[str], bool]:
    """One prepared statement, server-side parameters, on Django's own connection (so it joins
    an enclosing transaction, e.g. in tests, and is its own transaction in autocommit)."""
    params = {
        "events": _events_json(events, firsts, late),
        "now": now,
        "expired_before": now - MAX_AGE,
    }
    statement, names = postgresql_native_statement(late_sql)
    definitions = definitions_cached()
    attempts = 0
    while True:
        params["metric_count"], params["metric_newest"] = definitions.signature
        params["contributions"] = _contributions_json(
            events, contributions(events, firsts, definitions)
        )
        try:
            with hot_cursor(native=True) as cursor:
                cursor.execute(statement, [params[name] for name in names], prepare=True)
                ok, new_ids, woke = cursor.fetchone()
        except OperationalError as exc:
            attempts += 1
            if attempts >= 5 or not _is_retryable(exc) or not connection.get_autocommit():
                raise
            continue
        if ok:
            return set(new_ids), bool(woke)
        # A metric was created or deleted since the cache was filled: nothing was written.
        attempts += 1
        if attempts >= 5:
            raise RuntimeError("Metric definitions kept changing during ingestion.")
        definitions = definitions_load()


def _store_sqlite(events, firsts, late, now) -> tuple[set[str], bool]:
    stamp = _sqlite_text
    received = stamp(now)
    with transaction.atomic(), connection.cursor() as cursor:
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
            )
    return new_ids, woke


def aggregates_merge_sqlite(cursor, rows, *, rollups: bool = True) -> None:
    """Add contributions to the pre-aggregates with Decimal arithmetic in Python (SQLite only):
    the hourly rows and, with `rollups`, the day and month rows (`rollups.py`; a backfill
    rebuilds those from the hours instead).

    rows: (metric_id, customer_id, hour, group_values, value, distinct, timestamp, transaction_id).
    Must run inside the write transaction.
    """
    stamp = _sqlite_text
    metric_hex: dict = {}
    partials: dict[tuple, Partial] = {}
    rolled: dict[tuple, Partial] = {}
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
        if rollups:
            for grain in GRAINS:
                period = (db_metric, customer_id, grain, period_start(grain, hour), group)
                partial = rolled.get(period)
                if partial is None:
                    partial = rolled[period] = Partial()
                partial.add(value, timestamp, tx)
        if distinct_value is not None:
            distinct.add((*key, distinct_value))
    _partials_write(
        cursor,
        MetricAggregate,
        ("metric_id", "customer_id", "hour", "group_values"),
        partials,
        merge_existing=True,
    )
    if rolled:
        rollup_rows_write_sqlite(cursor, rolled, merge_existing=True)
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
