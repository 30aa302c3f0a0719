"""The relational store's ingest hot path, after validation (`metering.validation`): store a batch
in one round trip.

Storage (`batch_store`) keeps only events whose `transaction_id` is new in the dedup ledger, and in
the same transaction inserts them and upserts the pre-aggregates of every metric they match:
- PostgreSQL: ONE prepared statement (`metering/stores/relational/sql.py`), its batch passed as two JSON
  documents, run in autocommit (a statement is atomic on its own). Data-modifying
  CTEs insert the dedup rows with `ON CONFLICT ... DO UPDATE ... WHERE expired RETURNING`, join the
  events and their per-metric contributions (computed in Python) to what was returned, insert the
  events, log the duplicates, and upsert `MetricAggregate` (`sum = sum + excluded.sum`,
  `GREATEST`, latest by (timestamp, transaction id)) and `MetricDistinctValue`. Rows are grouped
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
    UsageEvent,
    UsageMark,
)
from ...validation import MAX_AGE, Event
from ..base import LateCheck, StoreResult, firsts_in_batch, late_flags, late_sql_of
from ..marks import usage_marks_add
from ..partials import Partial, contributions
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


_pg_sql_cache: dict[str, str] = {}


def postgresql_statement(late_sql: str = LATE_FROM_FLAGS) -> str:
    """The ingest statement for PostgreSQL with this late-event SELECT (see `sql.py`); the
    benchmark's SQL ceiling runs the very same text. Its whitespace is collapsed: psycopg caches
    the parsing of a statement's placeholders only up to 4,096 bytes of text, and re-parses a
    longer one (a regular expression over all of it) on every execute. (No comment or string
    literal in it holds a line break or a run of spaces.)"""
    statement = _pg_sql_cache.get(late_sql)
    if statement is None:
        from catalog.models import BillableMetric

        statement = _pg_sql_cache[late_sql] = " ".join(
            INGEST_SQL.format(
                metric=_q(BillableMetric),
                ledger=_q(IngestedTransaction),
                event=_q(UsageEvent),
                duplicate=_q(DuplicateEvent),
                aggregate=_q(MetricAggregate),
                distinct=_q(MetricDistinctValue),
                mark=_q(UsageMark),
                late=late_sql,
            ).split()
        )
    return statement


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
    definitions = definitions_cached()
    attempts = 0
    while True:
        params["metric_count"], params["metric_newest"] = definitions.signature
        params["contributions"] = _contributions_json(
            events, contributions(events, firsts, definitions)
        )
        try:
            with hot_cursor() as cursor:
                cursor.execute(postgresql_statement(late_sql), params, prepare=True)
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


def aggregates_merge_sqlite(cursor, rows) -> None:
    """Add contributions to the pre-aggregates with Decimal arithmetic in Python (SQLite only).

    rows: (metric_id, customer_id, hour, group_values, value, distinct, timestamp, transaction_id).
    Must run inside the write transaction.
    """
    stamp = _sqlite_text
    metric_hex: dict = {}
    partials: dict[tuple, Partial] = {}
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
        if distinct_value is not None:
            distinct.add((*key, distinct_value))
    table = _q(MetricAggregate)
    keys = sorted(partials)
    existing: dict[tuple, Partial] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        # `FROM keys CROSS JOIN table` makes SQLite loop over the keys and probe the primary key
        # (a row-value IN (VALUES ...) would scan the whole table).
        cursor.execute(
            "WITH k(m, c, h, g) AS (VALUES "
            + ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            + f") SELECT a.metric_id, a.customer_id, a.hour, a.group_values, a.event_count, "
            f"a.value_sum, a.value_max, a.latest_value, a.latest_timestamp, "
            f"a.latest_transaction_id FROM k CROSS JOIN {table} AS a "
            f"ON a.metric_id = k.m AND a.customer_id = k.c AND a.hour = k.h "
            f"AND a.group_values = k.g",
            [part for key in chunk for part in key],
        )
        for row in cursor.fetchall():
            # The backend hands `datetime` columns back as naive UTC datetimes.
            existing[(row[0], row[1], stamp(_sqlite_datetime(row[2])), row[3])] = Partial(
                count=row[4],
                total=_dec(row[5]),
                maximum=_dec(row[6]),
                latest_value=_dec(row[7]),
                latest_timestamp=_sqlite_datetime(row[8]),
                latest_transaction_id=row[9],
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
                stamp(partial.latest_timestamp) if partial.latest_timestamp else None,
                partial.latest_transaction_id,
            )
        )
    cursor.executemany(
        f"INSERT INTO {table} (metric_id, customer_id, hour, group_values, event_count, "
        f"value_sum, value_max, latest_value, latest_timestamp, latest_transaction_id) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (metric_id, customer_id, hour, group_values) DO UPDATE SET "
        f"event_count = excluded.event_count, value_sum = excluded.value_sum, "
        f"value_max = excluded.value_max, latest_value = excluded.latest_value, "
        f"latest_timestamp = excluded.latest_timestamp, "
        f"latest_transaction_id = excluded.latest_transaction_id",
        writes,
    )
    if distinct:
        cursor.executemany(
            f"INSERT INTO {_q(MetricDistinctValue)} (metric_id, customer_id, hour, group_values, "
            f"value) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            sorted(distinct),
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
