"""The coarser aggregate tier (day and month rows beside the hourly ones, relational store): a read
gives the same answer as the hourly rows and as a recount of the events, for windows that start and
end mid-day or cross months, after late events, a backfill, aliases and duplicates; and a month's
read adds up a handful of rows, not one per hour. The answer tests run on either store.

On the relational store each runs four ways (`tier`): every event older than the tier's
watermark and never folded (ingestion writes hourly rows and marks their days unfolded, as for
late events: reads take those days from the hourly rows); the same, folded after each ingest (the
fold recomputes the marked days' and months' rows); the watermark before the events and folded
after each ingest (the schedule's way: hourly rows after it); the watermark before the events and
never folded (the tier empty, every read hourly)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.db import connection

from metering import selectors, services
from metering.models import MetricAggregate, MetricRollup, RollupWatermark, UnfoldedDay
from metering.stores import event_store
from metering.stores.relational import reads, rollups
from metering.stores.relational import rows as row_reads
from metering.stores.relational.rollups import rollups_fold, rollups_rebuild
from metering.stores.tiers import cover

from .factories import BillableMetricFactory, CustomerFactory, IngestAliasFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 4, 8, tzinfo=UTC)
MID_MARCH = datetime(2026, 3, 15, tzinfo=UTC)
AGGREGATIONS = ["COUNT", "SUM", "MAX", "LATEST", "UNIQUE"]

# Windows: a whole month; mid-day to mid-day across a month boundary; inside one day; a day and a
# half; several segments, one boundary in the middle of a day.
WINDOWS = [
    [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)],
    [datetime(2026, 2, 27, 13, tzinfo=UTC), datetime(2026, 4, 2, 5, tzinfo=UTC)],
    [datetime(2026, 3, 9, 2, tzinfo=UTC), datetime(2026, 3, 9, 23, tzinfo=UTC)],
    [datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)],
    [
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 9, 7, tzinfo=UTC),
        datetime(2026, 3, 20, tzinfo=UTC),
        datetime(2026, 4, 2, tzinfo=UTC),
    ],
]


BEFORE_THE_EVENTS = datetime(2026, 2, 1, tzinfo=UTC)
AFTER_THE_EVENTS = datetime(2026, 6, 1, tzinfo=UTC)
TIER_WAYS = ["late_path", "late_folded", "folded", "unfolded"]
_way = {"now": "late_path"}


@pytest.fixture(autouse=True, params=TIER_WAYS)
def tier(request):
    """How the relational store's tier takes the test's events (the module docstring)."""
    _way["now"] = request.param
    assert not MetricRollup.objects.exists()
    # Set here, not left to the database: a transactional test's flush deletes the row.
    old = request.param in ("late_path", "late_folded")
    watermark = AFTER_THE_EVENTS if old else BEFORE_THE_EVENTS
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": watermark})
    yield request.param
    _way["now"] = "late_path"


def _one_way(tier):
    """A test whose subject is not the tier's way (runs once)."""
    if tier != "late_path":
        pytest.skip("not about how the tier takes events")


def _relational_only():
    if event_store().name != "relational":
        pytest.skip("the relational store's tier")


def _event(customer_id, at, value, region, tx=None):
    return {
        "transaction_id": tx or str(uuid.uuid4()),
        "customer_id": customer_id,
        "event_type": "api_call",
        "timestamp": at.isoformat(),
        "properties": {"n": value, "region": region},
    }


def _events(customer_ids, count=300, start=datetime(2026, 2, 25, tzinfo=UTC)):
    """Events every 3 h 17 min from Feb 25 on, a few with the same timestamp (LATEST's ties)."""
    found = []
    for index in range(count):
        at = start + timedelta(minutes=197 * index - (197 if index % 11 == 0 else 0))
        found.append(
            _event(
                customer_ids[index % len(customer_ids)],
                at,
                str(Decimal(index % 37) / 4),
                ["eu", "us", "ap"][index % 3],
                tx=f"tx-{index:04d}",
            )
        )
    return found


def _ingest(events):
    """Ingest events from late February to early April, each when it was at most 34 days old."""
    early = [e for e in events if datetime.fromisoformat(e["timestamp"]) < MID_MARCH]
    late = [e for e in events if datetime.fromisoformat(e["timestamp"]) >= MID_MARCH]
    for batch, now in ((early, MID_MARCH + timedelta(days=5)), (late, NOW)):
        for start in range(0, len(batch), 100):
            services.usage_events_ingest(events=batch[start : start + 100], now=now)
        if _way["now"] in ("folded", "late_folded"):
            services.usage_rollups_fold(now=now)


