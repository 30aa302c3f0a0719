"""SQL metric benchmark on PostgreSQL (or SQLite), then on the ClickHouse store (chdb, in
process) (run by `make bench`, or `python benchmarks/sql_metrics.py`).

One customer with 1,000,000 events in one month (50 regions, 20,000 users; a tenth of them of
another event type), and one contract per SQL metric shape, each pricing one product by region:
a SUM, a COUNT, a UNIQUE count (COUNT(DISTINCT user): no hourly decomposition, read whole), an
AVG, a MAX, arithmetic of parts around a quotient, and the quickstart's daily average. Each
draft is read through GET /v1/customers/{id}/invoices/{invoice_id}:

- first read: nothing kept for the period (what a person meets when they read before the warm
  task or the schedule did);
- the read after an event arrived behind a first read (events arriving while a period's first
  read is being kept: one event, then the read);
- after an ingest (one event in the current hour, then the read; target p50 <= 200 ms);
- after a late event (day 4: a day read whole by the first read is read again, by hour; the
  second such event reads one hour);
- nothing new (the kept result; target p50 <= 200 ms).

The clock is the period's last minutes, its events spread over the whole month.

`--shapes sum,unique` measures only those; `--no-chdb` skips the ClickHouse pass; `--sqlite`
runs on SQLite instead of PostgreSQL;
BENCH_SQL_EVENTS=10000 runs every step quickly (the figures are for 1,000,000). Events and the
hourly event counts (the cache's fingerprint) are written directly in SQL, not through HTTP:
this measures the read. No django-q2 worker runs (tasks stay queued, as before a worker takes
them). A throw-away database (`benchmarks/_support.database`). The load average is printed with
the figures; nothing is asserted. Each shape's draft is compared with the whole period's read
(`equal`)."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHILD = "BENCH_SQL_METRICS_CHILD"

if os.environ.get(CHILD):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django

    django.setup()

    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from catalog.models import BillableMetric, PricingUnit, Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID
    from core.models import ApiToken
    from customers.models import Contract, Customer
    from invoicing.models import Invoice
    from invoicing.services import contracts_drafts_ensure
    from metering.models import SqlMetricHour, SqlMetricResult
    from metering.services import usage_events_ingest
    from metering.sql_metrics import _parsed, sql_metric_usage
    from metering.sql_metrics.by_hour import window_rows

PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
SECONDS = int((PERIOD_END - PERIOD_START).total_seconds())
EVENTS = int(os.environ.get("BENCH_SQL_EVENTS", "1000000"))
REGIONS = 50
USERS = 20_000
TOKENS = "CAST(properties.tokens AS DECIMAL)"
WHERE = "FROM events WHERE event_type = 'api_call' GROUP BY properties.region"
SHAPES = {
    "sum": f"SELECT SUM({TOKENS}) AS value, properties.region AS region {WHERE}",
    "count": f"SELECT COUNT(*) AS value, properties.region AS region {WHERE}",
    "unique": f"SELECT COUNT(DISTINCT properties.user) AS value, properties.region AS region {WHERE}",
    "avg": f"SELECT AVG({TOKENS}) AS value, properties.region AS region {WHERE}",
    "max": f"SELECT MAX({TOKENS}) AS value, properties.region AS region {WHERE}",
    "arithmetic": f"SELECT (SUM({TOKENS}) + COUNT(*) * 3) / COUNT(*) AS value, "
    f"properties.region AS region {WHERE}",
    "daily average": f"SELECT SUM({TOKENS}) / COUNT(DISTINCT DATE_TRUNC('day', timestamp)) "
    f"AS value, properties.region AS region {WHERE}",
}


def log(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def offering(customer, name: str, sql: str) -> tuple:
    """A metric, a product priced by region on a card of its own, a contract of `customer` on
    it and its March draft's URL."""
    metric = BillableMetric.objects.create(
        name=f"{name} (SQL)",
        sql=sql,
        aggregation_type=BillableMetric.AggregationType.COUNT,
        group_keys=[["region"]],
    )
    product = Product.objects.create(
        name=name, type="USAGE", billable_metric=metric, pricing_group_key=["region"]
    )
    card = RateCard.objects.create(name=f"{name} card", fiat_credit_type_id=USD_CENTS_ID)
    Rate.objects.bulk_create(
        Rate(
            rate_card=card,
            product=product,
            rate_type="FLAT",
            price=Decimal(1),
            starting_at=PERIOD_START,
            pricing_group_values={"region": f"r{index:02d}"},
            pricing_group_values_key=f'{{"region":"r{index:02d}"}}',
        )
        for index in range(REGIONS)
    )
    contract = Contract.objects.create(customer=customer, rate_card=card, starting_at=PERIOD_START)
    contracts_drafts_ensure(contracts=[contract], now=PERIOD_START + timedelta(days=1))
    invoice = Invoice.objects.get(contract=contract, start_timestamp=PERIOD_START)
    return metric, f"/v1/customers/{customer.pk}/invoices/{invoice.id}"


