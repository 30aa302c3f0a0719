"""The ClickHouse store (in-process chdb) on its own: a transaction id counted once within 34 days
(inside a batch, across batches, across retries, across threads) whatever merges do; one process
per chdb path, refused clearly; the schema owned by code, single node and cluster from one
definition, applied by `manage.py migrate_event_store`."""

import fcntl
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from metering import selectors, services
from metering.stores.clickhouse import migrate, schema, sql
from metering.stores.clickhouse.client import HttpClient, parse_url

from .factories import BillableMetricFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)
START = datetime(2026, 2, 1, tzinfo=UTC)
END = datetime(2026, 6, 1, tzinfo=UTC)


def ev(customer_id, tokens, *, tx=None, at=None, region="eu"):
    return {
        "transaction_id": tx or str(uuid.uuid4()),
        "customer_id": customer_id,
        "event_type": "api_call",
        "timestamp": (at or NOW - timedelta(hours=1)).isoformat(),
        "properties": {"tokens": tokens, "region": region},
    }


def total(metric, customer, keys=()):
    return selectors.metric_usage_by_group(
        metric=metric, customer=customer, starting_at=START, ending_before=END, group_keys=keys
    )


def event_rows(store, transaction_id) -> int:
    query = (
        f"SELECT count() FROM {store.database}.usage WHERE kind = 'event' "
        f"AND transaction_id = '{transaction_id}'"
    )
    return int(store.client.rows(query)[0][0])


@pytest.fixture
def metered(chdb_store):
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    return chdb_store, metric, customer, str(customer.id)


def test_duplicates_inside_a_batch_are_counted_once(metered):
    store, metric, customer, cid = metered
    result = services.usage_events_ingest(
        events=[ev(cid, 5, tx="a"), ev(cid, 7, tx="a"), ev(cid, 1, tx="b")], now=NOW
    )
    assert [e.transaction_id for e in result.inserted] == ["a", "b"]
    assert [e.transaction_id for e in result.duplicates] == ["a"]
    assert total(metric, customer) == {(): Decimal("6")}
    assert event_rows(store, "a") == 1


def test_duplicates_across_batches_are_counted_once(metered):
    store, metric, customer, cid = metered
    services.usage_events_ingest(events=[ev(cid, 5, tx="a")], now=NOW)
    second = services.usage_events_ingest(
        events=[ev(cid, 9, tx="a"), ev(cid, 2, tx="c")], now=NOW + timedelta(days=3)
    )
    assert [e.transaction_id for e in second.duplicates] == ["a"]
    assert total(metric, customer) == {(): Decimal("7")}
    assert event_rows(store, "a") == 1


def test_a_transaction_id_is_remembered_for_34_days_then_accepted_again(metered):
    _store, metric, customer, cid = metered
    services.usage_events_ingest(events=[ev(cid, 5, tx="a")], now=NOW)
    later = NOW + timedelta(days=33, hours=23)
    kept = services.usage_events_ingest(
        events=[ev(cid, 1, tx="a", at=later - timedelta(hours=1))], now=later
    )
    assert kept.inserted == []
    much_later = NOW + timedelta(days=34, hours=1)
    again = services.usage_events_ingest(
        events=[ev(cid, 2, tx="a", at=much_later - timedelta(hours=1))], now=much_later
    )
    assert [e.transaction_id for e in again.inserted] == ["a"]
    assert total(metric, customer) == {(): Decimal("7")}


def test_a_retried_insert_whose_first_attempt_was_written_counts_once(metered, monkeypatch):
    """The INSERT reached the table but its answer was lost: the store's own retry looks the ids
    up again and writes nothing twice; so does the client's retry of the whole batch."""
    store, metric, customer, cid = metered
    real_insert = store.client.insert
    calls = []

    def insert_then_lose_the_answer(table, lines):
        calls.append(table)
        real_insert(table, lines)
        if len(calls) == 1:
            raise ConnectionError("connection reset after the INSERT was sent")

    monkeypatch.setattr(store.client, "insert", insert_then_lose_the_answer)
    batch = [ev(cid, 5, tx="a"), ev(cid, "0.25", tx="b")]
    services.usage_events_ingest(events=batch, now=NOW)
    retry = services.usage_events_ingest(events=batch, now=NOW + timedelta(seconds=2))

    assert calls[0] == "usage"
    assert [e.transaction_id for e in retry.duplicates] == ["a", "b"]
    assert total(metric, customer) == {(): Decimal("5.25")}
    assert event_rows(store, "a") == 1
    assert event_rows(store, "b") == 1


