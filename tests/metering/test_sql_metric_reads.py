"""Reads of hourly SQL metrics kept span by span (`metering.sql_metrics.by_hour`, planned by
`spans`) answer what a from-scratch read of the window answers, whatever happens between and
during reads: events into kept hours and day pieces, events arriving while a read runs, another
read keeping the window first, a metric read before its events were counted. A read that
skipped a stale hour, or counted one twice, fails here.

Like every test under tests/metering, these run on both event stores."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import BillableMetric
from catalog.services import billable_metric_create_sql
from metering.models import SqlMetricHour, SqlMetricResult
from metering.services import metric_aggregates_backfill
from metering.sql_metrics import _parsed, spans, sql_metric_rows
from metering.sql_metrics.by_hour import window_rows
from metering.stores import event_store
from tests.invoicing.factories import CustomerFactory, ingest

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 25, tzinfo=UTC)
GB = "CAST(properties.gb AS DECIMAL)"
SHAPES = {
    "sum": f"SELECT SUM({GB}) AS value, properties.region AS region FROM events "
    "WHERE event_type = 'storage' GROUP BY properties.region",
    "count": "SELECT COUNT(*) AS value FROM events",
    "min": f"SELECT MIN({GB}) AS value, properties.region AS region FROM events "
    "GROUP BY properties.region",
    "max": f"SELECT MAX({GB}) AS value FROM events WHERE event_type = 'storage'",
    "avg": f"SELECT AVG({GB}) AS value, properties.region AS region FROM events "
    "GROUP BY properties.region",
    "daily average": f"SELECT SUM({GB}) / COUNT(DISTINCT DATE_TRUNC('day', timestamp)) "
    "AS value, properties.region AS region FROM events GROUP BY properties.region",
    "events per active hour": "SELECT COUNT(*) / COUNT(DISTINCT DATE_TRUNC('hour', timestamp)) "
    "AS value FROM events",
    "range": f"SELECT MAX({GB}) - MIN({GB}) AS value FROM events",
}
WINDOWS = [
    (JAN, FEB),
    (datetime(2026, 1, 2, 7, 30, tzinfo=UTC), datetime(2026, 1, 6, 17, 15, tzinfo=UTC)),
]


class Sender:
    """Events of one customer, each with a fresh transaction id."""

    def __init__(self):
        self.customer = CustomerFactory()
        self.sent = 0

    def send(self, rows) -> None:
        """rows: (timestamp, region, gb, event type)."""
        events = []
        for when, region, gb, kind in rows:
            self.sent += 1
            properties = {"gb": gb} if gb is not None else {}
            if region is not None:
                properties["region"] = region
            events.append(
                {
                    "transaction_id": f"{self.customer.pk}-{self.sent}",
                    "customer_id": str(self.customer.pk),
                    "event_type": kind,
                    "timestamp": when.isoformat(),
                    "properties": properties,
                }
            )
        ingest(events, now=NOW)

    def read(self, metric, window) -> list:
        return sorted(
            sql_metric_rows(
                metric=metric,
                customer_ids=[str(self.customer.pk)],
                starting_at=window[0],
                ending_before=window[1],
            ),
            key=str,
        )

    def whole(self, metric, window) -> list:
        return sorted(
            window_rows(_parsed(metric.sql), [str(self.customer.pk)], *window, None), key=str
        )


def _metrics() -> dict:
    return {name: billable_metric_create_sql(name=name, sql=sql) for name, sql in SHAPES.items()}


def _every_hour(first: datetime, hours: int, region="eu", gb="1") -> list:
    return [(first + timedelta(hours=h, minutes=10), region, gb, "storage") for h in range(hours)]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_day_pieces_read_again_by_hour_stay_exact(db, shape, monkeypatch):
    """More hours with events than HOURLY_SPANS (2 here): a first read keeps day pieces before
    the last day with events, that day hour by hour; late events into a day piece and into kept
    hours are read again, and every read is the whole window's."""
    monkeypatch.setattr(spans, "HOURLY_SPANS", 2)
    metric = billable_metric_create_sql(name=shape, sql=SHAPES[shape])
    sender = Sender()
    sender.send(
        _every_hour(JAN + timedelta(days=1), 60, "eu", "1.5")
        + _every_hour(JAN + timedelta(days=2, hours=3), 20, "us", "0.25")
        + [(JAN + timedelta(days=4, hours=2), "us", None, "other")]
    )
    for window in WINDOWS:
        assert sender.read(metric, window) == sender.whole(metric, window)
    kept = SqlMetricHour.objects.filter(metric=metric)
    if shape != "events per active hour":  # counting hours: every span one hour
        assert kept.filter(hours__gt=1).exists()
    # Late events into a day piece (Jan 2), into a kept hour of the last day (Jan 5 02:00),
    # and into a new hour.
    sender.send(
        [
            (JAN + timedelta(days=1, hours=5, minutes=30), "eu", "7", "storage"),
            (JAN + timedelta(days=4, hours=2, minutes=40), "us", "-2", "storage"),
            (JAN + timedelta(days=5, hours=20), "ap", "0.125", "storage"),
        ]
    )
    for window in WINDOWS:
        assert sender.read(metric, window) == sender.whole(metric, window)
        assert sender.read(metric, window) == sender.whole(metric, window)  # kept


