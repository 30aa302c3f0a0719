"""Apply the ClickHouse store's schema migrations (`schema.MIGRATIONS`) in order, once each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from . import schema, sql
from .client import EventStoreError


def plan(*, database: str, cluster: str | None) -> list[tuple[str, list[str]]]:
    """Every migration with the statements it runs in this layout (single node or cluster)."""
    return [(m.version, m.sql(database=database, cluster=cluster)) for m in schema.MIGRATIONS]


def applied(client) -> list[str]:
    for statement in schema.ledger_sql(database=client.database, cluster=client.cluster):
        client.command(statement)
    return [row[0] for row in client.rows(sql.applied_migrations(client.database, schema.LEDGER))]


def pending(client) -> list[schema.Migration]:
    done = set(applied(client))
    return [m for m in schema.MIGRATIONS if m.version not in done]


def apply(client, progress: Callable[[str], None] | None = None) -> list[str]:
    """Run the pending migrations (each statement is idempotent: IF NOT EXISTS); returns their
    versions."""
    versions = []
    for migration in pending(client):
        for statement in migration.sql(database=client.database, cluster=client.cluster):
            client.command(statement)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        client.insert(
            schema.LEDGER, f'{{"version": "{migration.version}", "applied_at": "{stamp}"}}'
        )
        versions.append(migration.version)
        if progress:
            progress(f"Applied {migration.version}")
    return versions


def check(client) -> None:
    missing = [m.version for m in pending(client)]
    if missing:
        raise EventStoreError(
            f"The ClickHouse event store lacks migrations {', '.join(missing)}: run "
            "`python manage.py migrate_event_store` first."
        )