def _recount(aggregation, events, start, end):
    """The metric's answer by region from the events themselves."""
    by_region: dict = {}
    for event in events:
        at = datetime.fromisoformat(event["timestamp"])
        if start <= at < end:
            by_region.setdefault((event["properties"]["region"],), []).append(event)
    answer = {}
    for group, found in by_region.items():
        values = [Decimal(e["properties"]["n"]) for e in found]
        if aggregation == "COUNT":
            answer[group] = Decimal(len(found))
        elif aggregation == "SUM":
            answer[group] = sum(values, Decimal(0))
        elif aggregation == "MAX":
            answer[group] = max(values)
        elif aggregation == "UNIQUE":
            answer[group] = Decimal(len(set(values)))
        else:
            latest = max(found, key=lambda e: (e["timestamp"], e["transaction_id"]))
            answer[group] = Decimal(latest["properties"]["n"])
    return answer


def _metrics():
    return {
        kind: BillableMetricFactory(
            aggregation_type=kind,
            aggregation_key="" if kind == "COUNT" else "n",
            group_keys=[["region"]],
        )
        for kind in AGGREGATIONS
    }


def _usage(metric, customer, bounds):
    return selectors.metric_usage_by_segment(
        metric=metric, customer=customer, boundaries=bounds, group_keys=["region"]
    )


def _hourly_only(metric, customer_ids, bounds):
    return reads.usage_by_segment(metric, customer_ids, bounds, ["region"], grains=())


def _assert_exact(metrics, customer, customer_ids, events):
    for kind, metric in metrics.items():
        for bounds in WINDOWS:
            expected = [_recount(kind, events, a, b) for a, b in pairwise(bounds)]
            assert _usage(metric, customer, bounds) == expected, (kind, bounds)
            if event_store().name == "relational":
                assert _hourly_only(metric, customer_ids, bounds) == expected, (kind, bounds)


def test_every_aggregation_reads_the_same_through_the_tier_for_any_window():
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)])
    _ingest(events)
    _assert_exact(metrics, customer, [str(customer.id)], events)


def test_late_events_into_closed_days_and_months_are_counted_once():
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events)
    _assert_exact(metrics, customer, [str(customer.id)], events)
    late = [
        _event(str(customer.id), datetime(2026, 3, 2, 4, 30, tzinfo=UTC), "99", "eu"),
        _event(str(customer.id), datetime(2026, 3, 9, 22, 59, tzinfo=UTC), "0.5", "us"),
        _event(str(customer.id), datetime(2026, 2, 27, 12, tzinfo=UTC), "7", "ap"),
    ]
    _ingest(late)
    _assert_exact(metrics, customer, [str(customer.id)], events + late)


def test_duplicates_inside_a_batch_and_across_batches_count_once():
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=120)
    _ingest(events + events[:10])
    _ingest(events[50:90])
    _assert_exact(metrics, customer, [str(customer.id)], events)


def test_events_under_aliases_add_up_through_the_tier():
    customer = CustomerFactory()
    IngestAliasFactory(customer=customer, alias="day-alias-1")
    metrics = _metrics()
    ids = [str(customer.id), "day-alias-1", "day-alias-2"]
    events = _events(ids, count=240)
    _ingest(events)
    known = [e for e in events if e["customer_id"] != "day-alias-2"]
    _assert_exact(metrics, customer, ids[:2], known)
    # An alias added later attributes its earlier events (resolved when read).
    IngestAliasFactory(customer=customer, alias="day-alias-2")
    _assert_exact(metrics, customer, ids, events)


def test_many_customers_read_through_the_tier_as_each_recounted():
    """`usage_by_customer` (an alert evaluation's read: one window, many customers, each by its
    ingest ids and looked up on its own) gives each customer the recount of its events, over a
    whole month (month rows) and over windows taking days and hours."""
    alias_of = CustomerFactory()
    IngestAliasFactory(customer=alias_of, alias="many-alias")
    customers = {"aliased": [str(alias_of.id), "many-alias"]}
    customers.update({f"plain-{i}": [str(CustomerFactory().id)] for i in range(3)})
    customers["idle"] = [str(CustomerFactory().id)]
    metrics = _metrics()
    events = _events([i for ids in list(customers.values())[:-1] for i in ids], count=300)
    _ingest(events)
    for kind, metric in metrics.items():
        for bounds in WINDOWS:
            if len(bounds) != 2:
                continue
            got = selectors.usage_by_customer(
                metric=metric,
                customer_ids=customers,
                starting_at=bounds[0],
                ending_before=bounds[1],
                group_keys=["region"],
            )
            assert got == {
                key: _recount(kind, [e for e in events if e["customer_id"] in ids], *bounds)
                for key, ids in customers.items()
            }, (kind, bounds)
            if bounds == WINDOWS[0]:
                assert [key for key, usage in got.items() if not usage] == ["idle"], kind


