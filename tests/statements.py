"""Every SQL statement sent to the database inside a block, the hot paths' own included.

On PostgreSQL the hot paths send their statements through psycopg cursors of their own
(`core.db.hot_cursor`), which Django's query capture does not see: there the count is taken at
psycopg's `Cursor.execute` (which Django's cursors go through too) and `Cursor.copy`. On SQLite
every statement goes through Django's cursor wrapper.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def statements_sent() -> Iterator[list[str]]:
    sent: list[str] = []
    if connection.vendor == "postgresql":
        import psycopg

        original, original_copy = psycopg.Cursor.execute, psycopg.Cursor.copy

        def execute(cursor, query, *args, **kwargs):
            sent.append(query if isinstance(query, str) else str(query))
            return original(cursor, query, *args, **kwargs)

        def copy(cursor, statement, *args, **kwargs):
            sent.append(statement if isinstance(statement, str) else str(statement))
            return original_copy(cursor, statement, *args, **kwargs)

        psycopg.Cursor.execute, psycopg.Cursor.copy = execute, copy
        try:
            yield sent
        finally:
            psycopg.Cursor.execute, psycopg.Cursor.copy = original, original_copy
        return

    def wrapper(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent
