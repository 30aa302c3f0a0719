"""Statements on hot paths (ingestion) on PostgreSQL: a psycopg cursor with server-side binding on
Django's own connection, so that it joins an enclosing transaction (tests) and is its own
transaction in autocommit, and so that `execute(..., prepare=True)` parses and plans the statement
once per connection.

Django binds parameters client-side (each value formatted into the SQL text, in Python) and turns
psycopg's prepared statements off: fine for most queries, costly for a statement run for every
ingest batch with JSON documents or arrays as parameters.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from django.db.models import JSONField, Model

# A threshold no other query reaches: only statements executed with `prepare=True` are prepared.
# (Not for PgBouncer in transaction mode, where prepared statements do not follow the session.)
_ONLY_WHEN_ASKED = 2**31 - 1


@contextmanager
def hot_cursor(*, native: bool = False) -> Iterator:
    """A psycopg cursor on Django's PostgreSQL connection; errors become Django's (and a broken
    connection is marked for replacement), as with `connection.cursor()`. With `native`, a
    `RawCursor`: PostgreSQL's own `$1` placeholders and a sequence of parameters, the statement
    sent as is (psycopg parses the `%(name)s` of a statement over 4,096 bytes on every execute)."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    kind = psycopg.RawCursor if native else psycopg.Cursor
    with connection.wrap_database_errors, kind(raw) as cursor:
        yield cursor


def fetch_one(sql: str, params: list):
    """The first row of a small query run on every request (`%s` placeholders): prepared on
    PostgreSQL, through Django's cursor elsewhere."""
    if connection.vendor == "postgresql":
        with hot_cursor() as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def rows_insert(model: type[Model], objects: Sequence[Model]) -> None:
    """Insert new model instances whose every concrete field is set (primary keys included):
    one COPY on PostgreSQL, `bulk_create` elsewhere. For many rows on a hot path (finalization's
    invoice lines): `bulk_create` prepares each value of each row through its field and binds it
    into the SQL text in Python, which cost more than the database spends storing the rows. No
    save signals are sent (as with `bulk_create`)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=1000)
        return
    fields = model._meta.concrete_fields
    encoders = [_copy_encoder(field) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with hot_cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objects:
            values = obj.__dict__
            copy.write_row(
                [
                    encode(values[field.attname]) if encode else values[field.attname]
                    for field, encode in zip(fields, encoders, strict=True)
                ]
            )


def _copy_encoder(field) -> Callable | None:
    """How a field's value is written in a COPY row: JSON as its text (as `JSONField` writes it),
    every other value as psycopg writes it."""
    if isinstance(field, JSONField):
        return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
    return None
