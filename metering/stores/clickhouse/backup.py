"""The ClickHouse store's part of `manage.py backup` / `restore`: every table of the schema
(`schema.MIGRATIONS`) exported in ClickHouse's Native format, one file per table, with a manifest
(the migrations applied, when the store was snapshotted, when the database's backup began), into a
directory beside the database's backup; restored by emptying each table and inserting the file
back.

One snapshot of the store, taken after the database's: while no flush and no backfill chunk is
under way (the store's writer and, across processes, the guard's exclusive lock, which every
flush takes shared), each table's parts are attached to a copy (hard links, no data copied: the
lock is held for milliseconds); the copies are exported after the lock is released, then
dropped. So the events, their aggregate rows and the dropped duplicates are of one instant (a
backfill never shows half rebuilt), and every event the database's invoices counted is in it
(the database was copied first). On a cluster (`Distributed` over replicated local tables) the
same, on every node: under the lock each replica first fetches what the others wrote (`SYSTEM
SYNC REPLICA`), then every node attaches its local parts to a local copy (`ON CLUSTER`); the
export reads the copies of one replica per shard (`cluster(...)`). The statements are the
schema's (`schema.Table.snapshot*`), as every other statement the store runs is generated there
or in `sql.py`.

What the pair guarantees after a restore: no invoice counts usage the restored store lacks.
Events accepted between the database's backup and the store's snapshot are kept (they were
acknowledged); the restored database never marked their customers for alerts, so the restore
marks them (`marks`, from `database_started_at`).

The rows are exported as stored, merged or not: an aggregate row inserted back adds the same
amounts, so reads give the same answers whatever merges did before or do after. Inserts are not
deduplicated by block (`insert_deduplicate=0`): a replicated table would otherwise drop a restored
block identical to one it saw before the restore.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import migrate, schema, sql
from .client import EventStoreError

MANIFEST = "manifest.json"
FORMAT = "billing-event-store/1"
SNAPSHOT = "_snapshot_"


def tables() -> list[schema.Table]:
    return [table for migration in schema.MIGRATIONS for table in migration.tables]


def store_backup(
    client,
    directory: Path,
    *,
    held: Callable[[], contextlib.AbstractContextManager],
    database_started_at: datetime | None = None,
) -> list[str]:
    """Export every table, as of one instant taken while `held()` is held, into `directory`
    (made; its earlier files replaced). The export runs after `held()` is released."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    at = {"database": client.database, "cluster": client.cluster}
    copies = [(table, f"{table.name}{SNAPSHOT}{uuid.uuid4().hex}") for table in tables()]
    try:
        with held():
            taken_at = datetime.now(UTC)
            for table, copy in copies:
                _snapshot(client, table, copy)
        for table, copy in copies:
            client.export_native(
                table.snapshot_rows(**at, copy=copy), directory / f"{table.name}.native"
            )
    finally:
        for table, copy in copies:
            client.command(table.snapshot_drop(**at, copy=copy))
    manifest = {
        "format": FORMAT,
        "migrations": migrate.applied(client),
        "tables": [table.name for table, _ in copies],
        "taken_at": taken_at.isoformat(),
        "database_started_at": database_started_at and database_started_at.isoformat(),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest["tables"]


def _snapshot(client, table: schema.Table, copy: str) -> None:
    """`copy`: the table's active parts as of now (`schema.Table.snapshot`)."""
    at = {"database": client.database, "cluster": client.cluster}
    for statement in table.snapshot_ready(**at):
        client.command(statement)
    partitions = [partition for (partition,) in client.rows(table.snapshot_partitions(**at))]
    for statement in table.snapshot(**at, copy=copy, partitions=partitions):
        client.command(statement)


def manifest_read(directory: Path) -> dict:
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise EventStoreError(
            f"{directory} is not an event store backup made by `manage.py backup` ({exc})."
        ) from None
    if manifest.get("format") != FORMAT:
        raise EventStoreError(f"{directory}: unknown event store backup format.")
    return manifest


def store_restore(client, directory: Path) -> list[str]:
    """Replace every table's rows with the files of a `backup` in `directory`."""
    directory = Path(directory)
    manifest = manifest_read(directory)
    known = {migration.version for migration in schema.MIGRATIONS}
    newer = [version for version in manifest["migrations"] if version not in known]
    if newer:
        raise EventStoreError(
            f"{directory} was taken by newer code (event store migrations {', '.join(newer)}): "
            "restore it with that code."
        )
    missing = [name for name in manifest["tables"] if not (directory / f"{name}.native").is_file()]
    if missing:
        raise EventStoreError(f"{directory} lacks the files of {', '.join(missing)}.")
    migrate.apply(client)
    known_tables = {table.name: table for table in tables()}
    for name in manifest["tables"]:
        client.command(
            known_tables[name].truncate(database=client.database, cluster=client.cluster)
        )
        client.import_native(name, directory / f"{name}.native")
    return list(manifest["tables"])


def marks(client, directory: Path) -> list[str]:
    """The customer ids with events accepted after the database's backup began (the restored
    database never marked them for alerts); all of them for a backup that did not say when."""
    started = manifest_read(directory).get("database_started_at")
    since = datetime.fromisoformat(started) if started else datetime(1970, 1, 1, tzinfo=UTC)
    return [
        customer_id
        for (customer_id,) in client.rows(sql.received_customers(client.database, since))
    ]