def test_a_metric_created_after_its_events_reads_the_same_after_backfill():
    customer = CustomerFactory()
    events = _events([str(customer.id)], count=200)
    _ingest(events)
    metrics = _metrics()
    for metric in metrics.values():
        assert services.metric_aggregates_backfill(metric=metric) == 200
    _assert_exact(metrics, customer, [str(customer.id)], events)
    # Idempotent, and later events add to the rebuilt rows.
    for metric in metrics.values():
        services.metric_aggregates_backfill(metric=metric)
    more = _events([str(customer.id)], count=30, start=datetime(2026, 3, 4, 1, tzinfo=UTC))
    more = [dict(e, transaction_id=f"more-{e['transaction_id']}") for e in more]
    _ingest(more)
    _assert_exact(metrics, customer, [str(customer.id)], events + more)


def test_a_backfill_in_chunks_longer_than_a_month_rebuilds_every_month():
    _relational_only()
    from metering.stores.relational.backfill import metric_aggregates_backfill

    customer = CustomerFactory()
    events = _events([str(customer.id)], count=300)
    _ingest(events)
    rollups_fold(now=NOW)
    metric = BillableMetricFactory(
        aggregation_type="SUM", aggregation_key="n", group_keys=[["region"]]
    )
    metric_aggregates_backfill(metric=metric, chunk=timedelta(days=40))
    for bounds in WINDOWS:
        expected = [_recount("SUM", events, a, b) for a, b in pairwise(bounds)]
        assert _usage(metric, customer, bounds) == expected
    month_rows = MetricRollup.objects.filter(metric=metric, grain="month")
    assert {(r.period_start, r.group_values): r.value_sum for r in month_rows} == {
        (start, json.dumps({"region": group[0]}, separators=(",", ":"))): total
        for start, end in pairwise([datetime(2026, month, 1, tzinfo=UTC) for month in (2, 3, 4, 5)])
        for group, total in _recount("SUM", events, start, end).items()
    }


def test_rebuilding_from_the_hourly_rows_gives_the_rows_ingestion_wrote():
    """What the migration that created the tier does to an upgraded database."""
    _relational_only()
    customer = CustomerFactory()
    _metrics()
    _ingest(_events([str(customer.id), "other-id"]))
    rollups_fold(now=NOW)

    def snapshot():
        return sorted(
            MetricRollup.objects.values_list(
                "metric_id",
                "customer_id",
                "grain",
                "period_start",
                "group_values",
                "event_count",
                "value_sum",
                "value_max",
                "latest_value",
                "latest_timestamp",
                "latest_transaction_id",
            )
        )

    written = snapshot()
    assert len(written) > 100
    MetricRollup.objects.all().delete()
    rollups_rebuild()
    assert snapshot() == written


def test_each_day_and_month_row_adds_up_its_hours():
    _relational_only()
    customer = CustomerFactory()
    metric = BillableMetricFactory(
        aggregation_type="SUM", aggregation_key="n", group_keys=[["region"]]
    )
    _ingest(
        [
            _event(str(customer.id), datetime(2026, 3, 1, 0, 5, tzinfo=UTC), "1.5", "eu"),
            _event(str(customer.id), datetime(2026, 3, 1, 23, 59, tzinfo=UTC), "2", "eu"),
            _event(str(customer.id), datetime(2026, 3, 31, 23, tzinfo=UTC), "4", "us"),
            _event(str(customer.id), datetime(2026, 4, 1, tzinfo=UTC), "8", "us"),
        ]
    )
    rollups_fold(now=NOW)
    rows = {
        (grain, start.date().isoformat(), json.loads(group).get("region")): (count, total)
        for grain, start, group, count, total in MetricRollup.objects.filter(
            metric=metric
        ).values_list("grain", "period_start", "group_values", "event_count", "value_sum")
    }
    assert rows == {
        ("day", "2026-03-01", "eu"): (2, Decimal("3.5")),
        ("day", "2026-03-31", "us"): (1, Decimal("4")),
        ("day", "2026-04-01", "us"): (1, Decimal("8")),
        ("month", "2026-03-01", "eu"): (2, Decimal("3.5")),
        ("month", "2026-03-01", "us"): (1, Decimal("4")),
        ("month", "2026-04-01", "us"): (1, Decimal("8")),
    }


