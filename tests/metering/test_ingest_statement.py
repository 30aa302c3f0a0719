"""The relational store's ingest statement on PostgreSQL, as text: the late-event rule is inside it
when the hook has an in-statement form, and it goes with PostgreSQL's own placeholders, so psycopg
sends it as is (a `%(name)s` statement over 4,096 bytes is parsed again on every batch)."""

from invoicing.selectors import events_late
from metering.stores.base import late_sql_of
from metering.stores.relational.ingest import postgresql_native_statement, postgresql_statement
from metering.stores.relational.sql import LATE_FROM_FLAGS


def test_invoicings_late_rule_runs_inside_the_ingest_statement():
    statement = postgresql_statement(late_sql_of(events_late))
    assert "late AS ( SELECT DISTINCT e.i FROM ev AS e LEFT JOIN" in statement
    assert "i IN (SELECT i FROM late)" in statement


def test_a_hook_without_an_in_statement_form_gives_its_flags():
    assert late_sql_of(lambda events: [False for _ in events]) is None
    assert late_sql_of(None) is None
    assert f"late AS ( {LATE_FROM_FLAGS} )" in postgresql_statement()


def test_the_hot_path_sends_the_statement_with_native_placeholders():
    for late_sql in (late_sql_of(events_late), LATE_FROM_FLAGS):
        text, names = postgresql_native_statement(late_sql)
        assert "%(" not in text and "%s" not in text
        assert names == (
            "metric_count",
            "metric_newest",
            "events",
            "now",
            "expired_before",
            "contributions",
        )
        assert text.count("$4") == postgresql_statement(late_sql).count("%(now)s") == 4
