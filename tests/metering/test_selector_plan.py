"""The pre-aggregate reads on PostgreSQL run with plain index scans off (bitmap scans read each
page once; see `metering.stores.relational.rows.fetch_range_rows`), and the setting does not outlive the read."""

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from metering import selectors
from metering.stores.relational import rows
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