def _tier_rows():
    return sorted(
        MetricRollup.objects.values_list(
            "metric_id", "grain", "period_start", "group_values", "event_count", "value_sum"
        )
    )


def _marks():
    return sorted(UnfoldedDay.objects.values_list("metric_id", "customer_id", "day", "month"))


def test_old_events_write_no_day_or_month_row_until_the_fold(tier, monkeypatch):
    """The guard on the late path: a batch of events older than the watermark writes hourly rows
    and one mark per (metric, customer id, day) only, whatever the tier holds (counted, not
    timed); a read right after it includes them; the fold recomputes the marked days and months
    and deletes the marks, and the read is unchanged."""
    _relational_only()
    _one_way(tier)
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events[:100])
    rollups_fold(now=NOW)
    written = _tier_rows()
    assert written and not _marks()
    hourly = MetricAggregate.objects.count()
    # Old events into an already folded day, the rest of the events, and repeats of folded ones
    # (counted once, marking nothing).
    old = [
        _event(str(customer.id), datetime(2026, 3, 2, hour, 10, tzinfo=UTC), "3", "eu")
        for hour in range(0, 24, 2)
    ]
    _ingest(old + events[100:] + events[:5])
    assert _tier_rows() == written
    assert MetricAggregate.objects.count() > hourly
    days = {
        datetime.fromisoformat(e["timestamp"]).replace(hour=0, minute=0) for e in old + events[100:]
    }
    assert datetime(2026, 3, 2, tzinfo=UTC) in days
    assert _marks() == sorted(
        (metric.pk, str(customer.id), day, day.replace(day=1))
        for metric in metrics.values()
        for day in days
    )
    _assert_exact(metrics, customer, [str(customer.id)], events + old)
    _assert_daily_exact(metrics, [str(customer.id)], events + old, monkeypatch)
    # PostgreSQL: a few marks per transaction, so that months are recomputed more than once.
    monkeypatch.setattr(rollups, "MARK_CHUNK", 7)
    rollups_fold(now=NOW)
    assert not _marks()
    assert _tier_rows() != written
    _assert_exact(metrics, customer, [str(customer.id)], events + old)
    _assert_daily_exact(metrics, [str(customer.id)], events + old, monkeypatch)
    # What the fold left is what a rebuild from the hourly rows gives.
    folded = _tier_rows()
    MetricRollup.objects.all().delete()
    rollups_rebuild()
    assert _tier_rows() == folded


def test_current_events_write_no_day_or_month_row_and_are_read_at_once(tier):
    """The guard on the hot path: a batch of events after the watermark writes hourly rows only
    (counted, not timed); a draft read right after it includes it; the fold then moves it into
    the tier and the read is unchanged."""
    _relational_only()
    _one_way(tier)
    customer = CustomerFactory()
    metrics = _metrics()
    now = datetime(2026, 3, 20, 10, 30, tzinfo=UTC)
    RollupWatermark.objects.update(folded_before=datetime(2026, 3, 20, 9, tzinfo=UTC))
    MetricRollup.objects.all().delete()  # the tier as a fold to 09:00 leaves an empty store
    old = _events([str(customer.id)], count=60, start=datetime(2026, 3, 1, tzinfo=UTC))
    services.usage_events_ingest(events=old, now=now)  # before 09:00: the late path
    assert not _tier_rows()
    assert rollups_fold(now=now) == datetime(2026, 3, 20, 9, tzinfo=UTC)  # the marked days
    written = _tier_rows()
    assert written
    current = [
        _event(str(customer.id), now - timedelta(minutes=minute), "2.5", "eu", tx=f"now-{minute}")
        for minute in range(0, 90, 3)
    ]
    services.usage_events_ingest(events=current, now=now)
    assert _tier_rows() == written
    assert not _marks()
    assert MetricAggregate.objects.filter(hour__gte=datetime(2026, 3, 20, 9, tzinfo=UTC)).count()
    month = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]
    for kind, metric in metrics.items():
        expected = [_recount(kind, old + current, *month)]
        assert _usage(metric, customer, month) == expected, kind
    assert rollups_fold(now=now + timedelta(hours=2)) == datetime(2026, 3, 20, 11, tzinfo=UTC)
    assert _tier_rows() != written
    for kind, metric in metrics.items():
        assert _usage(metric, customer, month) == [_recount(kind, old + current, *month)], kind


