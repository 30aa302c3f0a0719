"""Who may decide that a transaction id is new, across processes.

In one process the store's writer lock already serializes every dedup decision (`chdb://` is
always one process). With `clickhouse://`, several web nodes and workers write to one ClickHouse;
two of them must never look up the same transaction id and both find it new. The relational
database (always there: contracts and invoices live in it) holds the locks, for the duration of
the lookup and the INSERT:
- PostgreSQL: a transaction-scoped advisory lock per bucket of transaction ids (2^20 buckets,
  taken in order, so two batches never wait on each other in a cycle), plus the shared side of
  one more key that a metric backfill takes exclusively (as the relational store's backfill
  takes `LOCK TABLE ... SHARE MODE`). Batches with no id in common take disjoint buckets and
  do not wait for each other.
- SQLite: one writer at a time anyway; the transaction begins IMMEDIATE (the settings' mode),
  which is the lock.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterable, Iterator

from django.db import connection, transaction

NAMESPACE = 0x45564E54  # "EVNT"
BACKFILL = -1
BUCKETS = 1 << 20


def bucket(transaction_id: str) -> int:
    return zlib.crc32(transaction_id.encode()) % BUCKETS


class ProcessGuard:
    """`chdb://`: the store's writer lock is enough (one process)."""

    @contextlib.contextmanager
    def ingest(self, transaction_ids: Iterable[str]) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield


class RelationalGuard:
    """`clickhouse://`: locks in the relational database, held until the block ends."""

    @contextlib.contextmanager
    def ingest(self, transaction_ids: Iterable[str]) -> Iterator[None]:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                buckets = sorted({bucket(t) for t in transaction_ids})
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock_shared(%s, %s)", [NAMESPACE, BACKFILL]
                    )
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s, b) FROM "
                        "(SELECT unnest(%s::int[]) AS b ORDER BY 1) AS ordered",
                        [NAMESPACE, buckets],
                    )
            yield

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, BACKFILL])
            yield


def for_url(url: str) -> ProcessGuard | RelationalGuard:
    return ProcessGuard() if url.startswith("chdb:") else RelationalGuard()