def setup(shapes: list[str]) -> tuple:
    customer = Customer.objects.create(name="bench-sql")
    offerings = {name: offering(customer, name, SHAPES[name]) for name in shapes}
    values = {
        "customer": str(customer.pk),
        "start": PERIOD_START,
        "epoch": int(PERIOD_START.timestamp()),
        "seconds": SECONDS,
        "regions": REGIONS,
        "users": USERS,
        "n": EVENTS,
    }
    with connection.cursor() as cursor:
        cursor.execute(EVENTS_SQL[connection.vendor], values)
        for metric, _ in offerings.values():
            # The hourly event counts ingestion keeps for a SQL metric (its fingerprint).
            metric_id = str(metric.pk) if connection.vendor == "postgresql" else metric.pk.hex
            cursor.execute(COUNTS_SQL[connection.vendor], {"metric": metric_id})
        cursor.execute("ANALYZE")
    return customer, offerings


EVENTS_SQL = {
    "postgresql": """
        INSERT INTO metering_usageevent
            (id, transaction_id, customer_id, event_type, "timestamp", properties,
             received_at, is_late)
        SELECT gen_random_uuid(), 'sql-' || g, %(customer)s,
               CASE WHEN g %% 10 = 0 THEN 'other' ELSE 'api_call' END,
               %(start)s + ((g::bigint * 7919) %% %(seconds)s) * interval '1 second',
               jsonb_build_object('tokens', ((g %% 1000) + 1)::text,
                                  'region', 'r' || lpad((g %% %(regions)s)::text, 2, '0'),
                                  'user', 'u' || (g %% %(users)s)::text),
               %(start)s, false
        FROM generate_series(1, %(n)s) AS g
    """,
    "sqlite": """
        WITH RECURSIVE numbers(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM numbers
                                      WHERE g < %(n)s)
        INSERT INTO metering_usageevent
            (id, transaction_id, customer_id, event_type, "timestamp", properties,
             received_at, is_late)
        SELECT lower(hex(randomblob(16))), 'sql-' || g, %(customer)s,
               CASE WHEN g %% 10 = 0 THEN 'other' ELSE 'api_call' END,
               strftime('%%Y-%%m-%%d %%H:%%M:%%S', %(epoch)s + (g * 7919) %% %(seconds)s,
                        'unixepoch'),
               json_object('tokens', CAST((g %% 1000) + 1 AS TEXT),
                           'region', 'r' || substr('0' || (g %% %(regions)s), -2),
                           'user', 'u' || (g %% %(users)s)),
               strftime('%%Y-%%m-%%d %%H:%%M:%%S', %(epoch)s, 'unixepoch'), 0
        FROM numbers
    """,
}
COUNTS_SQL = {
    "postgresql": """
        INSERT INTO metering_metricaggregate
            (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
             latest_value, latest_timestamp, latest_transaction_id)
        SELECT %(metric)s, customer_id, date_trunc('hour', "timestamp"), '{}', count(*),
               NULL, NULL, NULL, NULL, ''
        FROM metering_usageevent GROUP BY customer_id, date_trunc('hour', "timestamp")
    """,
    "sqlite": """
        INSERT INTO metering_metricaggregate
            (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
             latest_value, latest_timestamp, latest_transaction_id)
        SELECT %(metric)s, customer_id, strftime('%%Y-%%m-%%d %%H:00:00', "timestamp"), '{}',
               count(*), NULL, NULL, NULL, NULL, ''
        FROM metering_usageevent
        GROUP BY customer_id, strftime('%%Y-%%m-%%d %%H:00:00', "timestamp")
    """,
}


