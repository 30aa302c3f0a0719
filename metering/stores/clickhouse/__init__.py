"""The ClickHouse store: events and their pre-aggregates in ClickHouse, through a server or cluster
(`clickhouse://`, `clickhouse-connect`) or in this process (`chdb:///path`). Same SQL for both
(`sql.py`), schema owned by the code (`schema.py`, `manage.py migrate_event_store`).

Why a transaction id is counted once within 34 days, whatever merges do:
1. Inside a batch, only the first event of a transaction id is kept (as on the relational store).
2. Across batches, the dedup decision is serialized: in this process one writer at a time looks
   the batch's ids up among the event rows received in the last 34 days and writes the new ones
   (`_writer`); across processes (`clickhouse://`, several web nodes and workers) the writer also
   holds, in the relational database, a lock per bucket of transaction ids (`guard.py`), so two
   batches carrying the same id never decide at the same time. The lookup reads the event rows
   themselves (through the `by_transaction` projection), so the ledger cannot disagree with them.
3. A batch's event rows and its aggregate rows are one INSERT into one table without a partition
   key: one part, committed whole or not at all. A retry after an unanswered INSERT (committed or
   not, we cannot know) looks the ids up again first, so it writes only what is missing; a
   client's retry of a batch whose answer it lost is a batch of duplicates.
4. Nothing depends on merges: `usage` is an `AggregatingMergeTree` whose merges fold only rows of
   the same sorting key; event rows never share one (the key ends with the transaction id and the
   time received), and aggregate rows fold by `sum`/`max`, exactly what every read does with
   GROUP BY anyway. A read gives the same answer before, during and after any merge, without
   `FINAL`. (`ReplacingMergeTree` deduplicates only when parts merge: that is how Lago counted
   events twice, lago-api PR #4725; here duplicates never reach the table.)
Tests: `tests/metering/test_clickhouse_store.py` (duplicates inside a batch, across batches, across
retries, concurrent batches; reads before and after `OPTIMIZE ... FINAL`).

Group commit: threads of one process that ingest at once are written together (one lookup, one
INSERT): each waits for the writer, and the writer takes everything queued. This is what
ClickHouse's asynchronous inserts do on a server (also on, for `clickhouse://`), done before the
dedup decision so that a 200 still means stored.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from catalog.models import BillableMetric

from ...definitions import (
    CompiledMetric,
    definitions_cached,
    definitions_load,
    definitions_signature,
)
from ...models import PropertiesDecoder
from ...validation import MAX_AGE, Event
from ..base import (
    CustomerIdActivity,
    EventStore,
    GroupUsage,
    StoredEvent,
    StoreResult,
    customer_slots,
    firsts_in_batch,
    group_of,
    late_flags,
    refused,
)
from ..marks import usage_marks_record
from ..partials import Partial, contributions, hour_of
from ..tiers import GRAINS, period_ceiling, period_start
from . import guard, migrate, sql
from .backup import marks as backup_marks
from .backup import store_backup, store_restore
from .client import EventStoreBusy, EventStoreError, client_for
from .numbers import value_from_parts, value_parts
from .sql import SQL_METRIC_SETTINGS

__all__ = ["ClickHouseStore", "EventStoreBusy", "EventStoreError"]

EPOCH = "1970-01-01 00:00:00.000000"
_LOOKUP_CHUNK = 5000
_ATTEMPTS = 3


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _hour_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _properties(text: str) -> dict:
    return json.loads(text, cls=PropertiesDecoder) if text else {}


class _Pending:
    __slots__ = ("error", "events", "late", "now", "result", "written")

    def __init__(self, events, now, late):
        self.events = events
        self.now = now
        self.late = late
        self.result: StoreResult | None = None
        self.error: BaseException | None = None
        self.written = False


class ClickHouseStore(EventStore):
    name = "clickhouse"
    backs_up_apart = True
    #: A preview's store (`preview`): appends go to the preview's own table.
    _is_preview = False

    def __init__(self, url: str):
        self.url = url
        self.client = client_for(url)
        self.database = self.client.database
        self.cluster = self.client.cluster
        self._writer = threading.Lock()
        self._queue_guard = threading.Lock()
        self._queue: list[_Pending] = []
        self._guard = guard.for_url(url)
        if url.startswith("chdb:"):
            # In-process: the one process owns the path, so it brings the schema up to date.
            migrate.apply(self.client)
        else:
            migrate.check(self.client)

    # --- Backups --------------------------------------------------------------------------------

    def backup(self, *, directory: Path, database_started_at=None) -> list[str]:
        return store_backup(
            self.client, directory, held=self._held, database_started_at=database_started_at
        )

    def restore(self, *, directory: Path) -> list[str]:
        """The tables back, then usage marks for the customers whose events the restored
        database never saw (accepted after its backup began): their alerts are evaluated."""
        restored = store_restore(self.client, directory)
        usage_marks_record(backup_marks(self.client, directory), datetime.now(UTC))
        return restored

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """No flush and no backfill chunk under way while held (in this process and, through
        the guard, in every process)."""
        with self._writer, self._guard.exclusive():
            yield

    # --- Previews -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def preview(self, *, customer_ids, forget=()) -> Iterator[EventStore]:
        """A database of the preview's own (`sql.preview_create`): a Memory table `own` for what
        is appended, and views named `usage` and `duplicates` that read the stored rows (minus
        the forgotten windows, whose day and month rows are rebuilt into `own`) with `own`'s.
        The preview's store is this one pointed at it: the same statements, the same dedup
        (looked up through the view: an id already stored counts once), its own writer. Dropped
        at the end; one a dead process left is dropped by `expire`.

        With `clickhouse://` the preview's tables live on the server the URL names (each
        statement goes to it): behind a load balancer spreading requests over a cluster's nodes,
        previews need it to send one client to one node."""
        scope = f"{self.database}{sql.PREVIEW_PREFIX}{uuid.uuid4().hex}"
        try:
            for statement in sql.preview_create(self.database, scope, list(customer_ids), forget):
                self.client.command(statement)
            scoped = copy.copy(self)
            scoped.database = scope
            scoped._is_preview = True
            scoped._writer = threading.Lock()
            scoped._queue_guard = threading.Lock()
            scoped._queue = []
            scoped._guard = guard.ProcessGuard()
            yield scoped
        finally:
            self.client.command(sql.preview_drop(scope))

    # --- Writes ---------------------------------------------------------------------------------

    def append(
        self, events: Sequence[Event], *, now: datetime, is_late=None, admit=None
    ) -> StoreResult:
        # Asked before the batch joins a flush (ClickHouse has no transaction to ask it in).
        if admit is not None and not admit():
            return refused()
        pending = _Pending(list(events), now, late_flags(events, is_late))
        with self._queue_guard:
            self._queue.append(pending)
        with self._writer:
            if not pending.written:
                with self._queue_guard:
                    group, self._queue = self._queue, []
                try:
                    self._flush(group)
                except BaseException as exc:
                    for item in group:
                        item.error = exc
                finally:
                    for item in group:
                        item.written = True
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _flush(self, group: list[_Pending]) -> None:
        ids = {event.transaction_id for item in group for event in item.events}
        with self._guard.ingest(ids):
            definitions = definitions_cached()
            if definitions.signature != definitions_signature():
                definitions = definitions_load()
            for attempt in range(_ATTEMPTS):
                try:
                    self._write(group, ids, definitions)
                    return
                except EventStoreError:
                    raise
                except Exception:
                    if attempt == _ATTEMPTS - 1:
                        raise

    def _accepted(self, ids, since) -> dict[str, datetime]:
        found = {}
        ids = sorted(ids)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            query = sql.accepted(self.database, ids[start : start + _LOOKUP_CHUNK], since)
            for transaction_id, received in self.client.rows(query):
                found[transaction_id] = _moment(received)
        return found

    def _write(self, group, ids, definitions) -> None:
        accepted = self._accepted(ids, min(item.now for item in group) - MAX_AGE)
        taken: set[str] = set()
        lines: list[str] = []
        dropped: list[str] = []
        for item in group:
            firsts = firsts_in_batch(item.events)
            cutoff = item.now - MAX_AGE
            kept = []
            for index, event in enumerate(item.events):
                before = accepted.get(event.transaction_id)
                keep = (
                    firsts[index]
                    and event.transaction_id not in taken
                    and (before is None or before < cutoff)
                )
                kept.append(keep)
                if keep:
                    taken.add(event.transaction_id)
            lines += self._event_lines(item, kept)
            lines += self._measure_lines(item.events, kept, definitions)
            dropped += self._duplicate_lines(item, kept)
            item.result = StoreResult(
                inserted=[e for e, k in zip(item.events, kept, strict=True) if k],
                duplicates=[e for e, k in zip(item.events, kept, strict=True) if not k],
            )
        if self._is_preview:
            # A what-if: its own table; no duplicates to search, no usage to alert on.
            if lines:
                self.client.insert("own", "\n".join(lines), database=self.database)
            return
        if lines:
            self.client.insert("usage", "\n".join(lines))
        if dropped:
            self.client.insert("duplicates", "\n".join(dropped))
        stored = [item for item in group if item.result.inserted]
        if stored and usage_marks_record(
            (e.customer_id for item in stored for e in item.result.inserted),
            max(item.now for item in stored),
        ):
            stored[0].result.woke = True

    @staticmethod
    def _event_lines(item: _Pending, kept) -> list[str]:
        received = _stamp(item.now)
        lines = []
        for index, event in enumerate(item.events):
            if not kept[index]:
                continue
            lines.append(
                json.dumps(
                    {
                        "kind": "event",
                        "customer_id": event.customer_id,
                        "metric_id": sql.NO_METRIC,
                        "hour": _hour_stamp(event.timestamp),
                        "group_values": "",
                        "transaction_id": event.transaction_id,
                        "received_at": received,
                        "timestamp": _stamp(event.timestamp),
                        "event_type": event.event_type,
                        "properties": event.properties_json,
                        "is_late": bool(item.late[index]),
                        "id": str(uuid.uuid4()),
                    }
                )
            )
        return lines

    @staticmethod
    def _duplicate_lines(item: _Pending, kept) -> list[str]:
        received = _stamp(item.now)
        return [
            json.dumps(
                {
                    "transaction_id": event.transaction_id,
                    "received_at": received,
                    "customer_id": event.customer_id,
                    "event_type": event.event_type,
                    "timestamp": _stamp(event.timestamp),
                    "properties": event.properties_json,
                    "id": str(uuid.uuid4()),
                }
            )
            for index, event in enumerate(item.events)
            if not kept[index]
        ]

    def _measure_lines(self, events, kept, definitions) -> list[str]:
        rows = [
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
            for row in contributions(events, kept, definitions)
        ]
        return measure_lines(rows)

    def metric_backfill(self, *, metric: BillableMetric, progress=None) -> int:
        """Rebuild the metric's aggregate rows from the event rows, a UTC day at a time, and each
        calendar month's day and month rows from its hourly rows once its days are done. Each day
        holds the writer (and, across processes, every bucket): ingestion waits, and checks the
        metric definitions again once it goes on, so every event is counted either by the
        rebuild or by its own batch, never both, never neither."""
        compiled = CompiledMetric.from_model(metric)
        with self._writer, self._guard.exclusive():
            first, last, count = self.client.rows(
                sql.event_span(self.database, compiled.types_in, compiled.types_not_in)
            )[0]
        if not count:
            if progress:
                progress(f"{metric.name}: no events to measure.")
            return 0
        start = datetime.fromtimestamp(int(first), UTC).replace(hour=0)
        end = datetime.fromtimestamp(int(last), UTC) + timedelta(hours=1)
        chunks = []
        moment = start
        while moment < end:
            chunks.append((moment, min(moment + timedelta(days=1), end)))
            moment += timedelta(days=1)
        matched_total = 0
        pending = None
        for number, (chunk_start, chunk_end) in enumerate(chunks, start=1):
            with self._writer, self._guard.exclusive():
                scanned, matched = self._rebuild(compiled, chunk_start, chunk_end)
                pending = pending or chunk_start
                following = chunks[number][0] if number < len(chunks) else None
                if following is None or period_start("month", following) > chunk_start:
                    # The month's hours are all rebuilt: its day and month rows follow.
                    self._rebuild_rollups(str(compiled.id), pending, chunk_end)
                    pending = None
            matched_total += matched
            if progress:
                progress(
                    f"{metric.name}: [{number}/{len(chunks)}] {chunk_start:%Y-%m-%d %H:%M} to "
                    f"{chunk_end:%Y-%m-%d %H:%M}: {scanned} events read, {matched} matched"
                )
        return matched_total

    def _rebuild(self, metric: CompiledMetric, start, end) -> tuple[int, int]:
        metric_id = str(metric.id)
        if self.client.rows(sql.measured_rows(self.database, metric_id, start, end))[0][0]:
            self.client.command(
                sql.forget_measured(self.database, self.cluster, metric_id, start, end)
            )
        rows = []
        events = self.client.rows(
            sql.chunk_events(self.database, metric.types_in, metric.types_not_in, start, end)
        )
        for customer_id, timestamp, transaction_id, properties in events:
            found = metric.contribution(_properties(properties))
            if found is None:
                continue
            moment = _moment(timestamp)
            rows.append((metric.id, customer_id, hour_of(moment), *found, moment, transaction_id))
        lines = measure_lines(rows, rollups=False)
        if lines:
            self.client.insert("usage", "\n".join(lines))
        return len(events), len(rows)

    def _rebuild_rollups(self, metric_id: str, start: datetime, end: datetime) -> None:
        """The metric's day and month rows of the calendar months overlapping [start, end), again
        from its hourly rows (held like a chunk: the hourly rows cannot change meanwhile)."""
        start = period_start("month", start)
        end = period_ceiling("month", end)
        self.client.command(sql.forget_rollups(self.database, self.cluster, metric_id, start, end))
        self.client.command(
            sql.rollups_insert(self.database, sql.metric_window(metric_id, start, end))
        )

    def expire(self, *, now: datetime) -> int:
        """Nothing to delete: lookups only look at the last 34 days, and dropped duplicates
        expire by the `duplicates` table's TTL. Drops the preview databases older than an hour
        (a process died during a preview)."""
        for (scope,) in self.client.rows(
            sql.previews_left(self.database, now - timedelta(hours=1))
        ):
            self.client.command(sql.preview_drop(scope))
        return 0

    # --- Usage ----------------------------------------------------------------------------------

    def usage_by_segment(
        self, *, metric, customer_ids, bounds, group_keys, only=None
    ) -> list[GroupUsage]:
        return self._usage(metric, customer_ids, bounds, group_keys, len(bounds) - 1, only=only)

    def usage_by_customer(
        self, *, metric, customers, starting_at, ending_before, group_keys
    ) -> list[GroupUsage]:
        owners = customer_slots(customers)
        if not owners:
            return [{} for _ in customers]
        bounds = [starting_at, ending_before]
        return self._usage(metric, list(owners), bounds, group_keys, len(customers), owners=owners)

    def _usage(self, metric, customer_ids, bounds, group_keys, slots, *, only=None, owners=None):
        """The answers of one grouped read: per segment, or per customer with `owners`."""
        answers: list[GroupUsage] = [{} for _ in range(slots)]
        metric_id = str(metric.pk)
        aggregation = metric.aggregation_type
        if aggregation == BillableMetric.AggregationType.UNIQUE:
            query = sql.distinct_counts(
                self.database, metric_id, customer_ids, bounds, group_keys, only, owners
            )
            for slot, *rest in self.client.rows(query):
                answers[slot][tuple(rest[:-1])] = Decimal(rest[-1])
            return answers
        query = sql.rolled_up(
            self.database, aggregation, metric_id, customer_ids, bounds, only, owners
        )
        states: list[dict] = [{} for _ in answers]
        groups: dict[str, tuple] = {}
        for slot, group_text, *measures in self.client.rows(query):
            _roll(states[slot], group_of(groups, group_text, group_keys), aggregation, measures)
        for index, bucket in enumerate(states):
            answers[index].update({group: _value(aggregation, s) for group, s in bucket.items()})
        return answers

    def unique_first_seen(self, *, metric, customer_ids, bounds, group_keys) -> list[GroupUsage]:
        segments: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
        query = sql.distinct_first_seen(
            self.database, str(metric.pk), customer_ids, bounds, group_keys
        )
        for segment, *rest in self.client.rows(query):
            segments[segment][tuple(rest[:-1])] = Decimal(rest[-1])
        return segments

    def daily_usage(self, *, metric_ids, customer_ids, starting_at, ending_before):
        metric_ids = [str(m) for m in metric_ids]
        customer_ids = list(customer_ids)
        if not metric_ids or not customer_ids:
            return []
        summed = set(
            BillableMetric.objects.filter(
                pk__in=metric_ids, aggregation_type__in=["SUM", "MAX", "LATEST"]
            ).values_list("pk", flat=True)
        )
        result = []
        query = sql.daily(self.database, metric_ids, customer_ids, starting_at, ending_before)
        for metric_id, customer_id, day, group_values, events, *parts in self.client.rows(query):
            metric_uuid = uuid.UUID(metric_id)
            amount = value_from_parts(*parts) if metric_uuid in summed else None
            day = datetime.fromisoformat(day).date()
            result.append((metric_uuid, customer_id, day, group_values, int(events), amount))
        return result

    # --- Events ---------------------------------------------------------------------------------

    def events_between(self, *, customer_ids, starting_at, ending_before, event_types):
        query = sql.events_between(
            self.database, customer_ids, starting_at, ending_before, event_types
        )
        for event_type, properties in self.client.rows(query):
            yield event_type, _properties(properties)

    def events_by_transaction(self, *, transaction_ids, since) -> list[StoredEvent]:
        ids = list(transaction_ids)
        if not ids:
            return []
        found = []
        keys = self.client.rows(sql.event_keys(self.database, ids, since))
        if keys:
            customers = sorted({row[0] for row in keys})
            hours = sorted({row[1] for row in keys})
            for row in self.client.rows(sql.events_at(self.database, customers, hours, ids, since)):
                found.append(_stored(row))
        for tx, customer, kind, stamp, properties, received, event_id in self.client.rows(
            sql.duplicates_of(self.database, ids, since)
        ):
            found.append(
                StoredEvent(
                    id=uuid.UUID(event_id),
                    transaction_id=tx,
                    customer_id=customer,
                    event_type=kind,
                    timestamp=_moment(stamp),
                    properties=_properties(properties),
                    received_at=_moment(received),
                    is_duplicate=True,
                )
            )
        return found

    def transaction_accepted_at(self, *, transaction_id, since):
        return self._accepted([transaction_id], since).get(transaction_id)

    def late_event_count(self, *, customer_ids) -> int:
        if not customer_ids:
            return 0
        return int(self.client.rows(sql.late_count(self.database, customer_ids))[0][0])

    def event_customer_ids(self) -> list[str]:
        return sorted(row[0] for row in self.client.rows(sql.customer_ids(self.database)))

    def customer_id_activity(self, *, customer_ids, since):
        if not customer_ids:
            return []
        return [
            CustomerIdActivity(customer_id, int(events), _moment(last))
            for customer_id, events, last in self.client.rows(
                sql.activity(self.database, list(customer_ids), since)
            )
        ]

    def recent_events(
        self, *, customer_ids=None, transaction_id=None, event_type=None, before=None, limit=50
    ):
        query = sql.recent(self.database, customer_ids, transaction_id, event_type, before, limit)
        return [_stored(row) for row in self.client.rows(query)]

    # --- SQL metrics ----------------------------------------------------------------------------

    def sql_metric_rows(
        self,
        *,
        sql,
        by_hour,
        customer_ids,
        starting_at,
        ending_before,
        only=None,
        ranges=None,
        hours_from=None,
    ):
        """The query compiled for ClickHouse over the event rows (exact without `FINAL`, see
        above), every value a bound parameter, under `max_execution_time`."""
        from ...sql_metrics.compiler import bind_clickhouse, compiled_for
        from ...sql_metrics.runner import SqlMetricFailure, SqlMetricTimeout, timeout_ms

        query, params = bind_clickhouse(
            compiled_for(sql, "clickhouse", by_hour),
            database=self.database,
            customer_ids=list(customer_ids),
            starting_at=starting_at,
            ending_before=ending_before,
            only=only,
            ranges=ranges,
            hours_from=hours_from,
        )
        limit = timeout_ms()
        # 0 would mean no limit to ClickHouse.
        settings = [*SQL_METRIC_SETTINGS, f"max_execution_time = {max(limit, 1) / 1000}"]
        try:
            return self.client.rows_bound(f"{query} SETTINGS {', '.join(settings)}", params)
        except Exception as exc:
            reason = str(exc)
            if "TIMEOUT_EXCEEDED" in reason or "Timeout exceeded" in reason:
                raise SqlMetricTimeout(
                    f"The SQL metric ran longer than {limit} ms and was stopped."
                ) from None
            raise SqlMetricFailure(
                f"The database refused the query: {_engine_reason(reason)}"
            ) from None

    def event_counts_by_hour(self, *, metric, customer_ids, starting_at, ending_before):
        params = sql.Bound()
        query = sql.hour_counts(
            self.database,
            bound=params,
            metric_id=metric.pk,
            customer_ids=list(customer_ids),
            starting_at=starting_at,
            ending_before=ending_before,
        )
        return {
            datetime.fromtimestamp(int(hour), UTC): int(count)
            for hour, count in self.client.rows_bound(query, params)
        }


def _engine_reason(text: str) -> str:
    """ClickHouse's reason without its error code, the query it quotes and its stack."""
    text = text.split("DB::Exception:", 1)[-1].strip()
    for cut in (" In scope ", ". (", ": while executing", "\n"):
        text = text.split(cut, 1)[0]
    return text.strip().rstrip(".") + "."


