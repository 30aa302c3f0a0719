"""The two event stores side by side, in one run (`make bench`, or `python benchmarks/event_store.py
[--ingest-events N] [--read-events N] [--skip-ingest] [--skip-reads]`).

Both on one throw-away PostgreSQL database (contracts and invoices always live there):
1. HTTP ingest, same client processes and the same 100-event batches (`benchmarks/ingest.py`'s
   generator): into the PostgreSQL store (gunicorn as the README recommends: one gthread worker
   per core, 4 threads each), then into the ClickHouse store in-process
   (`EVENT_STORE_URL=chdb://...`: one gunicorn process with threads, as chdb requires).
   Events/s, request p50/p99, CPU ms per 100-event batch in gunicorn and PostgreSQL, and a check
   that every event was stored once.
2. Ceilings, without HTTP: PostgreSQL's ingest statement through psycopg (as `ingest.py`), and the
   ClickHouse store's `append` (dedup lookup + one INSERT per flush) from threads of this process
   with batches validated before the clock starts; the Python part of a batch apart from the
   engine's; then CPU per event in flushes of 100, 1,000 and 10,000 events (what a server's
   asynchronous inserts gather), and bytes per event on disk on both stores.
3. Draft reads through `GET /v1/customers/{id}/invoices/{invoice_id}`, each store in turn, 1,000,000
   events in the month per customer (written in SQL on both stores: events and their hourly,
   daily and monthly pre-aggregates): 50 pricing group values (no presentation key), then a presentation key
   (`user_id`, each user on one of 50 models) with 1,000 / 10,000 / 70,000 users = lines. p50,
   and the plan each store runs for the 10,000-line read.

Goals (issue #15): draft p50 <= 50 ms at 50 groups, <= 300 ms at 10,000 lines. Figures are
printed; nothing is asserted. The load average is printed at the start and the end: the machine
is shared.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ingest
from _support import api_token, database, django_setup, log, manage, migrate

PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
SECONDS = int((PERIOD_END - PERIOD_START).total_seconds())
MODELS = 50


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- 1 and 2: ingest --------------------------------------------------------------------------


def chdb_count(store, prefix: str) -> int:
    query = (
        f"SELECT count(), uniqExact(transaction_id) FROM {store.database}.usage "
        f"WHERE kind = 'event' AND startsWith(transaction_id, '{prefix}-')"
    )
    return store.client.rows(query)[0]


def chdb_ceiling(store, *, events: int, threads: int, now: datetime) -> float:
    from metering.validation import events_validate

    batches_per_thread = ingest._split(events // ingest.BATCH, threads)
    prepared = []
    for worker, count in enumerate(batches_per_thread):
        mine = []
        for batch in ingest._batches(worker, count, now, "ceiling"):
            mine.append(
                events_validate(
                    [
                        {
                            "transaction_id": tx,
                            "customer_id": customer,
                            "event_type": "api_call",
                            "timestamp": moment.isoformat(),
                            "properties": {
                                "tokens": str(tokens),
                                "model": model,
                                "region": region,
                                "user_id": user,
                                "cached": cached,
                            },
                        }
                        for tx, customer, moment, tokens, model, region, user, cached in batch
                    ],
                    now=now,
                )
            )
        prepared.append(mine)
    python_ms = row_building_ms(store, prepared[0][:200], now)
    latencies: list[float] = []
    barrier = threading.Barrier(threads + 1)

    def run(batches):
        barrier.wait()
        for batch in batches:
            sent = time.perf_counter()
            store.append(batch, now=now)
            latencies.append(time.perf_counter() - sent)

    workers = [threading.Thread(target=run, args=(mine,)) for mine in prepared]
    for worker in workers:
        worker.start()
    cpu = time.process_time()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    sent = sum(batches_per_thread) * ingest.BATCH
    rate = ingest._report("chdb  ceiling    ", sent, elapsed, latencies)
    per_batch = cpu / sum(batches_per_thread) * 1000
    log(
        f"chdb  ceiling CPU per 100-event batch: {per_batch:.2f} ms (validation excluded; "
        f"store append = dedup lookup + one INSERT per flush): Python building the rows "
        f"{python_ms:.2f} ms, the ClickHouse engine and the client {per_batch - python_ms:.2f} ms"
    )
    stored, unique = chdb_count(store, "ceiling")
    log(f"chdb  ceiling check: {stored:,} event rows, {unique:,} transaction ids of {sent:,} sent")
    flush_sizes(store, [batch for mine in prepared for batch in mine], now)
    return rate


def flush_sizes(store, batches, now) -> None:
    """CPU per event of one thread appending flushes of 100, 1,000 and 10,000 events (what a
    ClickHouse server's asynchronous inserts gather from many web nodes): the engine's cost per
    INSERT and per lookup is paid once per flush. The events are duplicates of the ceiling's (all
    looked up and dropped) then fresh ids (written): both halves of the cost."""
    import dataclasses

    events = [event for batch in batches for event in batch][:20_000]
    for size in (100, 1_000, 10_000):
        for label, prefix in (("written", f"flush{size}-"), ("duplicates", "")):
            chunk = [
                dataclasses.replace(e, transaction_id=prefix + e.transaction_id)
                for e in events[: max(size, 2_000 if size < 10_000 else 10_000)]
            ]
            began = time.process_time()
            for start in range(0, len(chunk), size):
                store.append(chunk[start : start + size], now=now)
            cpu = time.process_time() - began
            log(
                f"chdb  flushes of {size:>6,} events ({label:>10}): "
                f"{cpu / len(chunk) * 1e6:,.0f} µs CPU per event"
            )


def row_building_ms(store, batches, now) -> float:
    """CPU ms per batch the store's Python spends turning a batch into JSONEachRow rows (the part
    a web node pays with `clickhouse://`; the rest of `append` is the engine's)."""
    from metering.definitions import definitions_load
    from metering.stores.clickhouse import _Pending

    definitions = definitions_load()
    began = time.process_time()
    for batch in batches:
        kept = [True] * len(batch)
        pending = _Pending(batch, now, [False] * len(batch))
        store._event_lines(pending, kept)
        store._measure_lines(batch, kept, definitions)
    return (time.process_time() - began) / len(batches) * 1000