# The benchmark's clock: the period's last minutes (its events spread over the whole month).
NOW = PERIOD_END - timedelta(minutes=20)


def ingest_one(customer_id: str, tag: str, late: bool = False) -> None:
    """One new event, through metering's ingestion: in the current hour, or `late`, on day 4."""
    when = PERIOD_START + timedelta(days=3) if late else NOW - timedelta(minutes=5)
    usage_events_ingest(
        events=[
            {
                "transaction_id": f"{tag}-{uuid.uuid4()}",
                "customer_id": customer_id,
                "event_type": "api_call",
                "timestamp": when.isoformat(),
                "properties": {"tokens": "1", "region": "r00", "user": "u-new"},
            }
        ],
        now=NOW,
    )


def timed(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:300]
    return elapsed


def forget(metric) -> None:
    SqlMetricResult.objects.filter(metric=metric).delete()
    SqlMetricHour.objects.filter(metric=metric).delete()


def phases(client: Client, url: str, metric, customer_id: str, tag: str, runs: int) -> dict:
    first = []
    for _ in range(3):
        forget(metric)
        first.append(timed(client, url))
    arriving = []
    for index in range(3):
        forget(metric)
        client.get(url)
        ingest_one(customer_id, f"{tag}-arriving-{index}")
        arriving.append(timed(client, url))
    after_ingest = []
    for index in range(runs):
        ingest_one(customer_id, f"{tag}-{index}")
        after_ingest.append(timed(client, url))
    late = []
    for index in range(3):
        ingest_one(customer_id, f"{tag}-late-{index}", late=True)
        late.append(timed(client, url))
    kept = [timed(client, url) for _ in range(runs)]
    return {
        "first": first,
        "arriving": arriving,
        "after_ingest": after_ingest,
        "late": late,
        "kept": kept,
    }


def p50(timings: list[float]) -> str:
    return f"{statistics.median(timings):.0f}"


def measure(client: Client, customer_id: str, offerings: dict, runs: int, store: str) -> None:
    log(
        f"   {'shape':<14} {'first read':>11} {'event behind':>13} {'after ingest':>13} "
        f"{'late events':>12} {'nothing new':>12}"
    )
    log(
        f"   {'':<14} {'p50 / max':>11} {'it, p50':>13} {'p50':>13} {'1st / 2nd':>12} "
        f"{'p50':>12}   (ms; first read and event behind it: 3 runs, the others {runs})"
    )
    for name, (metric, url) in offerings.items():
        figures = phases(client, url, metric, customer_id, f"{store}-{name}", runs)
        read = sql_metric_usage(
            metric=metric,
            customer_ids=[customer_id],
            starting_at=PERIOD_START,
            ending_before=PERIOD_END,
            group_keys=["region"],
        )
        whole = {
            tuple(row[:-1]): row[-1]
            for row in window_rows(
                _parsed(metric.sql), [customer_id], PERIOD_START, PERIOD_END, None
            )
            if row[-1] is not None
        }
        first = f"{p50(figures['first'])} / {max(figures['first']):.0f}"
        late = f"{figures['late'][0]:.0f} / {figures['late'][1]:.0f}"
        log(
            f"   {name:<14} {first:>11} {p50(figures['arriving']):>13} "
            f"{p50(figures['after_ingest']):>13} {late:>12} {p50(figures['kept']):>12}   "
            f"equal: {read == whole}, {load()}"
        )