def _during_reads(monkeypatch, action):
    """Run `action` once, inside the next SQL metric read of events: after the read took the
    events counted per hour, before (or, with action.after, after) it reads the events."""
    store = event_store()
    original = store.sql_metric_rows
    done = []

    def reading(**kwargs):
        if not done and not getattr(action, "after", False):
            done.append(True)
            action()
        rows = original(**kwargs)
        if not done:
            done.append(True)
            action()
        return rows

    monkeypatch.setattr(store, "sql_metric_rows", reading)
    return done


@pytest.mark.parametrize("after", [False, True], ids=["before its events", "after its events"])
@pytest.mark.parametrize("first", [True, False], ids=["first read", "kept window"])
def test_an_event_arriving_during_a_read_is_counted_once(db, monkeypatch, after, first):
    """The event is ingested while the read runs (the counts already taken), into a kept hour:
    the next read includes it, no read counts it twice, and a first read includes it when it
    arrived before the events were read."""
    metrics = _metrics()
    sender = Sender()
    sender.send(_every_hour(JAN + timedelta(days=3), 5, "eu", "2"))
    arriving = JAN + timedelta(days=3, hours=1, minutes=50)
    for index, metric in enumerate(metrics.values()):
        if not first:
            sender.read(metric, WINDOWS[0])
            # Something for the read to read: an event in another hour.
            sender.send([(JAN + timedelta(days=3, hours=3, seconds=index), "us", "1", "storage")])

        def action(index=index):
            sender.send([(arriving + timedelta(seconds=index), "eu", "5", "storage")])

        action.after = after
        done = _during_reads(monkeypatch, action)
        during = sender.read(metric, WINDOWS[0])
        monkeypatch.undo()
        assert done == [True]
        now = sender.whole(metric, WINDOWS[0])  # every event, this one included
        if first and not after:
            assert during == now
        assert sender.read(metric, WINDOWS[0]) == now
        assert sender.read(metric, WINDOWS[0]) == now


def test_another_read_keeping_the_window_first_leaves_one_consistent_result(db, monkeypatch):
    """Two reads of one window at once (the second runs inside the first's read of events):
    the later to finish finds the window kept by the other and keeps nothing; both answer the
    whole window, and so do the reads after, for a first read and for a kept window."""
    metric = billable_metric_create_sql(name="sum", sql=SHAPES["sum"])
    sender = Sender()
    sender.send(_every_hour(JAN + timedelta(days=3), 5, "eu", "2"))
    for step in range(2):
        if step:  # a kept window with an hour to read again
            sender.send([(JAN + timedelta(days=3, hours=2), "us", "4", "storage")])

        def other_read():
            assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])

        _during_reads(monkeypatch, other_read)
        assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])
        monkeypatch.undo()
        assert SqlMetricResult.objects.filter(metric=metric).count() == 1
        assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])
        sender.send([(JAN + timedelta(days=3, hours=step, minutes=30), "us", "1", "storage")])
        assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])


def test_a_metric_made_after_its_events_reads_them_all(db):
    """Events first, then the metric (metering backfills its hourly counts): the first read
    and the reads after new events are the whole window's."""
    sender = Sender()
    sender.send(_every_hour(JAN + timedelta(days=2), 30, "eu", "0.5"))
    metrics = _metrics()
    for metric in metrics.values():
        assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])
    sender.send([(JAN + timedelta(days=2, hours=4), "us", "3", "storage")])
    for metric in metrics.values():
        assert sender.read(metric, WINDOWS[0]) == sender.whole(metric, WINDOWS[0])


def test_a_metric_read_before_its_events_are_counted_reads_them_again_once_counted(db):
    """A read while the backfill has not counted the events yet (no counts at all): the hours
    with rows are kept with a count of 0; once counted, they are read again, not added twice."""
    sender = Sender()
    sender.send(_every_hour(JAN + timedelta(days=2), 6, "eu", "0.5"))
    metric = BillableMetric.objects.create(
        name="sum",
        sql=SHAPES["sum"],
        aggregation_type=BillableMetric.AggregationType.COUNT,
        group_keys=[["region"]],
    )
    expected = [["eu", Decimal("3.0")]]
    assert sender.read(metric, WINDOWS[0]) == expected
    assert set(
        SqlMetricHour.objects.filter(metric=metric).values_list("event_count", flat=True)
    ) == {0}
    metric_aggregates_backfill(metric=metric)
    assert sender.read(metric, WINDOWS[0]) == expected
    assert set(
        SqlMetricHour.objects.filter(metric=metric).values_list("event_count", flat=True)
    ) == {1}


