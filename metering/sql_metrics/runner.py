"""Running a bound SQL metric query on the relational database under its statement timeout (the
ClickHouse store sets `max_execution_time` itself), and reading its numbers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.utils import DatabaseError

# What a query grouped by hour or day (`compiler._hourly_query`) carries: a user's names cannot
# start with two underscores.
BUCKETED = " AS __hour "


class SqlMetricTimeout(RuntimeError):
    """A SQL metric ran longer than its statement timeout."""


class SqlMetricFailure(ValueError):
    """The database refused to run a checked query (a type error: SUM of text...)."""


def timeout_ms() -> int:
    return int(getattr(settings, "SQL_METRIC_TIMEOUT_MS", 5000))


def run_bound(sql: str, params: list, *, parallel: bool = False) -> list[tuple]:
    """Run under the statement timeout; a timeout or a database error is ours to name.
    `parallel`: a whole window grouped by bucket, which PostgreSQL should read in parallel."""
    limit = timeout_ms()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # 0 would mean no limit to PostgreSQL.
                local = {"statement_timeout": f"{max(limit, 1)}ms"}
                # A read by hour groups a month of events into ~700 hours x the groups: with the
                # default 4 MB PostgreSQL sorts them on disk; 64 MB hashes them in memory. JIT
                # compiling costs more than it saves on a query planned once per read.
                local.update(work_mem="64MB", jit="off")
                if BUCKETED in sql:
                    # Grouped by hour or day too: PostgreSQL takes every timestamp for a group
                    # (it has no statistics of the bucket) and sorts ~1M rows; hashed, the
                    # groups (~700 hours x the groups) cost 20-30% less (benchmarks/sql_metrics).
                    local["enable_sort"] = "off"
                if parallel:
                    # Expecting a group per event, PostgreSQL would hash a month's events in one
                    # process: each worker hashes its share at no cost in tuples passed (the
                    # groups are a few thousand), 1.7-1.9x faster on 1M events.
                    local.update(parallel_setup_cost="0", parallel_tuple_cost="0")
                for name, value in local.items():
                    cursor.execute(f"SET LOCAL {name} = %s", [value])
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                # SET LOCAL lasts until the transaction ends, not the savepoint: an outer
                # transaction (finalization) goes on with its own settings.
                for name in local:
                    cursor.execute(f"SET LOCAL {name} = DEFAULT")
                return rows
            raw = connection.connection
            deadline = time.monotonic() + limit / 1000

            def abort_when_late():
                return 1 if time.monotonic() >= deadline else 0

            raw.set_progress_handler(abort_when_late, 100)
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                raw.set_progress_handler(None, 0)
    except OperationalError as exc:
        text = str(exc).lower()
        if "statement timeout" in text or "interrupted" in text or "canceling statement" in text:
            raise SqlMetricTimeout(
                f"The SQL metric ran longer than {limit} ms and was stopped."
            ) from None
        raise SqlMetricFailure(f"The database refused the query: {exc}") from None
    except DatabaseError as exc:
        raise SqlMetricFailure(f"The database refused the query: {exc}") from None


def as_number(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def as_group_value(value) -> str | None:
    """A group key column as text, the same from every engine: an instant (DATE_TRUNC) as
    `YYYY-MM-DD HH:MM:SS` in UTC, as SQLite and ClickHouse write it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