def chdb_events(store, customer_id: str, metrics) -> None:
    """The same events (and each metric's hourly counts, day and month rows) in an in-process
    ClickHouse store's `usage` table, written in SQL as `setup` writes PostgreSQL's."""
    from metering.stores.clickhouse import sql

    database = store.database
    start = int(PERIOD_START.timestamp())
    customer = sql.text(customer_id)
    store.client.command(
        f"""
        INSERT INTO {database}.usage (kind, customer_id, metric_id, hour, group_values,
            transaction_id, received_at, timestamp, event_type, properties, is_late, id)
        SELECT 'event', {customer}, '{sql.NO_METRIC}', toStartOfHour(ts), '',
               concat('sql-', toString(g)), toDateTime64({start}, 6, 'UTC'), ts,
               if(g % 10 = 0, 'other', 'api_call'),
               concat('{{"tokens":"', toString(g % 1000 + 1), '","region":"r',
                      leftPad(toString(g % {REGIONS}), 2, '0'), '","user":"u',
                      toString(g % {USERS}), '"}}'),
               false, generateUUIDv4()
        FROM (SELECT number + 1 AS g,
                     toDateTime64({start} + ((g * 7919) % {SECONDS}), 6, 'UTC') AS ts
              FROM numbers({EVENTS}))
        """
    )
    for metric in metrics:
        store.client.command(
            f"""
            INSERT INTO {database}.usage (kind, customer_id, metric_id, hour, group_values,
                transaction_id, received_at, event_count, sum_int, sum_frac1, sum_frac2,
                sum_scale, max_value, latest)
            SELECT 'aggregate', customer_id, '{metric.id}', hour, '', '',
                   toDateTime64(0, 6, 'UTC'), count(), 0, 0, 0, 0,
                   tuple(toInt128(0), toUInt256(0), toUInt256(0), '0'),
                   tuple(max(timestamp), '', '')
            FROM {database}.usage WHERE customer_id = {customer} AND kind = 'event'
            GROUP BY customer_id, hour
            """
        )
        store.client.command(
            sql.rollups_insert(database, f"customer_id = {customer} AND metric_id = '{metric.id}'")
        )


def chdb_pass(customer_id: str, offerings: dict, client: Client, runs: int) -> None:
    """The same drafts with the events in the ClickHouse store (chdb, in this process, in a
    temporary folder removed afterwards)."""
    from django.core.management import call_command

    from metering.stores import event_store

    folder = tempfile.mkdtemp(prefix="bench-sql-chdb-")
    try:
        settings.EVENT_STORE_URL = f"chdb://{folder}"
        call_command("migrate_event_store", stdout=open(os.devnull, "w"))  # noqa: SIM115
        started = time.perf_counter()
        chdb_events(event_store(), customer_id, [metric for metric, _ in offerings.values()])
        log(
            f"== The same drafts on the ClickHouse store (chdb): {EVENTS:,} events written in "
            f"{time.perf_counter() - started:.1f} s ({load()})"
        )
        measure(client, customer_id, offerings, runs, "chdb")
    finally:
        settings.EVENT_STORE_URL = ""
        shutil.rmtree(folder, ignore_errors=True)


def run(shapes: list[str], chdb: bool, runs: int = 15) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    # Queue tasks as production does (the test settings run them inline); no worker takes them.
    from django_q.conf import Conf

    Conf.SYNC = False
    PricingUnit.objects.get(pk=USD_CENTS_ID)
    log(
        f"== Draft reads: a SQL metric per draft over {EVENTS:,} events, {REGIONS} regions "
        f"({load()} on {os.cpu_count()} CPUs) =="
    )
    started = time.perf_counter()
    customer, offerings = setup(shapes)
    log(f"   setup: {EVENTS:,} events + hourly counts in {time.perf_counter() - started:.1f} s")
    _, token = ApiToken.generate(name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    for _, url in offerings.values():
        client.get(url)  # each view's imports and the first connection's functions
    log(f"== {connection.vendor} store")
    measure(client, str(customer.pk), offerings, runs, connection.vendor)
    if chdb:
        chdb_pass(str(customer.pk), offerings, client, runs)
    log(f"   {load()} after")


def main() -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _support import rerun_on_fresh_database

    return rerun_on_fresh_database(__file__, CHILD, sqlite="--sqlite" in sys.argv)


if __name__ == "__main__":
    if os.environ.get(CHILD):
        parser = argparse.ArgumentParser()
        parser.add_argument("--shapes", default=",".join(SHAPES))
        parser.add_argument("--no-chdb", action="store_true")
        parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
        arguments = parser.parse_args()
        run(arguments.shapes.split(","), chdb=not arguments.no_chdb)
    else:
        sys.exit(main())
