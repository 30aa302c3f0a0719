"""SQL metrics whose quantity is a quotient (a daily average, AVG, SUM / COUNT) read hour by hour:
each hour's numerator and denominator parts are kept, added up for the window and divided once
(`metering.sql_metrics.quotients`), and the answer is the whole window's read digit for digit.

Like every test under tests/metering, these run on both event stores: the relational one in
`make test`'s first pass and ClickHouse (chdb) in its second (`make test-chdb`)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from catalog.services import billable_metric_create_sql
from metering.models import SqlMetricHour, SqlMetricResult
from metering.sql_metrics import _parsed, hourly, sql_metric_rows, sql_metric_usage
from metering.sql_metrics.by_hour import window_rows
from metering.sql_metrics.evaluation import sql_metric_usage_by_segment
from metering.sql_metrics.quotients import quotient_plan
from metering.stores import event_store
from tests.invoicing.factories import CustomerFactory, ingest

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 25, tzinfo=UTC)

GB = "CAST(properties.gb AS DECIMAL)"
DAILY_AVERAGE = (
    f"SELECT SUM({GB}) / COUNT(DISTINCT DATE_TRUNC('day', timestamp)) AS value, "
    "properties.region AS region FROM events WHERE event_type = 'storage' "
    "GROUP BY properties.region"
)
SHAPES = {
    "daily average": DAILY_AVERAGE,
    "avg": f"SELECT AVG({GB}) AS value, properties.region AS region FROM events "
    "GROUP BY properties.region",
    "sum over count": f"SELECT SUM({GB}) / COUNT(*) AS value FROM events",
    "sum over count of values": f"SELECT SUM({GB}) / COUNT(properties.gb) AS value, "
    "properties.region AS region FROM events GROUP BY properties.region",
    "events per active hour": "SELECT COUNT(*) / COUNT(DISTINCT DATE_TRUNC('hour', timestamp)) "
    "AS value FROM events",
    "active days": "SELECT COUNT(DISTINCT DATE_TRUNC('day', events.timestamp)) AS value, "
    "properties.region AS region FROM events GROUP BY properties.region",
    "a quotient of quotients": f"SELECT (SUM({GB}) / 7) / (COUNT(*) / 3) AS value FROM events",
    "avg of daily sums": f"SELECT AVG(daily) AS value FROM (SELECT SUM({GB}) AS daily "
    "FROM events WHERE event_type = 'storage' GROUP BY DATE_TRUNC('day', timestamp)) AS days",
    "avg of hourly counts": "SELECT AVG(calls) FROM (SELECT COUNT(*) AS calls, "
    "DATE_TRUNC('hour', timestamp) AS hour FROM events GROUP BY hour) AS hours",
    "per day per event": f"SELECT SUM({GB}) / COUNT(DISTINCT DATE_TRUNC('day', timestamp)) "
    "/ COUNT(*) AS value, DATE_TRUNC('day', timestamp) AS day FROM events "
    "GROUP BY DATE_TRUNC('day', timestamp)",
    # MIN and MAX in a quotient: combined by min and max, every kept hour again after an ingest.
    "min over two": f"SELECT MIN({GB}) / 2 AS value FROM events",
    "peak over daily average": f"SELECT MAX({GB}) / (SUM({GB}) / "
    "COUNT(DISTINCT DATE_TRUNC('day', timestamp))) AS value, properties.region AS region "
    "FROM events GROUP BY properties.region",
    "range per active day": f"SELECT (MAX({GB}) - MIN({GB})) / "
    "COUNT(DISTINCT DATE_TRUNC('day', timestamp)) AS value, properties.region AS region "
    "FROM events GROUP BY properties.region",
    # + - * around and inside a quotient: the parts combined, the expression evaluated once.
    "a product inside a quotient": f"SELECT SUM({GB}) * 2 / COUNT(*) AS value FROM events",
    "a sum of parts over a count": f"SELECT (SUM({GB}) + COUNT(*) * 3) / COUNT(*) AS value, "
    "properties.region AS region FROM events GROUP BY properties.region",
    "a quotient times a number": f"SELECT AVG({GB}) * 4 AS value, properties.region AS region "
    "FROM events GROUP BY properties.region",
    "a quotient minus a quotient": f"SELECT SUM({GB}) / COUNT(*) - MIN({GB}) / 2 AS value "
    "FROM events",
    "events without a value": "SELECT COUNT(*) - COUNT(properties.gb) AS value, "
    "properties.region AS region FROM events GROUP BY properties.region",
}


def _send(customer, rows, prefix: str) -> None:
    ingest(
        [
            {
                "transaction_id": f"{prefix}-{index}",
                "customer_id": str(customer.pk),
                "event_type": kind,
                "timestamp": when,
                "properties": props,
            }
            for index, (when, kind, props) in enumerate(rows)
        ],
        now=NOW,
    )


def _sorted(rows) -> list:
    return sorted(rows, key=str)


def _whole(metric, customer, start, end) -> list:
    """The window read whole, in one query (what a quotient always did before)."""
    return _sorted(window_rows(_parsed(metric.sql), [str(customer.pk)], start, end, None))


def _read(metric, customer, start, end) -> list:
    return _sorted(
        sql_metric_rows(
            metric=metric, customer_ids=[str(customer.pk)], starting_at=start, ending_before=end
        )
    )


FIRST = [
    ("2026-01-01T10:00:00Z", "storage", {"gb": "1", "region": "eu"}),
    ("2026-01-01T10:20:00Z", "storage", {"gb": "0.1", "region": "eu"}),
    ("2026-01-01T11:00:00Z", "storage", {"gb": "2", "region": "eu"}),
    ("2026-01-02T10:00:00Z", "storage", {"gb": "4", "region": "us"}),
    ("2026-01-02T23:59:59Z", "storage", {"gb": "0.2", "region": "eu"}),
    ("2026-01-03T00:00:00Z", "other", {"gb": "7", "region": "us"}),
    ("2026-01-05T08:00:00Z", "storage", {"region": "us"}),  # no value
]
LATER = [
    ("2026-01-01T10:40:00Z", "storage", {"gb": "3", "region": "eu"}),  # late, into a kept hour
    ("2026-01-06T09:00:00Z", "storage", {"gb": "0.3", "region": "ap"}),  # a new day, a new group
    ("2026-01-02T10:05:00Z", "storage", {"gb": "-1.25", "region": "us"}),
]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(
    "window",
    [
        (JAN, FEB),
        # Not aligned to days (nor to hours): the edge hours are read for their part inside.
        (datetime(2026, 1, 1, 10, 30, tzinfo=UTC), datetime(2026, 1, 6, 9, 30, tzinfo=UTC)),
    ],
    ids=["month", "unaligned"],
)
def test_a_quotient_read_hour_by_hour_is_the_whole_windows_read(db, shape, window):
    sql = SHAPES[shape]
    metric = billable_metric_create_sql(name=shape, sql=sql)
    parsed = _parsed(sql)
    assert not hourly(parsed)
    assert quotient_plan(sql) is not None
    customer = CustomerFactory()
    start, end = window
    _send(customer, FIRST, "first")

    first = _read(metric, customer, start, end)  # one read; the hours kept with it
    assert first == _whole(metric, customer, start, end)
    assert SqlMetricHour.objects.filter(metric=metric).exists()
    assert SqlMetricResult.objects.get(metric=metric).fingerprint.startswith("hourly:")

    _send(customer, LATER, "later")
    corrected = _read(metric, customer, start, end)  # only the hours that gained events
    assert corrected == _whole(metric, customer, start, end)
    assert corrected != first
    assert _read(metric, customer, start, end) == corrected  # kept


def test_a_daily_average_by_hand(db):
    """eu: 1 + 2 GB on Jan 1 (two hours), 4 GB on Jan 2: 7 GB over 2 days = 3.5. us: 5 GB on
    Jan 3 = 5. A late event into a kept hour (eu 3 GB, Jan 1 10:30): 10 / 2 = 5. A new day
    (eu 2 GB, Jan 4): 12 / 3 = 4. 0.5 GB more on Jan 4 for us: 5.5 / 2 = 2.75."""
    metric = billable_metric_create_sql(name="Average", sql=DAILY_AVERAGE)
    customer = CustomerFactory()
    _send(
        customer,
        [
            ("2026-01-01T10:00:00Z", "storage", {"gb": "1", "region": "eu"}),
            ("2026-01-01T11:00:00Z", "storage", {"gb": "2", "region": "eu"}),
            ("2026-01-02T10:00:00Z", "storage", {"gb": "4", "region": "eu"}),
            ("2026-01-03T10:00:00Z", "storage", {"gb": "5", "region": "us"}),
        ],
        "a",
    )
    assert _read(metric, customer, JAN, FEB) == [["eu", Decimal("3.5")], ["us", Decimal("5")]]
    # What is kept: the window's parts per group (events, the SUM and its count of values, the
    # events per day: "day 0", the days where column 0, the events, is not 0), not the quotient.
    kept = SqlMetricResult.objects.get(metric=metric)
    parts = {tuple(key): (columns, days) for key, columns, days in kept.parts}
    assert {key: [Decimal(c) for c in columns] for key, (columns, _) in parts.items()} == {
        ("eu",): [3, 7, 3],
        ("us",): [1, 5, 1],
    }
    assert parts[("eu",)][1] == {
        "day 0": {"2026-01-01T00:00:00+00:00": 2, "2026-01-02T00:00:00+00:00": 1}
    }
    _send(customer, [("2026-01-01T10:30:00Z", "storage", {"gb": "3", "region": "eu"})], "b")
    assert _read(metric, customer, JAN, FEB) == [["eu", Decimal("5")], ["us", Decimal("5")]]
    _send(customer, [("2026-01-04T10:00:00Z", "storage", {"gb": "2", "region": "eu"})], "c")
    _send(customer, [("2026-01-04T12:00:00Z", "storage", {"gb": "0.5", "region": "us"})], "d")
    assert _read(metric, customer, JAN, FEB) == [["eu", Decimal("4")], ["us", Decimal("2.75")]]
    assert sql_metric_usage(
        metric=metric,
        customer_ids=[str(customer.pk)],
        starting_at=JAN,
        ending_before=FEB,
        group_keys=["region"],
    ) == {("eu",): Decimal("4"), ("us",): Decimal("2.75")}
    # The sum of the hours' quotients would be 1 + 2 + 3 + 4 + 2 = 12 for eu, not 4.
    assert _read(metric, customer, JAN, FEB) == _whole(metric, customer, JAN, FEB)


def test_after_an_ingest_only_the_hour_that_gained_events_is_read(db, monkeypatch):
    """The guard: once the hours are kept, an event makes the next read query that one hour
    (grouped by hour, one row back), never the whole window again."""
    metric = billable_metric_create_sql(name="Average", sql=DAILY_AVERAGE)
    customer = CustomerFactory()
    _send(customer, FIRST, "first")
    assert _read(metric, customer, JAN, FEB) == _whole(metric, customer, JAN, FEB)
    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        rows = original(**kwargs)
        reads.append((kwargs["by_hour"], kwargs.get("ranges"), len(rows)))
        return rows

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    _send(customer, [("2026-01-02T10:30:00Z", "storage", {"gb": "6", "region": "us"})], "late")
    got = _read(metric, customer, JAN, FEB)
    hour = datetime(2026, 1, 2, 10, tzinfo=UTC)
    assert reads == [(True, [(hour, hour + timedelta(hours=1))], 1)]
    assert _read(metric, customer, JAN, FEB) == got  # nothing new: no read at all
    assert len(reads) == 1
    monkeypatch.undo()
    assert got == _whole(metric, customer, JAN, FEB)
    # us: 4 + 6 GB on Jan 2, and Jan 5 whose event has no value (a day all the same): 10 / 2.
    assert dict((row[0], row[1]) for row in got)["us"] == Decimal("5")


def test_a_quotients_parts_keep_every_digit(db):
    """Hours added with every digit (not 28 significant ones, Python's default): 10^20 in one
    hour, 10^-12 and 2 x 10^-12 in others, over 3 events: 33333333333333333333.333333333334333...
    (rounded to 28 digits before dividing, 10^20 / 3 would end in 3)."""
    metric = billable_metric_create_sql(
        name="Digits", sql=f"SELECT SUM({GB}) / COUNT(*) AS value FROM events"
    )
    customer = CustomerFactory()
    _send(customer, [("2026-01-01T10:00:00Z", "storage", {"gb": "100000000000000000000"})], "a")
    assert _read(metric, customer, JAN, FEB) == [[Decimal("100000000000000000000")]]
    _send(
        customer,
        [
            ("2026-01-02T10:00:00Z", "storage", {"gb": "0.000000000001"}),
            ("2026-01-03T10:00:00Z", "storage", {"gb": "0.000000000002"}),
        ],
        "b",
    )
    got = _read(metric, customer, JAN, FEB)
    assert got == _whole(metric, customer, JAN, FEB)
    assert got == [[Decimal("33333333333333333333.333333333334")]]


def test_division_by_zero_is_null_as_in_the_whole_read(db):
    customer = CustomerFactory()
    _send(
        customer,
        [
            ("2026-01-01T10:00:00Z", "storage", {"gb": "5", "zero": "0", "region": "eu"}),
            ("2026-01-01T11:00:00Z", "storage", {"gb": "6", "zero": "2", "region": "us"}),
        ],
        "z",
    )
    by_zero = billable_metric_create_sql(
        name="By zero",
        sql=f"SELECT SUM({GB}) / SUM(CAST(properties.zero AS DECIMAL)) AS value, "
        "properties.region AS region FROM events GROUP BY properties.region",
    )
    expected = [["eu", None], ["us", Decimal("3")]]
    assert _read(by_zero, customer, JAN, FEB) == expected == _whole(by_zero, customer, JAN, FEB)
    _send(customer, [("2026-01-01T10:30:00Z", "storage", {"zero": "0", "region": "eu"})], "y")
    assert _read(by_zero, customer, JAN, FEB) == expected
    assert sql_metric_usage(
        metric=by_zero,
        customer_ids=[str(customer.pk)],
        starting_at=JAN,
        ending_before=FEB,
        group_keys=["region"],
    ) == {("us",): Decimal("3")}
    # Over no events: an average is NULL (0 / 0), COUNT(*) / 2 is 0, as the whole read says.
    empty = (datetime(2026, 1, 20, tzinfo=UTC), FEB)
    for sql in (f"SELECT AVG({GB}) FROM events", "SELECT COUNT(*) / 2 AS value FROM events"):
        metric = billable_metric_create_sql(name=sql, sql=sql)
        assert _read(metric, customer, *empty) == _whole(metric, customer, *empty)
    assert _read(metric, customer, *empty) == [[Decimal(0)]]


def test_the_usage_api_reads_a_daily_average_by_segment_from_the_hours(db):
    metric = billable_metric_create_sql(name="Average", sql=DAILY_AVERAGE)
    customer = CustomerFactory()
    _send(customer, FIRST + LATER, "all")
    bounds = [JAN + timedelta(days=day) for day in range(8)]
    by_day = sql_metric_usage_by_segment(
        metric=metric, customer_ids=[str(customer.pk)], bounds=bounds, group_keys=["region"]
    )
    assert by_day == [
        sql_metric_usage(
            metric=metric,
            customer_ids=[str(customer.pk)],
            starting_at=start,
            ending_before=end,
            group_keys=["region"],
        )
        for start, end in pairwise(bounds)
    ]
    assert by_day[0] == {("eu",): Decimal("6.1")}  # 1 + 0.1 + 2 + 3 GB on Jan 1


@pytest.mark.parametrize(
    "sql",
    [
        # A function around an aggregate.
        f"SELECT ABS(SUM({GB})) / COUNT(*) AS value FROM events",
        # A distinct count of something else than the day or the hour.
        f"SELECT SUM({GB}) / COUNT(DISTINCT properties.region) AS value FROM events",
        # A subquery grouped by more than the day, or filtered outside; HAVING.
        f"SELECT AVG(daily) AS value FROM (SELECT SUM({GB}) AS daily FROM events "
        "GROUP BY DATE_TRUNC('day', timestamp), properties.region) AS days",
        f"SELECT AVG(daily) AS value FROM (SELECT SUM({GB}) AS daily FROM events "
        "GROUP BY DATE_TRUNC('day', timestamp)) AS days WHERE daily > 1",
        f"SELECT AVG({GB}) AS value, properties.region AS region FROM events "
        "GROUP BY properties.region HAVING COUNT(*) > 1",
    ],
)
def test_shapes_not_read_hour_by_hour_are_read_whole(db, sql):
    assert quotient_plan(sql) is None
    assert not hourly(_parsed(sql))
    metric = billable_metric_create_sql(name="Whole", sql=sql)
    customer = CustomerFactory()
    _send(customer, FIRST, "first")
    assert _read(metric, customer, JAN, FEB) == _whole(metric, customer, JAN, FEB)
    assert not SqlMetricHour.objects.filter(metric=metric).exists()


def test_the_first_read_of_a_quotient_reads_its_parts_once_and_keeps_them(db, monkeypatch):
    """Nothing kept yet: one read of the parts grouped by hour answers and keeps every hour's
    parts in the same transaction; the next read reads nothing."""
    metric = billable_metric_create_sql(name="Average", sql=DAILY_AVERAGE)
    customer = CustomerFactory()
    _send(customer, FIRST, "first")
    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        rows = original(**kwargs)
        reads.append((kwargs["by_hour"], kwargs.get("ranges"), len(rows)))
        return rows

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    got = _read(metric, customer, JAN, FEB)
    # eu at 10:00 and 11:00 on Jan 1 and 23:00 on Jan 2, us at 10:00 on Jan 2 and 08:00 on
    # Jan 5: five (region, hour) rows (Jan 3's event is not storage).
    assert reads == [(True, None, 5)]
    assert SqlMetricHour.objects.filter(metric=metric).count() == 6
    assert _read(metric, customer, JAN, FEB) == got
    assert len(reads) == 1
    monkeypatch.undo()
    # eu: (1 + 0.1 + 2 + 0.2) / 2 days; us: 4 / 2 days.
    assert got == [["eu", Decimal("1.65")], ["us", Decimal("2")]]
    assert got == _whole(metric, customer, JAN, FEB)
