"""The event store seam: everything ingestion and the usage selectors ask of the place events live.

Two engines implement it (`metering.stores.event_store()` picks one from `EVENT_STORE_URL`):
- the relational store (default): events, the dedup ledger and hourly pre-aggregates in the
  Django database (SQLite or PostgreSQL), `metering.stores.relational`;
- the ClickHouse store (`clickhouse://...` or in-process `chdb:///path`),
  `metering.stores.clickhouse`.

Contracts, invoices and configuration stay in the relational database whatever the store; a store
is told customer ids as received (a customer id or an ingest alias: selectors resolve them, so an
alias added later attributes earlier events on both engines) and answers exact `Decimal`s.

Usage answers are `{(value of key 1, value of key 2, ...): quantity}` per segment of hour-aligned
`bounds` ([b0, b1), [b1, b2), ...), values in the order of `group_keys`, `None` for an event that
did not carry the key; a group with no matching event is absent.
"""

from __future__ import annotations

import abc
import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson

from catalog.models import BillableMetric

from ..validation import Event

Group = tuple[str | None, ...]
GroupUsage = dict[Group, Decimal]
# (customer_id, timestamp) of each event -> whether it falls in an already finalized period.
# A hook may also carry `positions_sql()`: the same rule as a PostgreSQL SELECT of the positions
# `i` of the late events among a relation `ev(i int, c text, s timestamptz)`, which the relational
# store then runs inside its ingest statement instead of calling the hook (`late_sql_of`).


def group_of(cache: dict[str, Group], text: str, group_keys: Sequence[str]) -> Group:
    """The values of `group_keys` in a row's group values (their JSON text), each text parsed
    once per read (`cache`). orjson parses such a text in a fifth of `json.loads`'s time (a
    10,000-group read parses 10,000); it refuses an unpaired surrogate, which `json` reads."""
    group = cache.get(text)
    if group is None:
        try:
            values = orjson.loads(text)
        except orjson.JSONDecodeError:
            values = json.loads(text)
        group = cache[text] = tuple(map(values.get, group_keys))
    return group


LateCheck = Callable[[Sequence[tuple[str, datetime]]], Sequence[bool]]
# Whether the batch may still be written (the sender's API token still valid), asked where the
# batch is written: False stores nothing (`StoreResult.refused`). A hook may also carry `sql` (a
# boolean PostgreSQL expression, its values as `%(name)s` placeholders) and `params` (those
# values), which the relational store evaluates inside its ingest statement instead of calling the
# hook (`admit_sql_of`): one statement still, and no batch written after the revocation commits.
Admit = Callable[[], bool]
Progress = Callable[[str], None]


@dataclass(slots=True)
class StoreResult:
    inserted: list[Event]
    duplicates: list[Event]
    # The batch marked customers with new usage (`UsageMark`) when no mark existed before it.
    woke: bool = False
    # The `admit` hook said no: nothing was stored.
    refused: bool = False


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as a store keeps it (or a dropped duplicate, remembered for events search)."""

    id: uuid.UUID
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict
    received_at: datetime
    is_duplicate: bool = False
    is_late: bool = False


@dataclass(frozen=True, slots=True)
class CustomerIdActivity:
    customer_id: str
    events: int
    last_timestamp: datetime


def firsts_in_batch(events: Sequence[Event]) -> list[bool]:
    """Whether each event is the first of its transaction id inside the batch."""
    firsts = []
    seen: set[str] = set()
    for event in events:
        firsts.append(event.transaction_id not in seen)
        seen.add(event.transaction_id)
    return firsts


def late_sql_of(is_late: LateCheck | None) -> str | None:
    """The hook's in-statement form for PostgreSQL, if it has one."""
    positions_sql = getattr(is_late, "positions_sql", None)
    return positions_sql() if positions_sql is not None else None


def admit_sql_of(admit: Admit | None) -> tuple[str, dict] | None:
    """The admit hook's in-statement form for PostgreSQL, if it has one: (SQL, parameters)."""
    sql = getattr(admit, "sql", None)
    return None if sql is None else (sql, dict(admit.params))


def refused() -> StoreResult:
    return StoreResult(inserted=[], duplicates=[], refused=True)


def customer_slots(customers: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    """{ingest id: the positions of the customers listing it} (`usage_by_customer`)."""
    slots: dict[str, list[int]] = {}
    for index, ids in enumerate(customers):
        for ingest_id in dict.fromkeys(ids):
            slots.setdefault(ingest_id, []).append(index)
    return slots


def late_flags(events: Sequence[Event], is_late: LateCheck | None) -> list[bool]:
    if is_late is None:
        return [False] * len(events)
    return list(is_late([(e.customer_id, e.timestamp) for e in events]))


class EventStore(abc.ABC):
    """One engine behind the seam. Every method is safe to call from several threads."""

    name: str
    #: Whether the store keeps events outside the Django database (its `backup` writes them).
    backs_up_apart: bool = False

    # --- Backups --------------------------------------------------------------------------------

    def backup(self, *, directory: Path, database_started_at: datetime | None = None) -> list[str]:
        """Write what the store keeps outside the Django database into `directory` (`manage.py
        backup` puts it beside the database's backup, taken first, from `database_started_at`):
        one snapshot holding at least every event that backup's invoices counted. Return the
        tables written. The relational store keeps everything in the database, whose backup
        holds it: nothing."""
        return []

    def restore(self, *, directory: Path) -> list[str]:
        """Replace the store's contents with a `backup` in `directory` (after the database's
        restore); return the tables."""
        return []

    # --- Previews -------------------------------------------------------------------------------

    @abc.abstractmethod
    def preview(
        self, *, customer_ids: Sequence[str], forget: Sequence[tuple[datetime, datetime]] = ()
    ) -> contextlib.AbstractContextManager[EventStore]:
        """A what-if scope: a store (given by the context manager) that reads like this one, minus
        the events and usage of `customer_ids` in the `forget` windows [start, end) (the hours
        they touch, the day and month rows recomputed from the hours left), plus whatever is
        appended to it. Dedup, metrics, aliases and every read work as on this store. Nothing of
        it is seen by other threads or processes, and nothing is left when the scope ends
        (`metering.services.usage_preview`)."""

    # --- Writes ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def append(
        self,
        events: Sequence[Event],
        *,
        now: datetime,
        is_late: LateCheck | None = None,
        admit: Admit | None = None,
    ) -> StoreResult:
        """Dedup and append a validated batch: an event whose transaction id is repeated inside
        the batch or was accepted in the last 34 days is dropped (and remembered as a duplicate);
        the others are stored durably before this returns (read-your-writes). If `admit` answers
        False where the batch is written, nothing is stored (`refused`)."""

    @abc.abstractmethod
    def metric_backfill(self, *, metric: BillableMetric, progress: Progress | None = None) -> int:
        """Make `metric` measure the events stored before it existed (idempotent, safe while
        ingestion runs). Returns the events it matched."""

    @abc.abstractmethod
    def expire(self, *, now: datetime) -> int:
        """Forget dedup state older than the 34-day window; returns the ids forgotten."""

    def rollups_fold(self, *, now: datetime) -> datetime | None:
        """Fold the closed hours into the day and month tier, for a store that keeps it off the
        ingest path (the relational store); returns how far the tier reaches. A store that writes
        the tier with each insert (ClickHouse) has nothing to do: None."""
        return None

    # --- Usage ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def usage_by_segment(
        self,
        *,
        metric: BillableMetric,
        customer_ids: Sequence[str],
        bounds: Sequence[datetime],
        group_keys: Sequence[str],
        only: tuple[str, frozenset[str]] | None = None,
    ) -> list[GroupUsage]:
        """The metric per segment and group (UNIQUE: distinct values over each whole segment).
        `only` = (group key, values): just the events whose value of that key (in the full group
        values, before rolling up) is one of `values` (a contract's usage filter)."""

    @abc.abstractmethod
    def usage_by_customer(
        self,
        *,
        metric: BillableMetric,
        customers: Sequence[Sequence[str]],
        starting_at: datetime,
        ending_before: datetime,
        group_keys: Sequence[str],
    ) -> list[GroupUsage]:
        """`usage_by_segment` over one window for many customers, each given as its ingest ids:
        one answer per customer, in order, the same as reading each alone (UNIQUE: distinct
        values over all the ids of the customer), from one read grouped by customer (the alert
        worker reads a batch of customers this way)."""

    @abc.abstractmethod
    def unique_first_seen(
        self,
        *,
        metric: BillableMetric,
        customer_ids: Sequence[str],
        bounds: Sequence[datetime],
        group_keys: Sequence[str],
    ) -> list[GroupUsage]:
        """Per segment and group: how many distinct values of a UNIQUE metric appear for the
        first time in it (running distinct counts)."""

    @abc.abstractmethod
    def daily_usage(
        self,
        *,
        metric_ids: Iterable,
        customer_ids: Iterable[str],
        starting_at: datetime,
        ending_before: datetime,
    ) -> list[tuple]:
        """(metric id, customer id, UTC day, group values JSON, events, sum) rows."""

    # --- Events ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def events_between(
        self,
        *,
        customer_ids: Sequence[str],
        starting_at: datetime,
        ending_before: datetime,
        event_types: Sequence[str] | None,
    ) -> Iterator[tuple[str, dict]]:
        """(event type, properties) of the stored events in [starting_at, ending_before), in
        timestamp order (a window not on hour boundaries is rated from these)."""

    @abc.abstractmethod
    def events_by_transaction(
        self, *, transaction_ids: Sequence[str], since: datetime
    ) -> list[StoredEvent]:
        """Stored events and dropped duplicates received since `since` under these ids."""

    @abc.abstractmethod
    def transaction_accepted_at(self, *, transaction_id: str, since: datetime) -> datetime | None:
        """When an event under this transaction id was accepted, if since `since`."""

    @abc.abstractmethod
    def late_event_count(self, *, customer_ids: Sequence[str]) -> int:
        """Events of these customer ids that arrived after their period was finalized."""

    @abc.abstractmethod
    def event_customer_ids(self) -> list[str]:
        """Every customer_id events were sent under."""

    @abc.abstractmethod
    def customer_id_activity(
        self, *, customer_ids: Sequence[str], since: datetime
    ) -> list[CustomerIdActivity]:
        """Events received since `since` per customer id (for ids that have some)."""

    @abc.abstractmethod
    def recent_events(
        self,
        *,
        customer_ids: Sequence[str] | None = None,
        transaction_id: str | None = None,
        event_type: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Events newest first (timestamp, then transaction id), optionally filtered (any of
        `customer_ids`), starting after the (timestamp, transaction id) `before` cursor."""

    # --- SQL metrics ----------------------------------------------------------------------------

    @abc.abstractmethod
    def sql_metric_rows(
        self,
        *,
        sql: str,
        by_hour: bool,
        customer_ids: Sequence[str],
        starting_at: datetime,
        ending_before: datetime,
        only: tuple[str, Sequence[str]] | None = None,
        ranges: Sequence[tuple[datetime, datetime]] | None = None,
        hours_from: datetime | None = None,
    ) -> list[list]:
        """The rows of a checked SQL metric query (`catalog.sql_metric`) over the accepted events
        of these customer ids in [starting_at, ending_before) (with `ranges`, only those inside
        these [start, end) ranges; `only` = (property, values): a usage filter), every value
        bound as a parameter, under the statement timeout (`SQL_METRIC_TIMEOUT_MS`). With
        `by_hour` each row ends with its UTC hour (before `hours_from`, its UTC day: the spans
        of `metering.sql_metrics.spans`). Raises `metering.sql_metrics.SqlMetricTimeout` or
        `SqlMetricFailure` (the engine refused the query) with a message for the user."""

    @abc.abstractmethod
    def event_counts_by_hour(
        self,
        *,
        metric: BillableMetric,
        customer_ids: Sequence[str],
        starting_at: datetime,
        ending_before: datetime,
    ) -> dict[datetime, int]:
        """{UTC hour: events} of a SQL metric's customer ids in the hours the window touches
        (every event counts: what the SQL metric cache compares to see new events)."""
