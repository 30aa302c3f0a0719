"""The ClickHouse store through `clickhouse://` (clickhouse-connect over HTTP, as web nodes and
workers reach a server) against a local fake server running the same engine: asynchronous inserts
acknowledged once written, the schema required before use, and two web nodes racing the same
transaction ids on PostgreSQL (the relational guard decides), each id counted once."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from metering import selectors, services
from metering.stores.clickhouse import ClickHouseStore, EventStoreError, migrate
from metering.stores.clickhouse.client import client_for, parse_url

from .conftest import postgres_only
from .factories import BillableMetricFactory, CustomerFactory
from .fake_clickhouse import fake_clickhouse

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)


def ev(customer_id, tokens, *, tx):
    return {
        "transaction_id": tx,
        "customer_id": customer_id,
        "event_type": "api_call",
        "timestamp": (NOW - timedelta(hours=1)).isoformat(),
        "properties": {"tokens": tokens, "region": "eu"},
    }


@pytest.fixture
def server(chdb_store):
    """A fake ClickHouse server on 127.0.0.1 and the URL of a migrated database on it."""
    with fake_clickhouse(parse_url(chdb_store.url).path) as fake:
        url = f"clickhouse://default@127.0.0.1:{fake.server_port}/metering_http"
        client = client_for(url)
        client.command("CREATE DATABASE IF NOT EXISTS metering_http")
        migrate.apply(client)
        fake.requests.clear()
        yield fake, url
        for table in ("usage", "duplicates"):
            client.command(f"TRUNCATE TABLE metering_http.{table}")


def _usage(metric, customer, at=NOW):
    """The customer's usage in the calendar month of `at`."""
    month = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=month,
        ending_before=(month + timedelta(days=32)).replace(day=1),
        group_keys=[],
    )


def test_ingest_through_a_server_inserts_asynchronously_and_reads_its_writes(server, settings):
    fake, url = server
    settings.EVENT_STORE_URL = url
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)

    result = services.usage_events_ingest(
        events=[ev(cid, 5, tx="a"), ev(cid, "0.5", tx="b"), ev(cid, 9, tx="a")], now=NOW
    )

    assert [e.transaction_id for e in result.duplicates] == ["a"]
    assert _usage(metric, customer) == {(): Decimal("5.5")}
    inserts = [(sql, params) for sql, params in fake.requests if sql.startswith("INSERT")]
    assert [sql.split(" FORMAT")[0] for sql, _ in inserts] == [
        "INSERT INTO metering_http.usage",
        "INSERT INTO metering_http.duplicates",
    ]
    for _, params in inserts:
        assert params["async_insert"] == "1"
        assert params["wait_for_async_insert"] == "1"
        assert params["distributed_foreground_insert"] == "1"