def test_a_fold_adds_each_hour_once_a_day_at_a_time(tier):
    _relational_only()
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events)
    reached = rollups_fold(now=NOW)
    folded = _tier_rows()
    assert rollups_fold(now=NOW) == reached
    assert rollups_fold(now=NOW - timedelta(days=3)) == reached
    assert _tier_rows() == folded
    _assert_exact(metrics, customer, [str(customer.id)], events)
    if tier in ("folded", "unfolded"):
        assert reached == NOW - timedelta(hours=1)
        MetricRollup.objects.all().delete()
        RollupWatermark.objects.update(folded_before=BEFORE_THE_EVENTS)
        rollups_fold(now=NOW)  # 66 days folded in 66 transactions
        assert _tier_rows() == folded


def test_without_a_watermark_the_tier_is_empty_until_a_fold_starts_one(tier):
    """A flushed database (no watermark row): ingestion writes hourly rows only, reads add them
    up, and the first fold folds from the first stored hour."""
    _relational_only()
    _one_way(tier)
    RollupWatermark.objects.all().delete()
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=150)
    _ingest(events)
    assert not MetricRollup.objects.exists()
    _assert_exact(metrics, customer, [str(customer.id)], events)
    assert rollups_fold(now=NOW) == NOW - timedelta(hours=1)
    assert MetricRollup.objects.exists()
    _assert_exact(metrics, customer, [str(customer.id)], events)


def test_forgetting_stored_usage_rebuilds_the_tier_from_the_hours_left(tier):
    """What a draft preview does inside its savepoint."""
    _relational_only()
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events)
    start, end = datetime(2026, 3, 3, 7, tzinfo=UTC), datetime(2026, 3, 21, 13, tzinfo=UTC)
    kept = [e for e in events if not start <= datetime.fromisoformat(e["timestamp"]) < end]
    with services.usage_preview(customer_ids=[str(customer.id)], forget=[(start, end)]):
        _assert_exact(metrics, customer, [str(customer.id)], kept)
    _assert_exact(metrics, customer, [str(customer.id)], events)


def test_a_preview_forgetting_windows_that_share_months_and_adding_old_events_is_exact(tier):
    """Two forgotten windows in March and one running into April (their months rebuilt once
    each), then events appended inside and outside them, some older than the watermark: every
    read in the preview is the recount of what it holds, and nothing is left after it."""
    _relational_only()
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events)
    forget = [
        (datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 6, 17, tzinfo=UTC)),
        (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 12, 3, tzinfo=UTC)),
        (datetime(2026, 3, 27, 11, tzinfo=UTC), datetime(2026, 4, 3, 9, tzinfo=UTC)),
    ]
    kept = [
        e
        for e in events
        if not any(a <= datetime.fromisoformat(e["timestamp"]) < b for a, b in forget)
    ]
    added = [
        _event(str(customer.id), at, value, region, tx=f"added-{index}")
        for index, (at, value, region) in enumerate(
            [
                (datetime(2026, 3, 3, 8, 30, tzinfo=UTC), 11, "eu"),
                (datetime(2026, 3, 20, 4, tzinfo=UTC), 13, "us"),
                (datetime(2026, 4, 1, 23, 59, tzinfo=UTC), 17, "eu"),
            ]
        )
    ]
    with services.usage_preview(customer_ids=[str(customer.id)], forget=forget):
        _assert_exact(metrics, customer, [str(customer.id)], kept)
        services.usage_events_ingest(events=added, now=datetime(2026, 4, 4, tzinfo=UTC))
        _assert_exact(metrics, customer, [str(customer.id)], kept + added)
    _assert_exact(metrics, customer, [str(customer.id)], events)


def test_a_window_is_covered_by_months_then_days_then_hours(tier):
    _one_way(tier)
    march, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    assert cover([march, april]).hours == []
    assert cover([march, april]).periods == {"month": [(march, april)]}
    edges = cover([datetime(2026, 2, 27, 13, tzinfo=UTC), datetime(2026, 4, 2, 5, tzinfo=UTC)])
    assert edges.hours == [
        (datetime(2026, 2, 27, 13, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 2, 5, tzinfo=UTC)),
    ]
    assert edges.periods == {
        "month": [(march, april)],
        "day": [
            (datetime(2026, 2, 28, tzinfo=UTC), march),
            (april, datetime(2026, 4, 2, tzinfo=UTC)),
        ],
    }
    # A segment boundary inside March: no month row, days on both sides of it.
    split = cover([march, datetime(2026, 3, 9, 7, tzinfo=UTC), april])
    assert "month" not in split.periods
    assert split.periods["day"] == [
        (march, datetime(2026, 3, 9, tzinfo=UTC)),
        (datetime(2026, 3, 10, tzinfo=UTC), april),
    ]
    assert split.hours == [(datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))]
    # Hourly segments (an HOUR usage window) stay hourly.
    hours = [march + timedelta(hours=h) for h in range(49)]
    assert cover(hours).hours == [(march, hours[-1])] and cover(hours).periods == {}


