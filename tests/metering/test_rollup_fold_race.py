"""The day and month tier's fold racing ingestion on PostgreSQL (real concurrent connections):
events land in hours before, at and after the watermark while a fold moves it, and every event is
counted once, in the tier or after its watermark.

The first two tests put an ingest at the exact point of the fold where it would be lost without
the fold's lock on the marker table (between reading the hourly rows and moving the watermark;
between recomputing the marked days and deleting their marks): deterministic, they fail every
time that lock is left out. The others race many batches with folds and reads."""

import random
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from metering import selectors, services
from metering.models import MetricAggregate, MetricRollup, RollupWatermark, UnfoldedDay
from metering.stores.relational.rollups import rollups_fold

from .conftest import postgres_only
from .factories import BillableMetricFactory, CustomerFactory

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW.replace(minute=0, second=0) - timedelta(hours=10)


def _event(tx: str, customer, when: datetime, tokens: int) -> dict:
    return {
        "transaction_id": tx,
        "customer_id": str(customer.id),
        "event_type": "api_call",
        "timestamp": when.isoformat(),
        "properties": {"tokens": tokens},
    }


@contextmanager
def _ingest_before(statement: str, batch: list[dict]):
    """In the block, when this connection is about to run the first statement starting with
    `statement`, `batch` is ingested from another connection, and the statement runs once that
    ingest has either finished or is waiting for a lock (which it then gets after this
    connection's transaction ends). Yields the ingest's outcome: {"blocked": ..., "error": ...}."""
    outcome: dict = {"blocked": False, "error": None}
    pid: list[int] = []
    started, finished = threading.Event(), threading.Event()

    def ingest():
        try:
            connection.ensure_connection()
            pid.append(connection.connection.info.backend_pid)
            started.set()
            services.usage_events_ingest(events=batch, now=NOW)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            started.set()
            finished.set()
            connection.close()

    thread = threading.Thread(target=ingest)

    def waiting_for_a_lock(cursor) -> bool:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", pid)
        return cursor.fetchone()[0]

    def hook(execute, sql, params, many, context):
        if sql.startswith(statement) and not thread.is_alive() and not finished.is_set():
            thread.start()
            assert started.wait(30)
            deadline = time.monotonic() + 30
            with context["connection"].cursor() as cursor:
                while not finished.wait(0.01):
                    if pid and waiting_for_a_lock(cursor):
                        outcome["blocked"] = True
                        break
                    assert time.monotonic() < deadline, "the ingest neither finished nor waited"
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(hook):
            yield outcome
    finally:
        if thread.ident is not None:
            thread.join()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_ingest_into_hours_the_fold_is_moving_the_watermark_past_is_counted():
    """The fold has added up the hours [START, START + 1h) and is about to move the watermark;
    an ingest into that hour, sent then, waits for the fold and marks its day (it sees the new
    watermark): counted. Without the marker table in the fold's lock it writes an hourly row the
    fold did not read and does not mark it (the old watermark): lost."""
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    MetricRollup.objects.all().delete()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": START})
    hour = START + timedelta(minutes=30)
    services.usage_events_ingest(events=[_event("first", customer, hour, 5)], now=NOW)

    later = [_event("second", customer, hour + timedelta(minutes=1), 7)]
    with _ingest_before('UPDATE "metering_rollupwatermark"', later) as outcome:
        assert rollups_fold(now=START + timedelta(hours=2)) == START + timedelta(hours=1)

    assert outcome["error"] is None
    window = {"starting_at": START - timedelta(days=2), "ending_before": START + timedelta(days=2)}
    read = selectors.metric_usage_by_group(
        metric=metric, customer=customer, group_keys=[], **window
    )
    assert read == {(): Decimal(12)}
    # It waited for the fold (so it could not fall between the fold's statements).
    assert outcome["blocked"]
    assert UnfoldedDay.objects.filter(metric=metric).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_ingest_into_a_day_whose_marks_the_fold_is_taking_up_is_counted():
    """The fold has recomputed a marked day's rows from its hours and is about to delete the
    mark; an ingest of another old event into that day, sent then, waits for the fold and marks
    the day again: counted. Without the marker table in the fold's lock it adds to the hourly
    row, finds the mark there (nothing to insert), and the fold then deletes it: lost."""
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    MetricRollup.objects.all().delete()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": START})
    old = START - timedelta(days=2)
    services.usage_events_ingest(events=[_event("first", customer, old, 5)], now=NOW)
    assert UnfoldedDay.objects.filter(metric=metric).count() == 1

    later = [_event("second", customer, old + timedelta(minutes=1), 7)]
    with _ingest_before('DELETE FROM "metering_unfoldedday"', later) as outcome:
        assert rollups_fold(now=START + timedelta(hours=1)) == START

    assert outcome["error"] is None
    window = {"starting_at": old - timedelta(days=3), "ending_before": START + timedelta(days=1)}
    read = selectors.metric_usage_by_group(
        metric=metric, customer=customer, group_keys=[], **window
    )
    assert read == {(): Decimal(12)}
    assert outcome["blocked"]
    rollups_fold(now=START + timedelta(hours=1))
    day_rows = MetricRollup.objects.filter(metric=metric, grain="day")
    assert sum(day_rows.values_list("value_sum", flat=True)) == Decimal(12)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fold_racing_ingestion_counts_every_event_once():
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    MetricRollup.objects.all().delete()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": START})
    rng = random.Random(15)
    batches = [
        [
            {
                "transaction_id": f"race-{worker}-{number}-{index}",
                "customer_id": str(customer.id),
                "event_type": "api_call",
                "timestamp": (START + timedelta(seconds=rng.randrange(8 * 3600))).isoformat(),
                "properties": {"tokens": rng.randrange(1, 100)},
            }
            for index in range(20)
        ]
        for worker in range(3)
        for number in range(25)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def ingest(mine):
        try:
            barrier.wait()
            for batch in mine:
                services.usage_events_ingest(events=batch, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def fold():
        try:
            barrier.wait()
            for hours in range(1, 9):
                rollups_fold(now=START + timedelta(hours=hours + 1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(batches[w::3],)) for w in range(3)]
    threads.append(threading.Thread(target=fold))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert RollupWatermark.objects.get().folded_before == START + timedelta(hours=8)
    total = sum(event["properties"]["tokens"] for batch in batches for event in batch)
    window = {"starting_at": START, "ending_before": START + timedelta(days=40)}
    read = selectors.metric_usage_by_group(
        metric=metric, customer=customer, group_keys=[], **window
    )
    assert read == {(): Decimal(total)}
    # Events that arrived after the watermark passed their hour marked their day; one more fold
    # takes them up. Every hour is before the watermark: the tier alone holds them all, once.
    rollups_fold(now=START + timedelta(hours=9))
    assert not UnfoldedDay.objects.exists()
    day_rows = MetricRollup.objects.filter(metric=metric, grain="day")
    assert day_rows.aggregate(n=Sum("event_count"))["n"] == 1500
    assert sum(day_rows.values_list("value_sum", flat=True)) == Decimal(total)
    assert (
        MetricAggregate.objects.filter(metric=metric).aggregate(n=Sum("event_count"))["n"] == 1500
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_folds_racing_ingestion_of_old_events_count_every_event_once():
    """Every event older than the watermark (a backfill): batches mark their days while folds
    recompute the marked days and months and delete the marks; the read is exact throughout and
    the tier alone holds every event once after the last fold."""
    postgres_only()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    counted = BillableMetricFactory(aggregation_type="COUNT")
    customer = CustomerFactory()
    MetricRollup.objects.all().delete()
    watermark = START + timedelta(hours=9)
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": watermark})
    rng = random.Random(51)
    batches = [
        [
            {
                "transaction_id": f"old-{worker}-{number}-{index}",
                "customer_id": str(customer.id),
                "event_type": "api_call",
                "timestamp": (START - timedelta(seconds=rng.randrange(3 * 86400))).isoformat(),
                "properties": {"tokens": rng.randrange(1, 100)},
            }
            for index in range(20)
        ]
        for worker in range(3)
        for number in range(25)
    ]
    errors: list[BaseException] = []
    reads: list[Decimal] = []
    barrier = threading.Barrier(5)
    done = threading.Event()
    window = {"starting_at": START - timedelta(days=4), "ending_before": START + timedelta(days=1)}

    def ingest(mine):
        try:
            barrier.wait()
            for batch in mine:
                services.usage_events_ingest(events=batch, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def fold():
        try:
            barrier.wait()
            while not done.is_set():
                assert rollups_fold(now=watermark) == watermark
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def read():
        """Reads while batches and folds commit (one thread, so in commit order)."""
        try:
            barrier.wait()
            while not done.is_set():
                found = selectors.metric_usage_by_group(
                    metric=counted, customer=customer, group_keys=[], **window
                )
                reads.append(found.get((), Decimal(0)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    ingesters = [threading.Thread(target=ingest, args=(batches[w::3],)) for w in range(3)]
    others = [threading.Thread(target=fold), threading.Thread(target=read)]
    for thread in ingesters + others:
        thread.start()
    for thread in ingesters:
        thread.join()
    done.set()
    for thread in others:
        thread.join()
    assert errors == []
    # Each read counted whole batches of 20 (spread over 3 days each), never fewer than the read
    # before it: no day counted twice or lost between its mark, its fold and the tier.
    assert reads
    assert all(found % 20 == 0 and found <= 1500 for found in reads), reads
    assert reads == sorted(reads)
    total = sum(event["properties"]["tokens"] for batch in batches for event in batch)
    read_now = selectors.metric_usage_by_group(
        metric=metric, customer=customer, group_keys=[], **window
    )
    assert read_now == {(): Decimal(total)}
    rollups_fold(now=watermark)
    assert not UnfoldedDay.objects.exists()
    assert selectors.metric_usage_by_group(
        metric=metric, customer=customer, group_keys=[], **window
    ) == {(): Decimal(total)}
    day_rows = MetricRollup.objects.filter(metric=metric, grain="day")
    assert day_rows.aggregate(n=Sum("event_count"))["n"] == 1500
    assert sum(day_rows.values_list("value_sum", flat=True)) == Decimal(total)
    month_rows = MetricRollup.objects.filter(metric=metric, grain="month")
    assert month_rows.aggregate(n=Sum("event_count"))["n"] == 1500
    assert sum(month_rows.values_list("value_sum", flat=True)) == Decimal(total)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fold_that_cannot_lock_the_tier_gives_up_and_the_next_one_goes_on():
    """A long transaction writing the tier (a metric's backfill rebuilding it): the fold stops
    where it is after its lock wait instead of queueing ingestion behind it, and the next run
    folds."""
    postgres_only()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": START})
    locked, release = threading.Event(), threading.Event()

    def backfill():
        from django.db import transaction

        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("LOCK TABLE metering_metricrollup IN ROW EXCLUSIVE MODE")
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=backfill)
    holder.start()
    try:
        assert locked.wait(10)
        assert rollups_fold(now=START + timedelta(hours=5)) == START
    finally:
        release.set()
        holder.join()
    assert rollups_fold(now=START + timedelta(hours=5)) == START + timedelta(hours=4)