def postgres_bytes_per_event(events: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['metering_usageevent', "
            "'metering_ingestedtransaction', 'metering_metricaggregate']::regclass[]) AS c"
        )
        (size,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM metering_usageevent")
        (stored,) = cursor.fetchone()
    connection.close()
    log(
        f"PostgreSQL bytes: {int(size):,} in events, dedup ledger and aggregates (with indexes) "
        f"for {stored:,} events = {int(size) / stored:.0f} bytes per event"
    )


# --- 3: draft reads ---------------------------------------------------------------------------


def offering(tag: str, *, presentation: bool):
    from catalog.models import BillableMetric, Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID

    keys = [["model_name"], ["model_name", "user_id"]] if presentation else [["model_name"]]
    metric = BillableMetric.objects.create(
        name=f"Tokens {tag}",
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=keys,
    )
    product = Product.objects.create(
        name=f"Input tokens {tag}",
        type="USAGE",
        billable_metric=metric,
        pricing_group_key=["model_name"],
        presentation_group_key=["user_id"] if presentation else [],
        quantity_conversion_factor=Decimal(1000000),
        quantity_conversion_operation="DIVIDE",
    )
    card = RateCard.objects.create(name=f"Card {tag}", fiat_credit_type_id=USD_CENTS_ID)
    Rate.objects.bulk_create(
        Rate(
            rate_card=card,
            product=product,
            rate_type="FLAT",
            price=Decimal(100 + index),
            starting_at=datetime(2026, 1, 1, tzinfo=UTC),
            pricing_group_values={"model_name": f"model-{index:02d}"},
            pricing_group_values_key=f'{{"model_name":"model-{index:02d}"}}',
        )
        for index in range(MODELS)
    )
    return metric, card


def contract_for(card, tag: str):
    from customers.models import Contract, Customer
    from invoicing.models import Invoice
    from invoicing.services import contracts_drafts_ensure

    customer = Customer.objects.create(name=f"bench-{tag}")
    contract = Contract.objects.create(customer=customer, rate_card=card, starting_at=PERIOD_START)
    contracts_drafts_ensure(contracts=[contract], now=PERIOD_START + timedelta(days=1))
    invoice = Invoice.objects.get(contract=contract, start_timestamp=PERIOD_START)
    return customer, invoice


def postgres_events(metric, customer_id: str, *, events: int, users: int, by_user: bool) -> None:
    """`events` events in March (user g % users on model user % 50) and the relational store's
    pre-aggregates of them (hourly, daily and monthly)."""
    from django.db import connection

    from metering.stores.relational.rollups import rollups_rebuild

    group = "'{\"model_name\":\"' || (properties ->> 'model_name')"
    group += (
        " || '\",\"user_id\":\"' || (properties ->> 'user_id') || '\"}'" if by_user else " || '\"}'"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_usageevent
                (id, transaction_id, customer_id, event_type, "timestamp", properties,
                 received_at, is_late)
            SELECT gen_random_uuid(), %(customer)s || '-' || g, %(customer)s, 'tokens_usage',
                   %(start)s + ((g::bigint * 7919) %% %(seconds)s) * interval '1 second',
                   jsonb_build_object('num_tokens', ((g %% 1000) + 1)::text,
                                      'model_name', 'model-' || lpad((u %% 50)::text, 2, '0'),
                                      'user_id', 'user-' || u),
                   %(start)s, false
            FROM (SELECT g, g %% %(users)s AS u FROM generate_series(1, %(n)s) AS g) AS s
            """,
            {
                "customer": customer_id,
                "start": PERIOD_START,
                "seconds": SECONDS,
                "users": users,
                "n": events,
            },
        )
        cursor.execute(
            f"""
            INSERT INTO metering_metricaggregate
                (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
                 latest_value, latest_timestamp, latest_transaction_id)
            SELECT %(metric)s, customer_id, date_trunc('hour', "timestamp"), {group},
                   count(*), sum((properties ->> 'num_tokens')::numeric),
                   max((properties ->> 'num_tokens')::numeric), NULL, max("timestamp"), ''
            FROM metering_usageevent WHERE customer_id = %(customer)s
            GROUP BY 1, 2, 3, 4
            """,
            {"metric": metric.id, "customer": customer_id},
        )
    # The day and month rows beside the hourly ones, as the fold schedule leaves them (March is
    # before the watermark: the read takes its month rows whole).
    rollups_rebuild(metric_id=metric.id, customer_ids=[customer_id])
    connection.close()


def chdb_events(store, metric, customer_id: str, *, events: int, users: int, by_user: bool):
    """The same events and pre-aggregates (hourly, daily, monthly) in the ClickHouse store's
    `usage` table."""
    from metering.stores.clickhouse import sql

    database = store.database
    start = int(PERIOD_START.timestamp())
    customer = sql.text(customer_id)
    store.client.command(
        f"""
        INSERT INTO {database}.usage (kind, customer_id, metric_id, hour, group_values,
            transaction_id, received_at, timestamp, event_type, properties, is_late, id)
        SELECT 'event', {customer}, '{sql.NO_METRIC}', toStartOfHour(ts), '',
               concat({customer}, '-', toString(g)), toDateTime64({start}, 6, 'UTC'), ts,
               'tokens_usage',
               concat('{{"num_tokens":"', toString(g % 1000 + 1), '","model_name":"model-',
                      leftPad(toString(u % 50), 2, '0'), '","user_id":"user-', toString(u),
                      '"}}'),
               false, generateUUIDv4()
        FROM (SELECT number + 1 AS g, (number + 1) % {users} AS u,
                     toDateTime64({start} + ((g * 7919) % {SECONDS}), 6, 'UTC') AS ts
              FROM numbers({events}))
        """
    )
    model = "JSONExtractString(properties, 'model_name')"
    user = "JSONExtractString(properties, 'user_id')"
    if by_user:
        group = f'concat(\'{{"model_name":"\', {model}, \'","user_id":"\', {user}, \'"}}\')'
    else:
        group = f"concat('{{\"model_name\":\"', {model}, '\"}}')"
    store.client.command(
        f"""
        INSERT INTO {database}.usage (kind, customer_id, metric_id, hour, group_values,
            transaction_id, received_at, event_count, sum_int, sum_frac1, sum_frac2, sum_scale,
            max_value, latest)
        SELECT 'aggregate', customer_id, '{metric.id}', hour, grp, '',
               toDateTime64(0, 6, 'UTC'), count(), sum(v), 0, 0, 0,
               tuple(toInt128(max(v)), toUInt256(0), toUInt256(0), toString(max(v))),
               tuple(max(timestamp), '', '')
        FROM (SELECT customer_id, hour, {group} AS grp, timestamp,
                     toInt256(JSONExtractString(properties, 'num_tokens')) AS v
              FROM {database}.usage WHERE customer_id = {customer} AND kind = 'event')
        GROUP BY customer_id, hour, grp
        """
    )
    # The day and month rows beside the hourly ones, as the store's INSERT writes them.
    store.client.command(
        sql.rollups_insert(database, f"customer_id = {customer} AND metric_id = '{metric.id}'")
    )


def timed_get(client, url: str, runs: int) -> tuple[float, dict]:
    first = client.get(url, secure=True)
    assert first.status_code == 200, first.content[:500]
    data = first.json()["data"]
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url, secure=True)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    return statistics.median(timings), data


def timed_usage(metric, customer, keys, runs: int) -> float:
    """p50 of the store's part of a draft read: the metric's usage of the month by group."""
    from metering.selectors import metric_usage_by_group

    timings = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        metric_usage_by_group(
            metric=metric,
            customer=customer,
            starting_at=PERIOD_START,
            ending_before=PERIOD_END,
            group_keys=keys,
        )
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings[1:])


def reads(chdb_url: str, *, events: int, cases: list[int], fresh_hours: float = 0) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from core.models import ApiToken
    from metering.models import MetricRollup, RollupWatermark
    from metering.stores import event_store

    if fresh_hours:
        # A month still open: the relational tier's watermark `fresh_hours` before its end (the
        # fold keeps it an hour or two behind now), so the read adds those hours' hourly rows to
        # the month rows. Moved back with the tier emptied, so every number stays exact.
        MetricRollup.objects.all().delete()
        RollupWatermark.objects.update_or_create(
            pk=1, defaults={"folded_before": PERIOD_END - timedelta(hours=fresh_hours)}
        )
        log(f"draft reads: the tier's watermark {fresh_hours:g} h before the end of the month")

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    settings.EVENT_STORE_URL = chdb_url
    chdb = event_store()
    settings.EVENT_STORE_URL = ""
    _, token = ApiToken.generate(name="bench-reads")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    cases = [
        ("50 pricing groups", 50, False) if users == 0 else (f"{users:,} users", users, True)
        for users in cases
    ]
    results = {}
    for label, users, by_user in cases:
        tag = label.split()[0].replace(",", "")
        metric, card = offering(tag, presentation=by_user)
        customer, invoice = contract_for(card, tag)
        began = time.perf_counter()
        postgres_events(metric, str(customer.id), events=events, users=users, by_user=by_user)
        pg_setup = time.perf_counter() - began
        began = time.perf_counter()
        chdb_events(chdb, metric, str(customer.id), events=events, users=users, by_user=by_user)
        ch_setup = time.perf_counter() - began
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE metering_metricaggregate")
            cursor.execute("ANALYZE metering_metricrollup")
        log(
            f"draft {label}: {events:,} events written in SQL "
            f"(PostgreSQL {pg_setup:.1f} s, chdb {ch_setup:.1f} s)"
        )
        url = f"/v1/customers/{customer.id}/invoices/{invoice.id}"
        runs = 30 if users <= 10_000 else 5
        row = {}
        keys = ["model_name", "user_id"] if by_user else ["model_name"]
        for store_label, url_value in (("PostgreSQL", ""), ("chdb", chdb_url)):
            settings.EVENT_STORE_URL = url_value
            p50, data = timed_get(client, url, runs)
            usage_p50 = timed_usage(metric, customer, keys, runs)
            row[store_label] = (p50, len(data["line_items"]), data["total"], usage_p50)
        settings.EVENT_STORE_URL = ""
        same = row["PostgreSQL"][1:3] == row["chdb"][1:3]
        log(
            f"draft {label}: {row['PostgreSQL'][1]:,} lines, total {row['PostgreSQL'][2]} cents; "
            f"GET p50 PostgreSQL {row['PostgreSQL'][0]:.1f} ms, chdb {row['chdb'][0]:.1f} ms "
            f"over {runs} runs (of which the store's usage read: PostgreSQL "
            f"{row['PostgreSQL'][3]:.1f} ms, chdb {row['chdb'][3]:.1f} ms); "
            f"stores agree: {'yes' if same else 'NO'}"
        )
        results[label] = row
        if users == 10_000:
            plans(chdb, metric, str(customer.id))
    log(
        "curve, p50 ms:                 lines | GET draft: PostgreSQL   chdb | usage read: PostgreSQL   chdb"
    )
    for label, row in results.items():
        pg, ch = row["PostgreSQL"], row["chdb"]
        log(
            f"  {label:>20} {pg[1]:>9,} |            {pg[0]:>8.1f} {ch[0]:>6.1f} |"
            f"             {pg[3]:>8.1f} {ch[3]:>6.1f}"
        )


def plans(chdb, metric, customer_id: str) -> None:
    from metering.stores.clickhouse import sql
    from metering.stores.relational.rows import fetch_range_rows, usage_rows_sql

    # The read the store runs for the month (its month rows; hourly rows only at edges).
    query, params = usage_rows_sql(metric, [customer_id], [PERIOD_START, PERIOD_END])
    found = fetch_range_rows(f"EXPLAIN (ANALYZE, BUFFERS) {query}", params)
    log(
        "plan PostgreSQL (10,000 lines): "
        + " | ".join(
            row[0].strip()
            for row in found
            if "Scan" in row[0] or "Time" in row[0] or "Aggregate" in row[0]
        )
    )
    query = sql.rolled_up(
        chdb.database, "SUM", str(metric.id), [customer_id], [PERIOD_START, PERIOD_END]
    )
    explained = chdb.client.rows(f"EXPLAIN indexes = 1 {query}")
    lines = [row[0].strip() for row in explained]
    keep = [line for line in lines if line.startswith(("Parts", "Granules"))]
    log("plan chdb (10,000 lines): " + " | ".join(keep or lines))


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-events", type=int, default=200_000)
    parser.add_argument("--read-events", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads for chdb")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument(
        "--cases",
        default="0,1000,10000,70000",
        help="draft reads: users per customer, 0 for 50 pricing groups without presentation key",
    )
    parser.add_argument(
        "--fresh-hours",
        type=float,
        default=0,
        help="draft reads: hours of the month after the relational tier's watermark (an open "
        "month; 0: the month folded whole)",
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    clients = 2 * cores + 2
    now = datetime.now(UTC)
    log(f"event store benchmark, {cores} cores, {load()}")
    folder = tempfile.mkdtemp(prefix="billing-bench-chdb-")
    chdb_url = f"chdb://{folder}"
    try:
        with database() as env:
            migrate(env)
            chdb_env = {**env, "EVENT_STORE_URL": chdb_url}
            log(manage(chdb_env, "migrate_event_store").strip().replace("\n", "; "))
            token = api_token(env)
            django_setup(env)
            from django.conf import settings
            from django.db import connection

            from metering.stores import event_store

            if not args.skip_ingest:
                metric = ingest._metric()
                connection.close()
                events = args.ingest_events // ingest.BATCH * ingest.BATCH
                log(f"== 1. HTTP ingest, {events:,} events, {clients} client processes ==")
                log(
                    f"-- PostgreSQL store ({cores} gunicorn workers, "
                    f"{shlex.join(ingest.RECOMMENDED_GUNICORN)})"
                )
                pg_rate, tokens = ingest.http_phase(
                    env,
                    token,
                    events=events,
                    clients=clients,
                    workers=cores,
                    now=now,
                    prefix="pg",
                    extra=ingest.RECOMMENDED_GUNICORN,
                )
                ingest.check_http("pg", events, tokens)
                postgres_bytes_per_event(events)
                log(f"-- chdb store (1 gunicorn process, {args.threads} threads)")
                ch_rate, _ = ingest.http_phase(
                    chdb_env,
                    token,
                    events=events,
                    clients=clients,
                    workers=1,
                    now=now,
                    prefix="ch",
                    extra=("--worker-class", "gthread", "--threads", str(args.threads)),
                )
                settings.EVENT_STORE_URL = chdb_url
                store = event_store()
                stored, unique = chdb_count(store, "ch")
                log(f"check chdb: {stored:,} event rows, {unique:,} transaction ids of {events:,}")
                settings.EVENT_STORE_URL = ""
                log("== 2. Ceilings without HTTP ==")
                pg_ceiling = ingest.sql_phase(
                    env, token, events=events, clients=clients, now=now, metric=metric
                )
                ch_ceiling = chdb_ceiling(store, events=events, threads=4, now=now)
                log(
                    f"HTTP / ceiling: PostgreSQL {pg_rate:,.0f} / {pg_ceiling:,.0f} = "
                    f"{pg_rate / pg_ceiling:.0%}; chdb {ch_rate:,.0f} / {ch_ceiling:,.0f} = "
                    f"{ch_rate / ch_ceiling:.0%}"
                )
                disk = store.client.rows(
                    f"SELECT sum(bytes_on_disk), sum(rows) FROM system.parts "
                    f"WHERE database = '{store.database}' AND table = 'usage' AND active"
                )[0]
                log(
                    f"chdb bytes on disk: {int(disk[0]):,} for {int(disk[1]):,} rows "
                    f"(events + aggregates of {2 * events:,} events) = "
                    f"{int(disk[0]) / (2 * events):.0f} bytes per event"
                )
            if not args.skip_reads:
                log(f"== 3. Draft reads, {args.read_events:,} events per customer ==")
                reads(
                    chdb_url,
                    events=args.read_events,
                    cases=[int(c) for c in args.cases.split(",")],
                    fresh_hours=args.fresh_hours,
                )
            connection.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    log(f"done, {load()}")


if __name__ == "__main__":
    main()
