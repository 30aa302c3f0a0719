"""The ClickHouse store's part of `manage.py backup` / `restore`: every table of the schema
(`schema.MIGRATIONS`) exported in ClickHouse's Native format, one file per table, with a manifest
of the migrations applied, into a directory beside the database's backup; restored by emptying
each table and inserting the file back.

The rows are exported as stored, merged or not: an aggregate row inserted back adds the same
amounts, so reads give the same answers whatever merges did before or do after. Inserts are not
deduplicated by block (`insert_deduplicate=0`): a replicated table would otherwise drop a restored
block identical to one it saw before the restore.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import migrate, schema
from .client import EventStoreError

MANIFEST = "manifest.json"
FORMAT = "billing-event-store/1"


def tables() -> list[str]:
    return [table.name for migration in schema.MIGRATIONS for table in migration.tables]


def store_backup(client, directory: Path) -> list[str]:
    """Export every table into `directory` (made; its earlier files replaced)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = tables()
    for name in names:
        client.export_native(
            f"SELECT * FROM {client.database}.{name}", directory / f"{name}.native"
        )
    manifest = {"format": FORMAT, "migrations": migrate.applied(client), "tables": names}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return names


def store_restore(client, directory: Path) -> list[str]:
    """Replace every table's rows with the files of a `backup` in `directory`."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise EventStoreError(
            f"{directory} is not an event store backup made by `manage.py backup` ({exc})."
        ) from None
    if manifest.get("format") != FORMAT:
        raise EventStoreError(f"{directory}: unknown event store backup format.")
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
    on_cluster = f" ON CLUSTER {client.cluster}" if client.cluster else ""
    for name in manifest["tables"]:
        stored = f"{name}_local" if client.cluster else name
        client.command(f"TRUNCATE TABLE IF EXISTS {client.database}.{stored}{on_cluster}")
        client.import_native(name, directory / f"{name}.native")
    return list(manifest["tables"])