def test_a_failed_insert_is_written_by_the_retry(metered, monkeypatch):
    store, metric, customer, cid = metered
    real_insert = store.client.insert
    failures = []

    def refuse_once(table, lines):
        if not failures:
            failures.append(table)
            raise ConnectionError("connection refused")
        real_insert(table, lines)

    monkeypatch.setattr(store.client, "insert", refuse_once)
    result = services.usage_events_ingest(events=[ev(cid, 5, tx="a")], now=NOW)

    assert failures == ["usage"]
    assert [e.transaction_id for e in result.inserted] == ["a"]
    assert total(metric, customer) == {(): Decimal("5")}


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_ids_count_each_id_once(metered):
    store, metric, customer, cid = metered
    ids = [f"tx-{n}" for n in range(40)]
    batches = [[ev(cid, 1, tx=t) for t in ids[start : start + 20]] for start in (0, 10, 20, 0)]
    barrier = threading.Barrier(len(batches))
    errors = []

    def send(batch):
        try:
            barrier.wait()
            services.usage_events_ingest(events=batch, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert total(metric, customer) == {(): Decimal("40")}
    assert all(event_rows(store, t) == 1 for t in ids)


def test_reads_are_the_same_before_and_after_merges(chdb_store):
    store = chdb_store
    summed = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    counted = BillableMetricFactory(aggregation_type="COUNT", aggregation_key="")
    highest = BillableMetricFactory(aggregation_type="MAX", aggregation_key="tokens")
    unique = BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    for tokens, region in [("1.5", "eu"), (2, "us"), ("1.5", "eu"), ("0.001", "eu"), (9, "us")]:
        services.usage_events_ingest(events=[ev(cid, tokens, region=region)], now=NOW)

    def readings():
        return [
            total(metric, customer, ["region"]) for metric in (summed, counted, highest, unique)
        ]

    before = readings()
    parts_before = store.client.rows(
        f"SELECT count() FROM {store.database}.usage WHERE kind = 'aggregate'"
    )[0][0]
    store.client.command(f"OPTIMIZE TABLE {store.database}.usage FINAL")
    parts_after = store.client.rows(
        f"SELECT count() FROM {store.database}.usage WHERE kind = 'aggregate'"
    )[0][0]

    assert before == [
        {("eu",): Decimal("3.001"), ("us",): Decimal("11")},
        {("eu",): Decimal("3"), ("us",): Decimal("2")},
        {("eu",): Decimal("1.5"), ("us",): Decimal("9")},
        {("eu",): Decimal("2"), ("us",): Decimal("2")},
    ]
    assert int(parts_after) < int(parts_before)
    assert readings() == before


def _second_process(url: str) -> subprocess.CompletedProcess:
    """`manage.py migrate_event_store` in another process, on the same chdb path."""
    return subprocess.run(
        [sys.executable, "manage.py", "migrate_event_store", "--url", url],
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "billing_site.settings.test"},
        timeout=120,
        check=False,
    )


def test_a_second_process_is_refused_with_a_clear_message(chdb_store):
    path = parse_url(chdb_store.url).path
    done = _second_process(chdb_store.url)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"CommandError: The chdb event store {path} is open in another process "
        f"(pid {os.getpid()}). chdb lets one process open a data path"
    )


def test_the_lock_is_taken_before_chdb_opens_the_path(tmp_path):
    with open(tmp_path / "billing-event-store.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        done = _second_process(f"chdb://{tmp_path}")
    assert "is open in another process (pid 4242)" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billing-event-store.lock"]


def test_cluster_and_single_node_schemas_come_from_one_definition():
    single = dict(migrate.plan(database="metering", cluster=None))
    cluster = dict(migrate.plan(database="metering", cluster="events"))

    assert list(single) == [
        "0001_usage",
        "0002_duplicates",
        "0003_sql_metric_div",
        "0004_day_month_rows",
    ]
    assert list(cluster) == list(single)
    (usage,) = single["0001_usage"]
    assert "CREATE TABLE IF NOT EXISTS metering.usage (" in usage
    assert "ENGINE = AggregatingMergeTree" in usage
    local, distributed = cluster["0001_usage"]
    assert local.startswith("CREATE TABLE IF NOT EXISTS metering.usage_local ON CLUSTER events (")
    assert (
        "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/metering/usage_local'"
        ", '{replica}')" in local
    )
    assert usage.split("(", 1)[1].split("ENGINE")[0] == local.split("(", 1)[1].split("ENGINE")[0]
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS metering.usage ON CLUSTER events AS metering.usage_local\n"
        "ENGINE = Distributed(events, metering, usage_local, cityHash64(customer_id))"
    )
    assert "ReplicatedMergeTree(" in cluster["0002_duplicates"][0]
    (function,) = cluster["0003_sql_metric_div"]
    assert function.startswith("CREATE OR REPLACE FUNCTION sql_metric_div ON CLUSTER events AS")
    assert single["0003_sql_metric_div"][0].startswith(
        "CREATE OR REPLACE FUNCTION sql_metric_div AS (a, b) -> reinterpret("
    )
    alter, fill = single["0004_day_month_rows"]
    assert alter.startswith("ALTER TABLE metering.usage MODIFY COLUMN kind Enum8(")
    assert fill.startswith("INSERT INTO metering.usage (kind, ")
    local_alter, distributed_alter, cluster_fill = cluster["0004_day_month_rows"]
    assert local_alter.startswith("ALTER TABLE metering.usage_local ON CLUSTER events MODIFY")
    assert distributed_alter.startswith("ALTER TABLE metering.usage ON CLUSTER events MODIFY")
    assert cluster_fill == fill