def test_a_sql_metric_through_a_server_binds_every_value_as_a_parameter(server, settings):
    """clickhouse-connect sends the customer ids, the window, property names and literals as
    `param_*` values beside the query, never inside its text."""
    from metering.sql_metrics import sql_metric_usage

    fake, url = server
    settings.EVENT_STORE_URL = url
    metric = BillableMetricFactory(
        sql="SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
        "WHERE properties.region = 'e''u'",
        aggregation_type="COUNT",
        aggregation_key="",
        group_keys=[],
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    services.usage_events_ingest(events=[ev(cid, 5, tx="a"), ev(cid, "0.5", tx="b")], now=NOW)
    services.usage_events_ingest(
        events=[{**ev(cid, 7, tx="c"), "properties": {"tokens": 7, "region": "e'u"}}], now=NOW
    )
    fake.requests.clear()

    got = sql_metric_usage(
        metric=metric,
        customer_ids=[cid],
        starting_at=datetime(2026, 3, 1, tzinfo=UTC),
        ending_before=datetime(2026, 4, 1, tzinfo=UTC),
        group_keys=[],
    )

    assert got == {(): Decimal("7")}
    (query, params) = next((q, p) for q, p in fake.requests if "max_execution_time" in q)
    assert cid not in query and "e'u" not in query and "e\\'u" not in query
    assert params["param_p0"] == "tokens"
    assert f"['{cid}']" in params.values()
    assert "e\\'u" in params.values()


def test_a_server_without_the_schema_is_refused_until_migrated(server):
    _, url = server
    empty = url.replace("/metering_http", "/metering_fresh")
    client_for(empty).command("DROP DATABASE IF EXISTS metering_fresh")
    client_for(empty).command("CREATE DATABASE metering_fresh")

    with pytest.raises(EventStoreError) as refused:
        ClickHouseStore(empty)
    assert str(refused.value) == (
        "The ClickHouse event store lacks migrations 0001_usage, 0002_duplicates, "
        "0003_sql_metric_div, 0004_day_month_rows: run "
        "`python manage.py migrate_event_store` first."
    )

    call_command("migrate_event_store", "--url", empty)
    assert ClickHouseStore(empty).database == "metering_fresh"
    client_for(empty).command("DROP DATABASE metering_fresh")


@pytest.mark.django_db(transaction=True)
def test_two_web_nodes_racing_the_same_ids_count_each_once(server, settings):
    postgres_only("two nodes' dedup decisions serialized by advisory locks")
    _, url = server
    settings.EVENT_STORE_URL = url
    nodes = [ClickHouseStore(url), ClickHouseStore(url)]
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    ids = [f"tx-{n}" for n in range(60)]
    batches = [ids[start : start + 30] for start in (0, 15, 30, 0, 15, 30)]
    barrier = threading.Barrier(len(batches))
    errors = []

    def send(node, batch):
        from metering.validation import events_validate

        try:
            events = events_validate([ev(cid, 1, tx=t) for t in batch], now=NOW)
            barrier.wait()
            node.append(events, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(nodes[index % 2], batch))
        for index, batch in enumerate(batches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _usage(metric, customer) == {(): Decimal("60")}
    rows = nodes[0].client.rows(
        "SELECT transaction_id, count() FROM metering_http.usage WHERE kind = 'event' "
        "GROUP BY transaction_id HAVING count() > 1"
    )
    assert rows == []


def test_a_preview_through_a_server_reads_its_events_and_leaves_nothing(server, settings):
    fake, url = server
    settings.EVENT_STORE_URL = url
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    services.usage_events_ingest(events=[ev(cid, 5, tx="a")], now=NOW)
    client = client_for(url)
    databases = client.rows("SELECT count() FROM system.databases")
    fake.requests.clear()

    with services.usage_preview(customer_ids=[cid]):
        services.usage_events_ingest(events=[ev(cid, 100, tx="a"), ev(cid, 2, tx="b")], now=NOW)
        assert _usage(metric, customer) == {(): Decimal(7)}
    with services.usage_preview(
        customer_ids=[cid], forget=[(datetime(2026, 3, 1, tzinfo=UTC), NOW)]
    ):
        services.usage_events_ingest(events=[ev(cid, 2, tx="c")], now=NOW)
        assert _usage(metric, customer) == {(): Decimal(2)}

    assert _usage(metric, customer) == {(): Decimal(5)}
    assert client.rows("SELECT count() FROM system.databases") == databases
    # Written only into the previews' own tables (plain inserts), never into the store's.
    inserts = [(sql, params) for sql, params in fake.requests if sql.startswith("INSERT INTO")]
    targets = [sql.split(" ")[2].split(".") for sql, _ in inserts]
    assert len(inserts) >= 2
    assert all(db.startswith("metering_http_preview_") and t == "own" for db, t in targets)
    assert {params["async_insert"] for sql, params in inserts if " FORMAT " in sql} == {"0"}


def test_a_backup_round_trips_through_a_server(server, settings, tmp_path):
    """`clickhouse://`'s export (a Native stream read by clickhouse-connect into a local file) and
    import (the file sent as a Native insert) against the fake server: the same rows come back."""
    fake, url = server
    settings.EVENT_STORE_URL = url
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    # Received now: the dropped duplicate outlives the `duplicates` table's 35-day TTL.
    now = datetime.now(UTC)
    events = [ev(cid, 5, tx="a"), ev(cid, "0.5", tx="b"), ev(cid, 9, tx="a")]
    for event in events:
        event["timestamp"] = (now - timedelta(hours=1)).isoformat()
    services.usage_events_ingest(events=events, now=now)
    store = ClickHouseStore(url)
    client = client_for(url)

    def rows():
        return client.rows(
            "SELECT kind, count(), sum(event_count), toString(sum(sum_int)) "
            "FROM metering_http.usage GROUP BY kind ORDER BY kind"
        ) + client.rows("SELECT transaction_id FROM metering_http.duplicates")

    before = rows()
    assert store.backup(directory=tmp_path / "events") == ["usage", "duplicates"]
    assert (tmp_path / "events" / "usage.native").read_bytes()[:1] != b""
    for table in ("usage", "duplicates"):
        client.command(f"TRUNCATE TABLE metering_http.{table}")
    assert _usage(metric, customer, now - timedelta(hours=1)) == {}

    assert store.restore(directory=tmp_path / "events") == ["usage", "duplicates"]

    assert rows() == before
    assert before[-1] == ["a"]
    assert _usage(metric, customer, now - timedelta(hours=1)) == {(): Decimal("5.5")}
    inserts = [
        params
        for sql, params in fake.requests
        if sql.startswith("INSERT") and sql.endswith("FORMAT Native")
    ]
    assert [params.get("insert_deduplicate") for params in inserts] == ["0", "0"]


@pytest.fixture
def one_node_cluster(chdb_store):
    """The fake server answering as a cluster `events` of one node (`fake_clickhouse`), and the
    store's `clickhouse://...?cluster=events` URL on it."""
    with fake_clickhouse(parse_url(chdb_store.url).path, cluster="events") as fake:
        url = f"clickhouse://default@127.0.0.1:{fake.server_port}/metering_http"
        client = client_for(url)
        client.command("CREATE DATABASE IF NOT EXISTS metering_http")
        migrate.apply(client)
        fake.requests.clear()
        yield fake, f"{url}?cluster=events"
        for table in ("usage", "duplicates"):
            client.command(f"TRUNCATE TABLE metering_http.{table}")


@pytest.mark.django_db(transaction=True)
def test_a_cluster_backup_exports_its_snapshot_while_ingest_goes_on(
    one_node_cluster, settings, tmp_path, monkeypatch
):
    """The ingest lock is held while each node copies its parts, not during the export: an
    ingest started while the export is paused completes, and the backup holds the rows of the
    instant the lock was held (not the event ingested meanwhile)."""
    from metering.validation import events_validate

    fake, url = one_node_cluster
    settings.EVENT_STORE_URL = url
    store = ClickHouseStore(url)
    assert store.cluster == "events"
    cid = str(CustomerFactory().id)
    store.append(events_validate([ev(cid, 5, tx="a"), ev(cid, 2, tx="b")], now=NOW), now=NOW)
    client = client_for(url)

    def rows():
        return client.rows(
            "SELECT kind, count(), sum(event_count) FROM metering_http.usage "
            "GROUP BY kind ORDER BY kind"
        )

    before = rows()
    real_export = store.client.export_native
    during = []

    def ingest():
        try:
            store.append(events_validate([ev(cid, 1, tx="during")], now=NOW), now=NOW)
        finally:
            connection.close()

    def export_after_an_ingest(query, path):
        if not during:
            thread = threading.Thread(target=ingest)
            thread.start()
            thread.join(timeout=20)
            during.append((thread, thread.is_alive()))
        real_export(query, path)

    monkeypatch.setattr(store.client, "export_native", export_after_an_ingest)
    fake.requests.clear()

    assert store.backup(directory=tmp_path / "events") == ["usage", "duplicates"]

    ((thread, blocked),) = during
    thread.join()
    assert not blocked
    sent = [sql.split(" FORMAT")[0].strip() for sql, _ in fake.requests]
    copy = next(s for s in sent if s.startswith("CREATE TABLE")).split()[2].split(".")[1]
    assert copy.startswith("usage_snapshot_") and copy.endswith("_local")
    assert sent[:4] == [
        "SYSTEM SYNC REPLICA ON CLUSTER events metering_http.usage_local",
        "SELECT DISTINCT partition_id FROM clusterAllReplicas(events, system.parts) "
        "WHERE database = 'metering_http' AND table = 'usage_local' AND active",
        f"CREATE TABLE metering_http.{copy} ON CLUSTER events AS metering_http.usage_local "
        "ENGINE = AggregatingMergeTree\nORDER BY (customer_id, kind, metric_id, hour, "
        "group_values, transaction_id, received_at)\n"
        "SETTINGS deduplicate_merge_projection_mode = 'rebuild'",
        f"ALTER TABLE metering_http.{copy} ON CLUSTER events ATTACH PARTITION ID 'all' "
        "FROM metering_http.usage_local",
    ]
    assert f"SELECT * FROM cluster(events, metering_http, {copy})" in sent
    assert f"DROP TABLE IF EXISTS metering_http.{copy} ON CLUSTER events SYNC" in sent
    assert rows() != before  # the event ingested during the export is stored
    store.restore(directory=tmp_path / "events")
    assert rows() == before
