"""The relational store's ingest statement on PostgreSQL, as text: the late-event rule is inside it
when the hook has an in-statement form, and it stays short enough for psycopg to cache its parsing
(a longer statement is parsed again, a regular expression over all of it, on every batch)."""

from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

from invoicing.selectors import events_late
from metering.stores.base import late_sql_of
from metering.stores.relational.ingest import postgresql_statement
from metering.stores.relational.sql import LATE_FROM_FLAGS


def test_invoicings_late_rule_runs_inside_the_ingest_statement():
    statement = postgresql_statement(late_sql_of(events_late))
    assert "late AS ( SELECT DISTINCT e.i FROM ev AS e LEFT JOIN" in statement
    assert "i IN (SELECT i FROM late)" in statement


def test_a_hook_without_an_in_statement_form_gives_its_flags():
    assert late_sql_of(lambda events: [False for _ in events]) is None
    assert late_sql_of(None) is None
    assert f"late AS ( {LATE_FROM_FLAGS} )" in postgresql_statement()


def test_the_statement_fits_psycopgs_cache_of_parsed_queries():
    for late_sql in (late_sql_of(events_late), LATE_FROM_FLAGS):
        assert len(postgresql_statement(late_sql).encode()) <= MAX_CACHED_STATEMENT_LENGTH
