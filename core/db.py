"""Statements on hot paths (ingestion) on PostgreSQL: a psycopg cursor with server-side binding on
Django's own connection, so that it joins an enclosing transaction (tests) and is its own
transaction in autocommit, and so that `execute(..., prepare=True)` parses and plans the statement
once per connection.

Django binds parameters client-side (each value formatted into the SQL text, in Python) and turns
psycopg's prepared statements off: fine for most queries, costly for a statement run for every
ingest batch with JSON documents or arrays as parameters.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

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
