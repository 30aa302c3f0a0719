"""The hours of a SQL metric kept per window (`metering.sql_metrics.by_hour`): every digit of a
sum kept on every engine, and the hours kept off the request path before a draft is read.

Like every test under tests/metering, these run on both event stores: the relational one in
`make test`'s first pass and ClickHouse (chdb) in its second (`make test-chdb`)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from catalog.services import billable_metric_create_sql
from metering.models import SqlMetricHour, SqlMetricResult
from metering.sql_metrics import _parsed, sql_metric_rows
from metering.sql_metrics.by_hour import window_rows
from metering.stores import event_store
from tests.invoicing.factories import CustomerFactory, ingest

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 25, tzinfo=UTC)
GB = "CAST(properties.gb AS DECIMAL)"


def _send(customer, rows, prefix: str) -> None:
    ingest(
        [
            {
                "transaction_id": f"{prefix}-{index}",
                "customer_id": str(customer.pk),
                "event_type": "storage",
                "timestamp": when.isoformat(),
                "properties": props,
            }
            for index, (when, props) in enumerate(rows)
        ],
        now=NOW,
    )


def _read(metric, customer, start=JAN, end=FEB) -> list:
    return sql_metric_rows(
        metric=metric, customer_ids=[str(customer.pk)], starting_at=start, ending_before=end
    )


def test_an_hourly_sum_of_fractions_keeps_every_digit(db):
    """0.1 + 0.2 GB in each of 40 hours: 12 GB, not 12.000000000000002 (doubles added on
    SQLite, in each hour and across them); one more 0.1 + 0.2 + 0.4 in a kept hour: 12.7."""
    metric = billable_metric_create_sql(name="GB", sql=f"SELECT SUM({GB}) AS value FROM events")
    customer = CustomerFactory()
    hours = [JAN + timedelta(hours=3 * index) for index in range(40)]
    _send(
        customer,
        [
            (hour + timedelta(minutes=m), {"gb": gb})
            for hour in hours
            for m, gb in ((1, "0.1"), (2, "0.2"))
        ],
        "a",
    )
    assert _read(metric, customer) == [[Decimal("12.0")]]
    assert SqlMetricHour.objects.filter(metric=metric, event_count=2).count() == 40
    assert window_rows(_parsed(metric.sql), [str(customer.pk)], JAN, FEB, None) == [
        [Decimal("12.0")]
    ]
    _send(
        customer,
        [
            (hours[5] + timedelta(minutes=m), {"gb": gb})
            for m, gb in ((3, "0.1"), (4, "0.2"), (5, "0.4"))
        ],
        "b",
    )
    got = _read(metric, customer)
    assert got == [[Decimal("12.7")]]
    assert str(got[0][0]).rstrip("0") == "12.7"
    assert SqlMetricResult.objects.get(metric=metric).fingerprint == "hourly:40:83"


def test_a_backfill_of_consecutive_hours_is_read_as_one_range(db, monkeypatch):
    """60 hours gaining events since the kept result (a backfill of two and a half days): one
    read of those hours as one range, not the whole window."""
    metric = billable_metric_create_sql(
        name="GB by region",
        sql=f"SELECT SUM({GB}) AS value, properties.region AS region FROM events "
        "GROUP BY properties.region",
    )
    customer = CustomerFactory()
    _send(customer, [(JAN + timedelta(days=20), {"gb": "5", "region": "eu"})], "kept")
    assert _read(metric, customer) == [["eu", Decimal("5")]]
    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        reads.append((kwargs["by_hour"], kwargs.get("ranges")))
        return original(**kwargs)

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    start = JAN + timedelta(days=2)
    _send(
        customer,
        [(start + timedelta(hours=h, minutes=5), {"gb": "0.5", "region": "us"}) for h in range(60)],
        "backfill",
    )
    assert sorted(_read(metric, customer)) == [["eu", Decimal("5")], ["us", Decimal("30.0")]]
    assert reads == [(True, [(start, start + timedelta(hours=60))])]