def _rows_read(metric, customer_id, bounds, grains) -> int:
    """How many pre-aggregate rows the usage read of one customer adds up (PostgreSQL: the rows
    its scans return, from EXPLAIN ANALYZE; SQLite: the rows read into Python)."""
    if connection.vendor != "postgresql":
        return len(list(row_reads.usage_rows(metric, [customer_id], bounds, grains=grains)))
    sql, params = row_reads.usage_rows_sql(metric, [customer_id], bounds, grains=grains)
    (plan,) = row_reads.fetch_range_rows(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)[0]

    def scanned(node) -> int:
        own = node["Actual Rows"] if node["Node Type"].endswith("Heap Scan") else 0
        return own + sum(scanned(child) for child in node.get("Plans", []))

    plan = json.loads(plan) if isinstance(plan, str) else plan
    return scanned(plan[0]["Plan"])


def test_a_month_read_adds_up_rows_per_day_not_per_hour():
    _relational_only()
    customer = CustomerFactory()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n", group_keys=[])
    march = datetime(2026, 3, 1, tzinfo=UTC)
    _ingest(
        [
            _event(str(customer.id), march + timedelta(hours=hour, minutes=7), "1", "eu")
            for hour in range(31 * 24)
        ]
    )
    assert MetricAggregate.objects.filter(metric=metric).count() == 744
    rollups_fold(now=NOW)
    month = [march, datetime(2026, 4, 1, tzinfo=UTC)]
    assert _rows_read(metric, str(customer.id), month, grains=()) == 744
    assert _rows_read(metric, str(customer.id), month, grains=("month", "day")) == 1
    assert _rows_read(metric, str(customer.id), month, grains=("day",)) == 31
    # Mid-day edges: 19 + 17 hours and the 24 whole days between.
    edges = [datetime(2026, 3, 3, 5, tzinfo=UTC), datetime(2026, 3, 28, 17, tzinfo=UTC)]
    assert _rows_read(metric, str(customer.id), edges, grains=("month", "day")) == 60
    assert _rows_read(metric, str(customer.id), edges, grains=()) == 612
    assert selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=edges[0],
        ending_before=edges[1],
        group_keys=[],
    ) == {(): Decimal("612")}


def test_the_clickhouse_stores_day_and_month_rows_match_its_hours_and_refill_the_same(
    chdb_store, monkeypatch, tier
):
    """Written by the ingest INSERT; what store migration 0004 fills an upgraded store with is the
    same, however often it runs (the read through them equals the hourly read and the recount)."""
    from metering.stores.clickhouse import schema as ch_schema
    from metering.stores.clickhouse import sql as ch_sql
    from metering.stores.clickhouse.numbers import value_from_parts

    _one_way(tier)
    customer = CustomerFactory()
    metrics = _metrics()
    events = _events([str(customer.id)], count=200)
    _ingest(events)

    def rollup_rows():
        """Each row with its sum as one Decimal (merges and refills may carry between parts)."""
        return sorted(
            (*row[:6], value_from_parts(*row[6:10]), *row[10:])
            for row in chdb_store.client.rows(
                f"SELECT kind, metric_id, customer_id, hour, group_values, sum(event_count), "
                f"sum(sum_int), sum(sum_frac1), sum(sum_frac2), max(sum_scale), max(max_value), "
                f"max(latest) FROM {chdb_store.database}.usage WHERE kind IN ('day', 'month') "
                f"GROUP BY kind, metric_id, customer_id, hour, group_values"
            )
        )

    written = rollup_rows()
    assert len(written) > 50
    chdb_store.client.command(
        f"ALTER TABLE {chdb_store.database}.usage DELETE WHERE kind IN ('day', 'month') "
        f"SETTINGS mutations_sync = 2"
    )
    assert rollup_rows() == []
    chdb_store.client.command(ch_sql.rollups_insert(chdb_store.database, "1"))
    assert rollup_rows() == written
    # The store migration that adds them, run again (as after a crash before its ledger
    # record): the same rows, not twice as many.
    (migration,) = [m for m in ch_schema.MIGRATIONS if m.version == "0004_day_month_rows"]
    for _ in range(2):
        for statement in migration.sql(database=chdb_store.database, cluster=None):
            chdb_store.client.command(statement)
        assert rollup_rows() == written
    _assert_exact(metrics, customer, [str(customer.id)], events)
    # The same answers from the hourly rows alone.
    monkeypatch.setattr(ch_sql, "cover", lambda bounds, grains: cover(bounds, ()))
    _assert_exact(metrics, customer, [str(customer.id)], events)


