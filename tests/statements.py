"""Every SQL statement sent to the database inside a block, the hot paths' own included.

On PostgreSQL the hot paths send their statements through psycopg cursors of their own
(`core.db.hot_cursor`), which Django's query capture does not see: there the count is taken at
psycopg's `Cursor.execute`, which Django's cursors go through too. On SQLite every statement goes
through Django's cursor wrapper.
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

        original = psycopg.Cursor.execute

        def execute(cursor, query, *args, **kwargs):
            sent.append(query if isinstance(query, str) else str(query))
            return original(cursor, query, *args, **kwargs)

        psycopg.Cursor.execute = execute
        try:
            yield sent
        finally:
            psycopg.Cursor.execute = original
        return

    def wrapper(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent
