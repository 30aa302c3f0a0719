"""Usage marks (`metering.models.UsageMark`): the customer ids with usage stored since the apps
above last looked. They live in the relational database whatever the event store: the relational
store writes them in its ingest statement (PostgreSQL) or transaction (SQLite), the ClickHouse
store right after a flush's INSERT succeeded (a mark for an event that then failed to be written
would only make a reader look once for nothing)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from ..models import UsageMark


def usage_marks_add(cursor, customer_ids: Iterable[str], received) -> bool:
    """Mark these customer ids with new usage; True if no mark existed before (the readers may
    be idle: the caller records `usage.marked`)."""
    ordered = sorted(set(customer_ids))
    if not ordered:
        return False
    table = connection.ops.quote_name(UsageMark._meta.db_table)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
    was_marked = bool(cursor.fetchone()[0])
    cursor.execute(
        f"INSERT INTO {table} (customer_id, marked_at) VALUES "
        + ", ".join(["(%s, %s)"] * len(ordered))
        + " ON CONFLICT (customer_id) DO NOTHING",
        [part for customer_id in ordered for part in (customer_id, received)],
    )
    return cursor.rowcount > 0 and not was_marked


def usage_marks_record(customer_ids: Iterable[str], received) -> bool:
    """`usage_marks_add` in a transaction of its own (the ClickHouse store's flushes)."""
    stamp = connection.ops.adapt_datetimefield_value(received)
    with transaction.atomic(), connection.cursor() as cursor:
        return usage_marks_add(cursor, customer_ids, stamp)