def _migration(name):
    import importlib

    return importlib.import_module(f"metering.migrations.{name}")


def _schema_editor():
    """What the migrations' RunPython functions use of a schema editor."""
    from types import SimpleNamespace

    def execute(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return SimpleNamespace(connection=connection, execute=execute)


def test_the_tier_migrations_fill_from_frozen_code_and_can_run_again(tier):
    """0010's fill (frozen SQL / historical models) gives the rows the store's rebuild gives,
    however often it runs; 0011 starts the watermark after the last stored hour and keeps an
    existing one."""
    from django.apps import apps

    _relational_only()
    _one_way(tier)
    customer = CustomerFactory()
    _metrics()
    _ingest(_events([str(customer.id), "other-id"]))
    rollups_rebuild()
    rebuilt = set(MetricRollup.objects.values_list())
    assert len(rebuilt) > 100
    fill = _migration("0010_metric_rollups").fill_from_hourly
    for _ in range(2):
        fill(apps, _schema_editor())
        assert set(MetricRollup.objects.values_list()) == rebuilt
    start = _migration("0012_rollup_watermark").watermark_start
    RollupWatermark.objects.all().delete()
    now = datetime.now(UTC)
    services.usage_events_ingest(events=[_event(str(customer.id), now, "1", "eu")], now=now)
    start(apps, _schema_editor())
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    assert RollupWatermark.objects.get().folded_before == this_hour + timedelta(hours=1)
    RollupWatermark.objects.update(folded_before=NOW)
    start(apps, _schema_editor())
    assert RollupWatermark.objects.get().folded_before == NOW


# --- daily_usage (the revenue and usage dashboards) through the tier --------------------------

DAILY_WINDOWS = [
    (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    (datetime(2026, 2, 27, 13, tzinfo=UTC), datetime(2026, 4, 2, 5, tzinfo=UTC)),
    (datetime(2026, 3, 9, 2, tzinfo=UTC), datetime(2026, 3, 9, 23, tzinfo=UTC)),
    (datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)),
]


def _daily(metrics, customer_ids, start, end):
    """daily_usage as a comparable set: group values as dicts, sums as Decimals."""
    return sorted(
        (
            str(metric_id),
            customer_id,
            day,
            json.dumps(json.loads(group), sort_keys=True),
            events,
            None if amount is None else Decimal(amount),
        )
        for metric_id, customer_id, day, group, events, amount in selectors.daily_usage(
            metric_ids=[m.pk for m in metrics.values()],
            customer_ids=customer_ids,
            starting_at=start,
            ending_before=end,
        )
    )


def _daily_recount(metrics, events, start, end):
    """What daily_usage must answer, from the events themselves (SUM, MAX and LATEST carry the
    sum of their key's values)."""
    found: dict = {}
    for metric in metrics.values():
        for event in events:
            at = datetime.fromisoformat(event["timestamp"])
            if not start <= at < end:
                continue
            group = json.dumps({"region": event["properties"]["region"]}, sort_keys=True)
            key = (str(metric.pk), event["customer_id"], at.date(), group)
            count, total = found.get(key, (0, Decimal(0)))
            found[key] = (count + 1, total + Decimal(event["properties"]["n"]))
    summed = {str(m.pk) for kind, m in metrics.items() if kind in ("SUM", "MAX", "LATEST")}
    return sorted(
        (*key, count, total if key[0] in summed else None) for key, (count, total) in found.items()
    )


def _assert_daily_exact(metrics, customer_ids, events, monkeypatch):
    """Through the tier, from the hourly rows alone, and by recount: the same rows."""
    from metering.stores.clickhouse import sql as ch_sql

    through_tier = [_daily(metrics, customer_ids, a, b) for a, b in DAILY_WINDOWS]
    with monkeypatch.context() as patched:
        for module in (reads, ch_sql):
            patched.setattr(module, "cover", lambda bounds, grains: cover(bounds, ()))
        hourly = [_daily(metrics, customer_ids, a, b) for a, b in DAILY_WINDOWS]
    assert through_tier == hourly
    summed = {str(m.pk) for kind, m in metrics.items() if kind in ("SUM", "MAX", "LATEST")}
    for (start, end), rows in zip(DAILY_WINDOWS, through_tier, strict=True):
        expected = _daily_recount(metrics, events, start, end)
        if event_store().name == "relational":
            # The relational store keeps the key's sum for every aggregation that has a key.
            rows = [(*row[:5], row[5] if row[0] in summed else None) for row in rows]
        assert rows == expected, (start, end)


@pytest.fixture(params=["configured", "chdb"])
def either_store(request, settings):
    if request.param == "chdb":
        if (settings.EVENT_STORE_URL or "").startswith("chdb:"):
            pytest.skip("the configured store is chdb already")
        return request.getfixturevalue("chdb_store")
    return event_store()


def test_daily_usage_reads_whole_days_from_the_tier_and_equals_the_hourly_rows(
    either_store, monkeypatch
):
    customer = CustomerFactory()
    IngestAliasFactory(customer=customer, alias="daily-alias")
    metrics = _metrics()
    ids = [str(customer.id), "daily-alias"]
    events = _events(ids, count=240)
    _ingest(events + events[:10])  # repeats: counted once
    late = [
        _event(ids[0], datetime(2026, 3, 2, 4, 30, tzinfo=UTC), "99", "eu"),
        _event(ids[1], datetime(2026, 3, 9, 22, 59, tzinfo=UTC), "0.5", "us"),
    ]
    _ingest(late)
    _assert_daily_exact(metrics, ids, events + late, monkeypatch)


def test_daily_usage_of_a_month_adds_up_a_row_per_day_not_per_hour(either_store):
    from metering.stores.clickhouse import sql as ch_sql

    customer = CustomerFactory()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n", group_keys=[])
    march = datetime(2026, 3, 1, tzinfo=UTC)
    _ingest(
        [
            _event(str(customer.id), march + timedelta(hours=hour, minutes=7), "1", "eu")
            for hour in range(31 * 24)
        ]
    )
    services.usage_rollups_fold(now=NOW)  # the relational tier takes March in every way
    month = (march, datetime(2026, 4, 1, tzinfo=UTC))
    edges = (datetime(2026, 3, 3, 5, tzinfo=UTC), datetime(2026, 3, 28, 17, tzinfo=UTC))
    if either_store.name == "clickhouse":
        # Each 100-event batch wrote its own rows of the days it touched: count merged rows.
        either_store.client.command(f"OPTIMIZE TABLE {either_store.database}.usage FINAL")

    def rows_read(window, grains):
        if either_store.name == "clickhouse":
            where = ch_sql.daily_rows(
                either_store.database, [str(metric.pk)], [str(customer.id)], *window, grains
            )
            return either_store.client.rows(f"SELECT count() {where}")[0][0]
        days, hours = reads.daily_sources([metric.pk], [str(customer.id)], *window, grains)
        return days.count() + hours.count()

    assert rows_read(month, ("day",)) == 31
    assert rows_read(month, ()) == 744
    # Mid-day edges: 19 + 17 hours and the 24 whole days between.
    assert rows_read(edges, ("day",)) == 60
    assert rows_read(edges, ()) == 612
    days = selectors.daily_usage(
        metric_ids=[metric.pk],
        customer_ids=[str(customer.id)],
        starting_at=edges[0],
        ending_before=edges[1],
    )
    assert sorted((row[2].day, row[4], row[5]) for row in days) == [
        (3, 19, Decimal(19)),
        *[(day, 24, Decimal(24)) for day in range(4, 28)],
        (28, 17, Decimal(17)),
    ]


def test_an_unfolded_day_mark_names_the_month_holding_its_day(tier):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    _relational_only()
    _one_way(tier)
    metric = BillableMetricFactory()
    day = datetime(2026, 3, 2, tzinfo=UTC)
    UnfoldedDay(metric=metric, customer_id="c-1", day=day, month=day.replace(day=1)).full_clean()
    with pytest.raises(ValidationError) as raised:
        UnfoldedDay(metric=metric, customer_id="c-1", day=day, month=BEFORE_THE_EVENTS).full_clean()
    assert raised.value.message_dict == {
        "month": ["The start of the calendar month holding the day."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        UnfoldedDay.objects.create(metric=metric, customer_id="c-1", day=day, month=NOW)