def _stored(row) -> StoredEvent:
    tx, customer, kind, stamp, properties, received, late, event_id = row
    return StoredEvent(
        id=uuid.UUID(event_id),
        transaction_id=tx,
        customer_id=customer,
        event_type=kind,
        timestamp=_moment(stamp),
        properties=_properties(properties),
        received_at=_moment(received),
        is_late=bool(late),
    )


def measure_lines(rows, *, rollups: bool = True) -> list[str]:
    """Aggregate and distinct rows (JSONEachRow) for contributions
    (metric id, customer id, hour, group values, value, distinct value, timestamp, transaction id),
    added up per metric, customer id, hour and group values first; with `rollups` also per UTC
    day and calendar month (kinds `day`, `month`; a backfill rebuilds those from the hours)."""
    partials: dict[tuple, Partial] = {}
    distinct: set[tuple] = set()
    for metric_id, customer_id, hour, group, value, distinct_value, timestamp, tx in rows:
        key = (str(metric_id), customer_id, _hour_stamp(hour), group)
        periods = [("aggregate", key[2])]
        if rollups:
            periods += [(grain, _hour_stamp(period_start(grain, hour))) for grain in GRAINS]
        for kind, start in periods:
            partial = partials.get((kind, *key[:2], start, group))
            if partial is None:
                partial = partials[(kind, *key[:2], start, group)] = Partial()
            partial.add(value, timestamp, tx)
        if distinct_value is not None:
            distinct.add((*key, distinct_value))
    lines = []
    for (kind, metric_id, customer_id, start, group), partial in partials.items():
        row = {
            "kind": kind,
            "customer_id": customer_id,
            "metric_id": metric_id,
            "hour": start,
            "group_values": group,
            "transaction_id": "",
            "received_at": EPOCH,
            "event_count": partial.count,
            "latest": [
                _stamp(partial.latest_timestamp),
                partial.latest_transaction_id,
                "" if partial.latest_value is None else str(partial.latest_value),
            ],
        }
        if partial.total is not None:
            whole, frac1, frac2, scale = value_parts(partial.total)
            row.update(sum_int=str(whole), sum_frac1=str(frac1), sum_frac2=str(frac2))
            row["sum_scale"] = scale
            high = value_parts(partial.maximum)
            row["max_value"] = [str(high[0]), str(high[1]), str(high[2]), str(partial.maximum)]
        lines.append(json.dumps(row))
    for metric_id, customer_id, hour, group, value in distinct:
        lines.append(
            json.dumps(
                {
                    "kind": "distinct",
                    "customer_id": customer_id,
                    "metric_id": metric_id,
                    "hour": hour,
                    "group_values": group,
                    "transaction_id": value,
                    "received_at": EPOCH,
                }
            )
        )
    return lines


def _roll(bucket: dict, group, aggregation: str, measures) -> None:
    """Add one (segment, full group values) row to the state of its requested group."""
    state = bucket.get(group)
    if aggregation == "COUNT":
        bucket[group] = int(measures[0]) + (state or 0)
    elif aggregation == "SUM":
        parts = [int(m) for m in measures]
        if state is None:
            bucket[group] = parts
        else:
            state[0] += parts[0]
            state[1] += parts[1]
            state[2] += parts[2]
            state[3] = max(state[3], parts[3])
    elif aggregation == "MAX":
        high = (int(measures[0][0]), int(measures[0][1]), int(measures[0][2]), measures[0][3])
        if state is None or high > state:
            bucket[group] = high
    else:  # LATEST: (timestamp text, transaction id, value text), greatest wins
        latest = tuple(measures[0])
        if state is None or latest > state:
            bucket[group] = latest


def _value(aggregation: str, state) -> Decimal:
    if aggregation == "COUNT":
        return Decimal(state)
    if aggregation == "SUM":
        return value_from_parts(*state)
    if aggregation == "MAX":
        return Decimal(state[3])
    return Decimal(state[2])