_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=24 * 7 - 1),  # the hour from Jan 1
        st.integers(min_value=0, max_value=59),
        st.sampled_from(["eu", "us", None]),
        st.sampled_from(["1", "0.1", "-2.5", "1000", None]),
        st.sampled_from(["storage", "storage", "other"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(_rows, min_size=1, max_size=5),
    hourly_spans=st.sampled_from([0, 3, 48]),
    max_ranges=st.sampled_from([1, 2, 32]),
)
def test_reads_between_ingests_equal_a_read_from_scratch(db, batches, hourly_spans, max_ranges):
    """Batches of events anywhere in a week (kept hours, day pieces, new hours), each followed
    by a read of every shape over two windows: every read equals the window read from scratch,
    with day pieces from 0 or 3 hours with events on and at most 1, 2 or 32 ranges per read."""
    saved = spans.HOURLY_SPANS, spans.MAX_RANGES
    spans.HOURLY_SPANS, spans.MAX_RANGES = hourly_spans, max_ranges
    try:
        metrics = _metrics()
        sender = Sender()
        for batch in batches:
            sender.send(
                [
                    (JAN + timedelta(hours=hour, minutes=minute), region, gb, kind)
                    for hour, minute, region, gb, kind in batch
                ]
            )
            for metric in metrics.values():
                for window in WINDOWS:
                    assert sender.read(metric, window) == sender.whole(metric, window), (
                        metric.name,
                        window,
                    )
    finally:
        spans.HOURLY_SPANS, spans.MAX_RANGES = saved


def test_a_unique_count_is_read_whole_and_counts_each_value_once(db):
    """COUNT(DISTINCT ...) over the period has no hourly decomposition: read whole, again after
    new events. On PostgreSQL it is compiled as a count of the distinct (value, group keys)
    rows (`compiler._distinct_rows_counted`): the same counts, NULL counted by neither."""
    from metering.sql_metrics import compile_sql_metric

    sql = (
        "SELECT properties.region AS region, COUNT(DISTINCT properties.user) AS value, "
        "event_type FROM events GROUP BY event_type, properties.region"
    )
    metric = billable_metric_create_sql(name="users", sql=sql)
    sender = Sender()
    rows = [
        (JAN + timedelta(days=1), "eu", "a"),
        (JAN + timedelta(days=2), "eu", "a"),
        (JAN + timedelta(days=2, hours=3), "eu", "b"),
        (JAN + timedelta(days=3), "us", None),  # a group with no value: 0
        (JAN + timedelta(days=3, hours=1), None, "a"),
    ]
    for index, (when, region, user) in enumerate(rows):
        properties = {"user": user} if user else {}
        if region:
            properties["region"] = region
        ingest(
            [
                {
                    "transaction_id": f"{sender.customer.pk}-u{index}",
                    "customer_id": str(sender.customer.pk),
                    "event_type": "login",
                    "timestamp": when.isoformat(),
                    "properties": properties,
                }
            ],
            now=NOW,
        )
    expected = [
        ["eu", "login", Decimal(2)],
        ["us", "login", Decimal(0)],
        [None, "login", Decimal(1)],
    ]
    assert sender.read(metric, WINDOWS[0]) == expected == sender.whole(metric, WINDOWS[0])
    assert not SqlMetricHour.objects.filter(metric=metric).exists()
    ingest(
        [
            {
                "transaction_id": f"{sender.customer.pk}-u9",
                "customer_id": str(sender.customer.pk),
                "event_type": "login",
                "timestamp": (JAN + timedelta(days=4)).isoformat(),
                "properties": {"user": "c", "region": "us"},
            }
        ],
        now=NOW,
    )
    assert sender.read(metric, WINDOWS[0])[1] == ["us", "login", Decimal(1)]
    total = billable_metric_create_sql(
        name="all users", sql="SELECT COUNT(DISTINCT properties.user) FROM events"
    )
    assert sender.read(total, WINDOWS[0]) == [[Decimal(3)]]
    assert sender.read(total, (FEB, FEB + timedelta(days=1))) == [[Decimal(0)]]
    compiled, _ = compile_sql_metric(_parsed(sql), "postgresql")
    assert "SELECT DISTINCT" in compiled and "COUNT(DISTINCT" not in compiled