def test_migrate_event_store_plan_prints_the_cluster_ddl(capsys):
    call_command(
        "migrate_event_store", "--plan", "--url", "clickhouse://ch:8123/billing?cluster=c1"
    )
    out = capsys.readouterr().out
    assert out.startswith(
        "-- 0001_usage\nCREATE TABLE IF NOT EXISTS billing.usage_local ON CLUSTER c1"
    )
    assert "-- 0002_duplicates\n" in out
    assert "ENGINE = Distributed(c1, billing, duplicates_local, cityHash64(transaction_id));" in out


def test_migrate_event_store_applies_once_and_records_versions(chdb_store, capsys):
    call_command("migrate_event_store", "--url", chdb_store.url)
    assert capsys.readouterr().out == "The event store's schema is up to date.\n"
    assert migrate.applied(chdb_store.client) == [
        "0001_usage",
        "0002_duplicates",
        "0003_sql_metric_div",
        "0004_day_month_rows",
    ]
    assert [m.version for m in migrate.pending(chdb_store.client)] == []


def test_migrate_event_store_with_the_relational_store_has_nothing_to_do(capsys, settings):
    settings.EVENT_STORE_URL = ""
    call_command("migrate_event_store")
    assert "Nothing to do" in capsys.readouterr().out


def test_migrate_event_store_names_a_bad_url():
    with pytest.raises(CommandError, match="write chdb:///absolute/path"):
        call_command("migrate_event_store", "--url", "chdb://relative/path")


def test_a_server_store_inserts_asynchronously_and_waits_for_durability():
    client = HttpClient(parse_url("clickhouse://u:p@ch:8123/billing?cluster=c1"))
    assert client.INSERT_SETTINGS == {
        "async_insert": 1,
        "wait_for_async_insert": 1,
        "distributed_foreground_insert": 1,
    }
    assert (client.database, client.cluster) == ("billing", "c1")


def test_the_schema_has_no_partition_key_so_a_batch_is_one_part():
    assert schema.USAGE.partition_by == ""
    assert schema.USAGE.order_by.endswith("transaction_id, received_at")


def test_a_sql_metric_reads_the_events_once_before_and_after_merges(chdb_store):
    """A SQL metric reads the event rows of the customer and window: a duplicate is not among
    them, and parts merging changes nothing (no FINAL needed: event rows never fold)."""
    from metering.sql_metrics import sql_metric_check_runs, sql_metric_usage

    store = chdb_store
    query = (
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
        "FROM events GROUP BY properties.region"
    )
    sql_metric_check_runs(query)
    metric = BillableMetricFactory(
        sql=query, aggregation_type="COUNT", aggregation_key="", group_keys=[["region"]]
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    for tokens, region, tx in [("1.5", "eu", "a"), (2, "us", "b"), ("1.5", "eu", "a")]:
        services.usage_events_ingest(events=[ev(cid, tokens, region=region, tx=tx)], now=NOW)
    services.usage_events_ingest(
        events=[ev(cid, "0.001", tx="c"), ev(cid, 9, region="us", tx="d")], now=NOW
    )
    window = {
        "metric": metric,
        "customer_ids": [cid],
        "starting_at": START,
        "ending_before": END,
        "group_keys": ["region"],
    }

    before = sql_metric_usage(**window)
    store.client.command(f"OPTIMIZE TABLE {store.database}.usage FINAL")
    from metering.models import SqlMetricHour, SqlMetricResult

    SqlMetricResult.objects.all().delete()
    SqlMetricHour.objects.all().delete()

    assert before == {("eu",): Decimal("1.501"), ("us",): Decimal("11")}
    assert sql_metric_usage(**window) == before


def test_expire_drops_the_previews_a_dead_process_left_and_no_live_one(chdb_store):
    def previews():
        return sorted(
            name
            for (name,) in chdb_store.client.rows("SELECT name FROM system.databases")
            if name.startswith("metering_preview_")
        )

    left = "metering_preview_" + "0" * 32
    for statement in sql.preview_create("metering", left, ["c"], []):
        chdb_store.client.command(statement)
    now = datetime.now(UTC)
    with services.usage_preview(customer_ids=["c"]):
        live = [name for name in previews() if name != left]
        chdb_store.expire(now=now)
        assert previews() == sorted([left, *live])
        chdb_store.expire(now=now + timedelta(minutes=61))
    assert previews() == []
