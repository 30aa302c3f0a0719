"""Backups of the whole database, taken while the product runs, and restoring one.

- SQLite (the embedded default): SQLite's online backup API copies a consistent snapshot page by
  page, the write-ahead log included (a plain `cp db.sqlite3` misses whatever is still in the
  WAL and can copy a half-written page). Restoring copies the backup into the live database the
  same way, in one step.
- PostgreSQL: `pg_dump --format=custom` (a consistent snapshot; writers are not blocked), restored
  by `pg_restore --clean --if-exists --single-transaction`: all or nothing. The tools come from
  Debian's postgresql package and must match the server's major version, so the binary of that
  version is preferred (`/usr/lib/postgresql/<major>/bin`), then the one on PATH.

A backup file says what it is in its first bytes (`SQLite format 3` or `PGDMP`); restoring one
into the other kind of database is refused.

With a ClickHouse event store (`EVENT_STORE_URL=clickhouse://` or `chdb://`) the events and their
aggregates are not in the database: the store writes its tables into `<PATH>.events/` (the store's
`backup`: one snapshot of the store taken after the database's, so it holds every event the
database's invoices count; see `metering.stores.clickhouse.backup`) and the restore puts them back
(the store's `restore`, which also marks for alerts the customers whose events arrived after the
database's backup began). A restore with a ClickHouse store refuses a
backup without `<PATH>.events/`, and a restore with the relational store refuses one that has it
(the events would be lost either way).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.db import connections

from metering.stores import event_store
from metering.stores.clickhouse.client import EventStoreError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


def events_path(path: Path) -> Path:
    """Where the event store's tables of the backup at `path` are (a directory)."""
    path = Path(path)
    return path.with_name(path.name + ".events")


def backup(path: Path, *, using: str = "default") -> tuple[str, list[str]]:
    """The database's backup at `path`, then the event store's tables (none for the relational
    store) at `events_path(path)`; return the database's kind and the tables."""
    store = _store()
    started = datetime.now(UTC)
    kind = database_backup(path, using=using)
    if not store.backs_up_apart:
        return kind, []
    target = events_path(path)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        tables = store.backup(directory=partial, database_started_at=started)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    except EventStoreError as exc:
        raise BackupError(f"The event store's backup failed: {exc}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return kind, tables


def restore(path: Path, *, using: str = "default") -> tuple[str, list[str]]:
    """The database from the backup at `path`, then the event store's tables; refused before
    anything is replaced when the backup and the configured store do not match."""
    store = _store()
    events = events_path(path)
    if store.backs_up_apart and not events.is_dir():
        raise BackupError(
            f"{path} has no event store backup ({events}): the events of this ClickHouse event "
            "store would be lost. Restore a backup taken with it."
        )
    if not store.backs_up_apart and events.is_dir():
        raise BackupError(
            f"{path} was taken with a ClickHouse event store ({events}): set EVENT_STORE_URL to "
            "that store to restore its events too."
        )
    kind = database_restore(path, using=using)
    if not store.backs_up_apart:
        return kind, []
    try:
        return kind, store.restore(directory=events)
    except EventStoreError as exc:
        raise BackupError(
            f"The database was restored, the event store's tables were not: {exc} "
            "Run the restore again once the cause is fixed."
        ) from None


def _store():
    """The configured event store, or why it cannot be opened (with `chdb://`: the server has
    the data path open)."""
    try:
        return event_store()
    except EventStoreError as exc:
        raise BackupError(str(exc)) from None


def database_backup(path: Path, *, using: str = "default") -> str:
    """Write a backup of the database to `path` (replaced only once complete); return its kind."""
    connection = connections[using]
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            target = sqlite3.connect(partial)
            try:
                connection.connection.backup(target)
            finally:
                target.close()
        elif connection.vendor == "postgresql":
            _run(
                _pg_tool(connection, "pg_dump"),
                ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"],
                connection,
            )
        else:
            raise BackupError(f"Backups of {connection.vendor} databases are not supported.")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return connection.vendor


def database_restore(path: Path, *, using: str = "default") -> str:
    """Replace the database's contents with the backup at `path`; return its kind."""
    connection = connections[using]
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from None
    kind = (
        "sqlite"
        if head.startswith(SQLITE_MAGIC)
        else "postgresql"
        if head.startswith(PG_MAGIC)
        else None
    )
    if kind is None:
        raise BackupError(f"{path} is not a backup made by `manage.py backup`.")
    if kind != connection.vendor:
        raise BackupError(
            f"{path} is a {kind} backup; this database is {connection.vendor}. "
            "Restore it into the same kind of database it was taken from."
        )
    if kind == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    else:
        connection.close()  # our own idle connection must not hold locks on what is replaced
        _run(
            _pg_tool(connection, "pg_restore"),
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                str(path),
            ],
            connection,
        )
    return kind


def _pg_tool(connection, name: str) -> str:
    connection.ensure_connection()
    major = connection.pg_version // 10000
    matching = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if matching.is_file():
        return str(matching)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL {major}'s client tools "
            "(Debian: apt-get install postgresql-client)."
        )
    return found


def _run(tool: str, arguments: list[str], connection) -> None:
    """Run a PostgreSQL client tool against the connection's database (its password and SSL mode
    passed in the environment, never on the command line)."""
    settings = connection.settings_dict
    env = {**os.environ}
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    if settings.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = str(settings["OPTIONS"]["sslmode"])
    target = []
    if settings.get("HOST"):
        target.append(f"--host={settings['HOST']}")
    if settings.get("PORT"):
        target.append(f"--port={settings['PORT']}")
    if settings.get("USER"):
        target.append(f"--username={settings['USER']}")
    target.append(f"--dbname={settings['NAME']}")
    result = subprocess.run(
        [tool, "--no-password", *target, *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(tool).name} failed: {result.stderr.strip()}")
