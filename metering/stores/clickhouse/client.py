"""The two ways to reach the ClickHouse engine, with one small interface (`rows`, `insert`,
`command`) so that the store runs the same SQL through either:

- `HttpClient` (`clickhouse://` or `clickhouses://`): a ClickHouse server or cluster through
  `clickhouse-connect`, one client per thread (its HTTP pool is thread-safe, a session is not:
  no session id is sent). Inserts are asynchronous on the server and acknowledged once written
  (`async_insert=1, wait_for_async_insert=1`): the server gathers many web nodes' small batches
  into one part, and a 200 still means durable. On a cluster, inserts through the `Distributed`
  table are sent to the shards before the INSERT returns (`distributed_foreground_insert=1`).
- `ChdbClient` (`chdb:///path`): the same engine inside this process. chdb lets one process open a
  data path; this client takes an exclusive lock on `<path>/billing-event-store.lock` first, so a
  second process is refused at once with the pid that holds it, instead of chdb's "Cannot lock
  file .../status".

Results are read as `JSONCompactEachRow` (one JSON array per row; 256-bit integers as exact
Python ints); data is written as `JSONEachRow`. `rows_bound` runs a query whose values are bound
parameters (`{name:Type}`, formatted by clickhouse-connect's own binding for both clients) and
reads its fractional numbers as exact `Decimal`s (the SQL metrics).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .sql import text


class EventStoreError(RuntimeError):
    """The ClickHouse store cannot be used as configured (the message says why)."""


class EventStoreBusy(EventStoreError):
    """Another process has the chdb path open."""


@dataclass(frozen=True)
class Location:
    scheme: str
    database: str
    cluster: str | None
    path: str = ""
    host: str = ""
    port: int | None = None
    username: str = ""
    password: str = ""


def parse_url(url: str) -> Location:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    if parts.scheme == "chdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise EventStoreError(
                f"EVENT_STORE_URL {url!r}: write chdb:///absolute/path (three slashes)"
            )
        return Location(scheme="chdb", database="metering", cluster=None, path=parts.path)
    database = parts.path.strip("/") or "default"
    if not database.replace("_", "").isalnum():
        raise EventStoreError(f"EVENT_STORE_URL {url!r}: the database name must be a word")
    cluster = query.get("cluster") or None
    if cluster is not None and not cluster.replace("_", "").isalnum():
        raise EventStoreError(f"EVENT_STORE_URL {url!r}: the cluster name must be a word")
    return Location(
        scheme=parts.scheme,
        database=database,
        cluster=cluster,
        host=parts.hostname or "localhost",
        port=parts.port,
        username=urllib.parse.unquote(parts.username or "default"),
        password=urllib.parse.unquote(parts.password or ""),
    )


def _rows(raw: bytes) -> list[list]:
    """JSONCompactEachRow's rows, parsed as one JSON array (10,000 rows: a third of the time of
    parsing them one by one)."""
    return json.loads(b"[" + b",".join(line for line in raw.splitlines() if line) + b"]")


def _exact_rows(raw: bytes) -> list[list]:
    return [json.loads(line, parse_float=Decimal) for line in raw.splitlines() if line]


class ChdbClient:
    def __init__(self, location: Location):
        self.location = location
        self.database = location.database
        self.cluster = None
        os.makedirs(location.path, exist_ok=True)
        self._lock_file = _lock_path(location.path)
        self._local = threading.local()
        import chdb.state  # noqa: F401  (imported only when chdb is the store: it is large)

        self.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            import chdb.state

            try:
                connection = chdb.state.connect(self.location.path)
            except Exception as exc:  # chdb's own refusal, if our lock did not catch it first
                raise EventStoreBusy(_busy_message(self.location.path, "?")) from exc
            self._local.connection = connection
        return connection

    def rows(self, sql: str) -> list[list]:
        return _rows(self._connection().query(sql, "JSONCompactEachRow").bytes())

    def rows_bound(self, sql: str, params: dict) -> list[list]:
        from clickhouse_connect.driver.binding import format_bind_value

        bound = {name: format_bind_value(value) for name, value in params.items()}
        return _exact_rows(
            self._connection().query(sql, "JSONCompactEachRow", params=bound).bytes()
        )

    def command(self, sql: str) -> None:
        self._connection().query(sql, "CSV")

    def insert(self, table: str, lines: str, *, database: str = "") -> None:
        self._connection().query(
            f"INSERT INTO {database or self.database}.{table} FORMAT JSONEachRow\n{lines}", "CSV"
        )

    def export_native(self, query: str, path: Path) -> None:
        """The query's rows into the file at `path` (replaced), in Native format, streamed by
        the engine."""
        self.command(
            f"INSERT INTO FUNCTION file({text(str(path))}, 'Native') {query} "
            "SETTINGS engine_file_truncate_on_insert = 1"
        )

    def import_native(self, table: str, path: Path) -> None:
        self.command(
            f"INSERT INTO {self.database}.{table} SETTINGS insert_deduplicate = 0 "
            f"SELECT * FROM file({text(str(path))}, 'Native')"
        )


def _busy_message(path: str, pid: str) -> str:
    return (
        f"The chdb event store {path} is open in another process (pid {pid}). chdb lets one "
        "process open a data path: with EVENT_STORE_URL=chdb://, run everything that touches "
        "events (the web server with threads, tasks, commands) in that one process, or stop it "
        "first; several processes share a ClickHouse server through clickhouse://."
    )


_held_locks: dict[str, int] = {}
_held_guard = threading.Lock()


def _lock_path(path: str) -> str:
    """Take (once per process) the exclusive lock of a chdb data path, or refuse clearly."""
    lock_file = os.path.join(path, "billing-event-store.lock")
    with _held_guard:
        if lock_file in _held_locks:
            return lock_file
        descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise EventStoreBusy(_busy_message(path, holder)) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        _held_locks[lock_file] = descriptor
    return lock_file


class HttpClient:
    INSERT_SETTINGS = {
        "async_insert": 1,
        "wait_for_async_insert": 1,
        "distributed_foreground_insert": 1,
    }

    def __init__(self, location: Location):
        self.location = location
        self.database = location.database
        self.cluster = location.cluster
        self._local = threading.local()

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            import clickhouse_connect

            location = self.location
            client = clickhouse_connect.get_client(
                host=location.host,
                port=location.port,
                username=location.username,
                password=location.password,
                secure=location.scheme == "clickhouses",
                autogenerate_session_id=False,
            )
            self._local.client = client
        return client

    def rows(self, sql: str) -> list[list]:
        return _rows(self._client().raw_query(sql, fmt="JSONCompactEachRow", use_database=False))

    def rows_bound(self, sql: str, params: dict) -> list[list]:
        raw = self._client().raw_query(
            sql, parameters=params, fmt="JSONCompactEachRow", use_database=False
        )
        return _exact_rows(raw)

    def command(self, sql: str) -> None:
        # No FORMAT clause appended: CREATE FUNCTION's grammar has none.
        self._client().raw_query(sql, fmt=None, use_database=False)

    def insert(self, table: str, lines: str, *, database: str = "") -> None:
        settings = self.INSERT_SETTINGS
        if database:
            # A preview's Memory table (`ClickHouseStore.preview`): nothing to gather.
            settings = {**settings, "async_insert": 0}
        self._client().raw_insert(
            f"{database or self.database}.{table}",
            insert_block=lines.encode(),
            fmt="JSONEachRow",
            settings=settings,
        )

    def export_native(self, query: str, path: Path) -> None:
        """The query's rows into the local file at `path` (replaced), in Native format, streamed
        from the server."""
        stream = self._client().raw_stream(query, fmt="Native", use_database=False)
        try:
            with open(path, "wb") as file:
                for chunk in stream:
                    file.write(chunk)
        finally:
            stream.close()

    def import_native(self, table: str, path: Path) -> None:
        with open(path, "rb") as file:
            self._client().raw_insert(
                f"{self.database}.{table}",
                insert_block=file,
                fmt="Native",
                settings={**self.INSERT_SETTINGS, "async_insert": 0, "insert_deduplicate": 0},
            )


def client_for(url: str) -> ChdbClient | HttpClient:
    location = parse_url(url)
    if location.scheme == "chdb":
        return ChdbClient(location)
    return HttpClient(location)
