"""The pre-aggregate reads on PostgreSQL run with plain index scans off (bitmap scans read each
page once; see `metering.stores.relational.rows.fetch_range_rows`), and the setting does not outlive the read."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from metering import selectors
from metering.models import MetricDistinctValue, MetricRollup
from metering.stores.base import customer_slots
from metering.stores.relational import reads, rows
from tests.catalog.factories import BillableMetricFactory
from tests.customers.factories import CustomerFactory

from .conftest import postgres_only

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_indexscan")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("aggregation", ["SUM", "UNIQUE"])
def test_the_range_read_turns_plain_index_scans_off_for_itself_only(aggregation):
    postgres_only("its query planner")
    metric = BillableMetricFactory(aggregation_type=aggregation, aggregation_key="tokens")
    customer = CustomerFactory()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            selectors.metric_usage_by_group(
                metric=metric,
                customer=customer,
                starting_at=START,
                ending_before=END,
                group_keys=[],
            )
        assert _setting() == "on"
    (read,) = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert read.startswith("SET LOCAL enable_indexscan = off; SELECT ")
    assert read.endswith("; SET LOCAL enable_indexscan = DEFAULT")


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_setting_ends_with_the_read():
    postgres_only("its query planner")
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    selectors.metric_usage_by_group(
        metric=metric, customer=customer, starting_at=START, ending_before=END, group_keys=[]
    )
    assert _setting() == "on"


@pytest.mark.django_db(transaction=True)
def test_the_setting_applies_to_the_read_between():
    postgres_only("its query planner")
    point = (
        "EXPLAIN SELECT * FROM metering_metricaggregate WHERE metric_id = %(m)s "
        "AND customer_id = 'c' AND hour = %(h)s AND group_values = '{}'"
    )
    params = {"m": BillableMetricFactory().pk, "h": START}
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # this session only: no table is big here
        try:
            cursor.execute(point, params)
            plain = " ".join(row[0] for row in cursor.fetchall())
            hinted = " ".join(row[0] for row in rows.fetch_range_rows(point, params))
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "Index Scan using" in plain and "Bitmap" not in plain
    assert "Bitmap Index Scan" in hinted


def _explained(sql: str, params: dict) -> str:
    return " ".join(row[0] for row in rows.fetch_range_rows(f"EXPLAIN {sql}", params))


def _by_customer_plan(metric, customers, monkeypatch) -> str:
    """The plan of `usage_by_customer`'s read of a month for these customers."""
    owners = customer_slots(customers)
    if metric.aggregation_type != "UNIQUE":
        return _explained(*rows.usage_rows_sql(metric, list(owners), [START, END], owners=owners))
    plans = []
    with monkeypatch.context() as patched:
        patched.setattr(
            reads, "fetch_range_rows", lambda *read: plans.append(_explained(*read)) or []
        )
        reads.usage_by_customer(metric, customers, START, END, [])
    return plans[0]


def _stored(metric) -> None:
    """A month of 1,000 customers: five month rows each, or five distinct values an hour apart."""
    if metric.aggregation_type == "UNIQUE":
        MetricDistinctValue.objects.bulk_create(
            MetricDistinctValue(
                metric=metric,
                customer_id=f"customer-{i:04d}",
                hour=START + timedelta(hours=m),
                group_values="{}",
                value=f"user-{m}",
            )
            for i in range(1000)
            for m in range(5)
        )
        return
    MetricRollup.objects.bulk_create(
        MetricRollup(
            metric=metric,
            customer_id=f"customer-{i:04d}",
            grain="month",
            period_start=START,
            group_values=json.dumps({"model": f"model-{m}"}),
            event_count=1,
            value_sum=Decimal(1),
        )
        for i in range(1000)
        for m in range(5)
    )


@pytest.mark.parametrize("aggregation", ["SUM", "UNIQUE"])
def test_the_many_customers_read_looks_each_customer_up_by_the_index_whatever_the_statistics(
    aggregation, monkeypatch
):
    """A table never analyzed (a fresh database, before autovacuum's first ANALYZE) made the
    planner expect a few hundred ids to match most rows, and read every customer's rows of the
    metric (25-38 ms instead of 9-11 ms for an alert evaluation's 400 customers); each ingest id
    is looked up on its own, with statistics or without."""
    postgres_only("its query planner")
    metric = BillableMetricFactory(aggregation_type=aggregation, aggregation_key="tokens")
    _stored(metric)
    customers = [[f"customer-{i:04d}", f"alias-{i}"] for i in range(200)]
    table = "metering_metricdistinctvalue" if aggregation == "UNIQUE" else "metering_metricrollup"
    lookup = "customer_id)::text = o.ingest_id"
    with transaction.atomic():
        with connection.cursor() as cursor:
            # As on a fresh database: no statistics, whatever ran before on this one.
            cursor.execute(f"DELETE FROM pg_statistic WHERE starelid = '{table}'::regclass")
        fresh = _by_customer_plan(metric, customers, monkeypatch)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
        analyzed = _by_customer_plan(metric, customers, monkeypatch)
        transaction.set_rollback(True)
    for plan in (fresh, analyzed):
        assert "Nested Loop" in plan and lookup in plan, plan
        assert "Index Cond: ((metric_id = " in plan and "Seq Scan on metering_metric" not in plan, (
            plan
        )
