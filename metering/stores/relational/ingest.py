"""The relational store's ingest hot path, after validation (`metering.validation`): store a batch
in one round trip.

Storage (`batch_store`) keeps only events whose `transaction_id` is new in the dedup ledger, and in
the same transaction inserts them and upserts the pre-aggregates of every metric they match:
- PostgreSQL: ONE prepared statement (`metering/stores/relational/sql.py`), its batch passed as two JSON
  documents, run in autocommit (a statement is atomic on its own). Data-modifying
  CTEs insert the dedup rows with `ON CONFLICT ... DO UPDATE ... WHERE expired RETURNING`, join the
  events and their per-metric contributions (computed in Python) to what was returned, insert the
  events, log the duplicates, and upsert `MetricAggregate` (`sum = sum + excluded.sum`,
  `GREATEST`, latest by (timestamp, transaction id)) and `MetricDistinctValue`. The day and month
  rows (`MetricRollup`) are folded from the hourly rows by a schedule (`rollups.py`); for the
  hours before the tier's watermark (late or backfilled events) the statement marks the day
  unfolded (`UnfoldedDay`) instead of writing them.
  Rows are grouped and sorted by key so that concurrent batches lock in the same order; a
  deadlock is retried.
  The statement also compares the metric-definitions signature it was computed with and writes
  nothing if a metric was created since (the batch is then recomputed and sent again): this is
  what keeps a metric backfill and concurrent ingestion from missing or double counting events
  (see `metering.backfill`). The late-event rule runs inside it too when the hook has an
  in-statement form (invoicing's does: `positions_sql`), so a batch is one round trip.
- SQLite: the same steps as a few statements inside one IMMEDIATE transaction (`sqlite.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec
from django.db import OperationalError, connection

from core.db import hot_cursor

from ...definitions import definitions_cached, definitions_load
from ...models import (
    DuplicateEvent,
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    RollupWatermark,
    UnfoldedDay,
    UsageEvent,
    UsageMark,
)
from ...validation import MAX_AGE, Event
from ..base import (
    Admit,
    LateCheck,
    StoreResult,
    admit_sql_of,
    firsts_in_batch,
    late_flags,
    late_sql_of,
    refused,
)
from ..partials import contributions
from .sql import ADMIT_ALWAYS, INGEST_SQL, LATE_FROM_FLAGS
from .sqlite import _q, store_sqlite


def batch_store(
    events: Sequence[Event],
    *,
    now: datetime,
    is_late: LateCheck | None = None,
    admit: Admit | None = None,
    tables: Mapping[str, str] | None = None,
) -> StoreResult:
    """Store a validated batch: dedup, insert, pre-aggregate, all in one transaction, if `admit`
    holds there (else nothing: `refused`). PostgreSQL: `tables` points some of the statement's
    tables elsewhere (a draft preview's own, `preview.py`), by placeholder name."""
    firsts = firsts_in_batch(events)
    if connection.vendor == "postgresql":
        late_sql = late_sql_of(is_late)
        late = [False] * len(events) if late_sql else late_flags(events, is_late)
        admit_sql = admit_sql_of(admit)
        if admit is not None and admit_sql is None and not admit():
            return refused()
        stored = _store_postgresql(
            events, firsts, late, now, late_sql or LATE_FROM_FLAGS, admit_sql, tables
        )
    else:
        stored = store_sqlite(events, firsts, late_flags(events, is_late), now, admit)
    if stored is None:
        return refused()
    new_ids, woke = stored
    inserted = []
    duplicates = []
    for index, event in enumerate(events):
        if firsts[index] and event.transaction_id in new_ids:
            inserted.append(event)
        else:
            duplicates.append(event)
    return StoreResult(inserted=inserted, duplicates=duplicates, woke=woke)


_pg_sql_cache: dict[tuple, tuple[str, tuple[str, ...]]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def postgresql_statement(
    late_sql: str = LATE_FROM_FLAGS,
    tables: Mapping[str, str] | None = None,
    admit_sql: str = ADMIT_ALWAYS,
) -> str:
    """The ingest statement for PostgreSQL with this late-event SELECT and admit condition (see
    `sql.py`), with `%(name)s` placeholders, its whitespace collapsed (no comment or string
    literal in it holds a line break or a run of spaces); `tables` replaces some of its tables
    (by placeholder)."""
    from catalog.models import BillableMetric

    names = {
        "metric": _q(BillableMetric),
        "ledger": _q(IngestedTransaction),
        "event": _q(UsageEvent),
        "duplicate": _q(DuplicateEvent),
        "aggregate": _q(MetricAggregate),
        "unfolded": _q(UnfoldedDay),
        "watermark": _q(RollupWatermark),
        "distinct": _q(MetricDistinctValue),
        "mark": _q(UsageMark),
        **(tables or {}),
    }
    return " ".join(INGEST_SQL.format(late=late_sql, admit=admit_sql, **names).split())


def postgresql_native_statement(
    late_sql: str = LATE_FROM_FLAGS,
    tables: Mapping[str, str] | None = None,
    admit_sql: str = ADMIT_ALWAYS,
) -> tuple[str, tuple[str, ...]]:
    """The statement as the hot path sends it: PostgreSQL's own placeholders (`$1`, ...; a name
    used twice is one number) and the parameter names in their order, for a psycopg `RawCursor`,
    which sends it as is. (A `%(name)s` statement over 4,096 bytes is parsed again by psycopg, a
    regular expression over all of it, on every execute: about 40 µs a batch.) The benchmark's SQL
    ceiling runs the very same text."""
    key = (late_sql, tuple(sorted((tables or {}).items())), admit_sql)
    found = _pg_sql_cache.get(key)
    if found is None:
        names: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        text = _PLACEHOLDER.sub(number, postgresql_statement(late_sql, tables, admit_sql))
        found = _pg_sql_cache[key] = (text.replace("%%", "%"), tuple(names))
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


def _store_postgresql(
    events, firsts, late, now, late_sql, admit_sql, tables
) -> tuple[set[str], bool] | None:
    """One prepared statement, server-side parameters, on Django's own connection (so it joins
    an enclosing transaction, e.g. in tests, and is its own transaction in autocommit). Pointed
    at a preview's temporary tables it is not prepared (they last one preview). None: the admit
    condition did not hold (nothing written)."""
    admit_text, admit_params = admit_sql or (ADMIT_ALWAYS, {})
    params = {
        "events": _events_json(events, firsts, late),
        "now": now,
        "expired_before": now - MAX_AGE,
        **admit_params,
    }
    statement, names = postgresql_native_statement(late_sql, tables, admit_text)
    definitions = definitions_cached()
    attempts = 0
    while True:
        params["metric_count"], params["metric_newest"] = definitions.signature
        params["contributions"] = _contributions_json(
            events, contributions(events, firsts, definitions)
        )
        try:
            with hot_cursor(native=True) as cursor:
                cursor.execute(statement, [params[name] for name in names], prepare=tables is None)
                ok, new_ids, woke, admitted = cursor.fetchone()
        except OperationalError as exc:
            attempts += 1
            if attempts >= 5 or not _is_retryable(exc) or not connection.get_autocommit():
                raise
            continue
        if not admitted:
            return None
        if ok:
            return set(new_ids), bool(woke)
        # A metric was created or deleted since the cache was filled: nothing was written.
        attempts += 1
        if attempts >= 5:
            raise RuntimeError("Metric definitions kept changing during ingestion.")
        definitions = definitions_load()
