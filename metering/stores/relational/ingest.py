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
  (see `metering.backfill`).
- SQLite: the same steps as a few statements inside one IMMEDIATE transaction (SQLite has one
  writer at a time, so the signature is checked inside it). SQLite cannot add decimals exactly, so
  the affected aggregate rows are read, merged in Python with `Decimal` and written back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii  # the C implementation when available

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
from ..base import LateCheck, StoreResult, firsts_in_batch, late_flags
from ..marks import usage_marks_add
from ..partials import Partial, contributions
from .sql import INGEST_SQL


def batch_store(
    events: Sequence[Event],
    *,
    now: datetime,
    is_late: LateCheck | None = None,
) -> StoreResult:
    """Store a validated batch: dedup, insert, pre-aggregate, all in one transaction."""
    firsts = firsts_in_batch(events)
    late = late_flags(events, is_late)
    if connection.vendor == "postgresql":
        new_ids, woke = _store_postgresql(events, firsts, late, now)
    else:
        new_ids, woke = _store_sqlite(events, firsts, late, now)
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


_pg_sql_cache: list[str] = []


def _pg_sql() -> str:
    if not _pg_sql_cache:
        from catalog.models import BillableMetric

        _pg_sql_cache.append(
            INGEST_SQL.format(
                metric=_q(BillableMetric),
                ledger=_q(IngestedTransaction),
                event=_q(UsageEvent),
                duplicate=_q(DuplicateEvent),
                aggregate=_q(MetricAggregate),
                distinct=_q(MetricDistinctValue),
                mark=_q(UsageMark),
            )
        )
    return _pg_sql_cache[0]


def _events_json(events, firsts, late) -> str:
    """The batch as one JSON document for `json_to_recordset`. Without Decimal properties (the
    common case: strings, integers, booleans) it is one `json.dumps` call in C; otherwise each
    event is written by hand around its exact properties text."""
    if all(e.exact_json is None for e in events):
        return json.dumps(
            [
                {
                    "t": e.transaction_id,
                    "c": e.customer_id,
                    "y": e.event_type,
                    "s": e.timestamp.isoformat(),
                    "p": e.properties,
                    "l": late[index],
                    "f": firsts[index],
                }
                for index, e in enumerate(events)
            ]
        )
    quote = encode_basestring_ascii
    parts = []
    for index, e in enumerate(events):
        parts.append(
            f'{{"t":{quote(e.transaction_id)},"c":{quote(e.customer_id)},'
            f'"y":{quote(e.event_type)},"s":"{e.timestamp.isoformat()}",'
            f'"p":{e.properties_json},"l":{"true" if late[index] else "false"},'
            f'"f":{"true" if firsts[index] else "false"}}}'
        )
    return "[" + ",".join(parts) + "]"


def _contributions_json(events, rows) -> str:
    quote = encode_basestring_ascii
    hours: dict[datetime, str] = {}
    groups: dict[str, str] = {}
    parts = []
    for index, metric, hour, group, value, distinct in rows:
        hour_text = hours.get(hour)
        if hour_text is None:
            hour_text = hours[hour] = hour.isoformat()
        group_text = groups.get(group)
        if group_text is None:
            group_text = groups[group] = quote(group)
        parts.append(
            f'{{"t":{quote(events[index].transaction_id)},"m":"{metric.id_text}",'
            f'"h":"{hour_text}","g":{group_text},'
            f'"v":{"null" if value is None else quote(str(value))},'
            f'"d":{"null" if distinct is None else quote(distinct)}}}'
        )
    return "[" + ",".join(parts) + "]"


def _is_retryable(exc: Exception) -> bool:
    """A deadlock or serialization failure: the statement had no effect and can run again."""
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")


def _store_postgresql(events, firsts, late, now) -> tuple[set[str], bool]:
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
                cursor.execute(_pg_sql(), params, prepare=True)
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
