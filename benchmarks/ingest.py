"""Ingestion benchmark (run by `make bench`, or `python benchmarks/ingest.py [--events N] [--sqlite]`).

PostgreSQL (default):
1. HTTP: the product behind gunicorn on 127.0.0.1 (as the README recommends: one gthread worker
   per core, 4 threads; `--gunicorn ''` for sync workers), driven with 100-event `POST /v1/ingest` batches
   from separate client processes (one `http.client` connection each; requests built before the
   clock starts, as a load generator sends prepared requests): fresh transaction ids, 1,000
   customers, 5 properties, 50 distinct group values, one SUM metric grouped by them. Prints
   events/s sustained and p50/p99 request latency, the CPU milliseconds each request cost in
   gunicorn, PostgreSQL and the clients (from /proc, so that other load on the machine shows
   less in them than in the rate) with the rate those allow on idle cores, then checks that every
   event was stored once and the pre-aggregates add up.
2. SQL ceiling: the same events (same generator, same client processes) written with the very
   same statement the product runs (`metering/stores/relational/sql.py`: the late-event check, the
   check that the API token is still valid, dedup, insert, pre-aggregation) straight through
   psycopg, no Django, no HTTP, no validation.
   Prints events/s, CPU per batch (PostgreSQL's measured as in step 1: the whole server), and the
   HTTP/SQL ratio.
3. Selector: one customer with 1,000,000 events in a month over 50 group values (raw events and
   their hourly aggregates written in SQL), then `metric_usage_by_group` (and by day) timed: p50
   over 30 runs.

SQLite (`--sqlite`): step 1 only, against the embedded default (a fresh database file).
`--durable`: the private PostgreSQL waits for the disk at each commit (fsync, synchronous_commit
and full_page_writes on; the default server, as the tests', has them off); the mode is printed.

Targets on a 2-core machine: >= 15,000 events/s through HTTP, >= 60% of the same run's SQL ceiling
(issue #15), the selector <= 50 ms; >= 5,000 events/s on SQLite. The script stops by itself and
removes its server and database. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shlex
import statistics
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import (
    CpuSample,
    api_token,
    cpu_seconds,
    database,
    django_setup,
    durability,
    gunicorn,
    log,
    migrate,
    percentile,
    session_of,
)

# The gunicorn setup the README recommends for PostgreSQL, with one worker process per core:
# threads (one runs Python while the others wait on PostgreSQL) and kept-alive connections. On
# this 2-core machine it costs about 0.4 ms less CPU per batch than 4 sync workers, which open
# and close a TCP connection per request (docs/scale.md).
RECOMMENDED_GUNICORN = ("--worker-class", "gthread", "--threads", "4")

BATCH = 100
CUSTOMERS = 1000
GROUPS = 50
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"]
# How far back the events' timestamps reach (`--spread-hours`). The default, 20 days, puts
# nearly every event before the day and month tier's watermark (the start of the hour before
# this one, where the fold schedule keeps it): each batch then also marks the days it touched
# unfolded, as a batch of late events does. `--spread-hours 1` is the live case: events of the
# last hour, hourly rows only. (The spawned client processes read it from the environment.)
SPREAD = timedelta(hours=float(os.environ.get("INGEST_BENCH_SPREAD_HOURS", 20 * 24)))


# --- Event generation (the same for HTTP and SQL) ----------------------------------------------------


def _batches(worker: int, count: int, now: datetime, prefix: str):
    """`count` batches for one client: (list of event tuples); deterministic per worker."""
    rng = random.Random(worker * 7919 + 17)
    spread = int(SPREAD.total_seconds())
    for b in range(count):
        events = []
        for i in range(BATCH):
            moment = now - timedelta(seconds=rng.randrange(spread))
            events.append(
                (
                    f"{prefix}-{worker}-{b}-{i}",
                    f"customer-{rng.randrange(CUSTOMERS):04d}",
                    moment,
                    rng.randrange(1, 1001),
                    f"model-{rng.randrange(GROUPS):02d}",
                    REGIONS[rng.randrange(len(REGIONS))],
                    f"user-{rng.randrange(100_000)}",
                    rng.random() < 0.3,
                )
            )
        yield events


def _body(events) -> bytes:
    return (
        "["
        + ",".join(
            f'{{"transaction_id":"{tx}","customer_id":"{customer}","event_type":"api_call",'
            f'"timestamp":"{moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z",'
            f'"properties":{{"tokens":"{tokens}","model":"{model}","region":"{region}",'
            f'"user_id":"{user}","cached":{"true" if cached else "false"}}}}}'
            for tx, customer, moment, tokens, model, region, user, cached in events
        )
        + "]"
    ).encode()


# --- Client processes --------------------------------------------------------------------------------


def http_client(args) -> dict:
    url, token, worker, count, now, prefix = args
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # Bodies are built before the clock starts, as a load generator such as wrk sends prepared
    # requests: on a 2-core machine, building them would take CPU from the server measured.
    batches = [
        (_body(events), sum(e[3] for e in events))
        for events in _batches(worker, count, now, prefix)
    ]
    latencies = []
    tokens = 0
    errors = 0
    _ready()
    started = time.perf_counter()
    cpu = time.process_time()
    for body, batch_tokens in batches:
        sent = time.perf_counter()
        connection.request("POST", "/v1/ingest", body, headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - sent)
        if response.status != 200:
            errors += 1
        else:
            tokens += batch_tokens
    finished = time.perf_counter()
    cpu = time.process_time() - cpu
    connection.close()
    return {
        "latencies": latencies,
        "tokens": tokens,
        "errors": errors,
        "started": started,
        "finished": finished,
        "cpu": cpu,
    }


def sql_client(args) -> dict:
    import psycopg

    dsn, worker, count, now, prefix, signature, metric_id, (sql, names), token_hash = args
    connection = psycopg.connect(dsn, autocommit=True)
    connection.execute("SET TIME ZONE 'UTC'")
    cursor = psycopg.RawCursor(connection)
    # Parameters are built before the clock starts (as the HTTP clients build their bodies).
    batches = []
    for events in _batches(worker, count, now, prefix):
        events_json = json.dumps(
            [
                {
                    "i": index,
                    "t": tx,
                    "c": customer,
                    "y": "api_call",
                    "s": moment.isoformat(),
                    "p": {
                        "tokens": str(tokens),
                        "model": model,
                        "region": region,
                        "user_id": user,
                        "cached": cached,
                    },
                    "l": False,
                    "f": True,
                }
                for index, (tx, customer, moment, tokens, model, region, user, cached) in enumerate(
                    events
                )
            ]
        )
        contributions = json.dumps(
            [
                {
                    "t": tx,
                    "m": metric_id,
                    "h": moment.replace(minute=0, second=0, microsecond=0).isoformat(),
                    "g": json.dumps({"model": model}, separators=(",", ":")),
                    "v": str(tokens),
                    "d": None,
                }
                for tx, customer, moment, tokens, model, region, user, cached in events
            ]
        )
        batches.append((events_json, contributions))
    latencies = []
    _ready()
    started = time.perf_counter()
    cpu = time.process_time()
    for events_json, contributions in batches:
        sent = time.perf_counter()
        received = datetime.now(UTC)
        params = {
            "events": events_json,
            "contributions": contributions,
            "now": received,
            "expired_before": received - timedelta(days=34),
            "metric_count": signature[0],
            "metric_newest": signature[1],
            "admit_token": token_hash,
            "admit_now": received,
        }
        cursor.execute(sql, [params[name] for name in names], prepare=True)
        latencies.append(time.perf_counter() - sent)
    finished = time.perf_counter()
    cpu = time.process_time() - cpu
    connection.close()
    return {
        "latencies": latencies,
        "started": started,
        "finished": finished,
        "cpu": cpu,
    }


_start_line = None


def _client_init(barrier) -> None:
    global _start_line
    _start_line = barrier


def _ready() -> None:
    """Wait until every client has built its requests, so that none is measured while another
    is still building."""
    if _start_line is not None:
        _start_line.wait()


def _drive(function, jobs: list) -> tuple[float, list[float], list[dict]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    with context.Pool(len(jobs), initializer=_client_init, initargs=(barrier,)) as pool:
        results = pool.map(function, jobs, chunksize=1)
    started = min(r["started"] for r in results)
    finished = max(r["finished"] for r in results)
    latencies = [latency for r in results for latency in r["latencies"]]
    return finished - started, latencies, results


def _split(total_batches: int, clients: int) -> list[int]:
    return [
        total_batches // clients + (1 if i < total_batches % clients else 0) for i in range(clients)
    ]


def _report(label: str, events: int, elapsed: float, latencies: list[float]) -> float:
    rate = events / elapsed
    log(
        f"{label}: {events:,} events in {elapsed:.1f} s = {rate:,.0f} events/s; "
        f"request p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    return rate


# --- Phases ------------------------------------------------------------------------------------------


def _metric():
    from catalog.models import BillableMetric

    return BillableMetric.objects.create(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["api_call"]},
        property_filters=[{"name": "tokens", "exists": True}],
        group_keys=[["model"]],
    )


def _cpu_report(label: str, requests: int, **seconds: float) -> None:
    """CPU milliseconds per 100-event request by part, and the rate they would allow with every
    core of this machine busy with nothing else: a figure that other load on the machine does not
    move as much as the measured rate."""
    total = sum(seconds.values())
    cores = os.cpu_count() or 2
    parts = ", ".join(f"{name} {value / requests * 1000:.2f}" for name, value in seconds.items())
    log(
        f"{label} CPU per request (ms): {parts}; total {total / requests * 1000:.2f} "
        f"=> at most {cores * requests * BATCH / total:,.0f} events/s on {cores} idle cores"
    )


def postgres_cpu(env) -> CpuSample:
    """The CPU of the PostgreSQL server at DATABASE_URL's port on this machine: its postmaster,
    every backend and helper process (autovacuum workers and the WAL writer work for ingestion
    too), and those that exited meanwhile; measured the same way for HTTP and for the SQL
    ceiling. (Other servers on the machine, other engineers' included, are left out; a shared
    server given by DATABASE_URL counts whatever else it serves.)"""
    port = urllib.parse.urlsplit(env["DATABASE_URL"]).port

    def postmaster(_: int, command: str) -> bool:
        words = command.split()
        return bool(words) and words[0].endswith("/postgres") and f"-p {port} " in command + " "

    return cpu_seconds(lambda pid, command: False, postmaster)


def http_phase(
    env, token, *, events: int, clients: int, workers: int, now, prefix: str, extra=(), cpu=None
):
    """The HTTP load; returns (rate, tokens sent). `cpu`, a dict, receives the CPU seconds of
    each part (gunicorn, postgres, clients) and the requests measured."""
    batches = _split(events // BATCH, clients)
    with gunicorn(env, workers=workers, extra=extra) as server:
        warm = [(server.url, token, 1000 + i, 3, now, f"warm-{prefix}") for i in range(clients)]
        _drive(http_client, warm)

        def in_server(pid: int, _: str) -> bool:
            return session_of(pid) == server.pid

        log(f"HTTP: {events:,} events from {clients} client processes to {workers} workers")
        cpu_before = cpu_seconds(in_server), postgres_cpu(env)
        jobs = [(server.url, token, i, n, now, prefix) for i, n in enumerate(batches)]
        elapsed, latencies, results = _drive(http_client, jobs)
        cpu_after = cpu_seconds(in_server), postgres_cpu(env)
    errors = sum(r["errors"] for r in results)
    if errors:
        log(f"HTTP: {errors} requests did not answer 200")
    rate = _report("HTTP  /v1/ingest", sum(batches) * BATCH, elapsed, latencies)
    parts = {"gunicorn": cpu_after[0] - cpu_before[0]}
    if env["DATABASE_URL"].startswith("postgres"):
        parts["postgres"] = cpu_after[1] - cpu_before[1]
    parts["clients"] = sum(r["cpu"] for r in results)
    _cpu_report("HTTP ", sum(batches), **parts)
    if cpu is not None:
        cpu.update(parts, requests=sum(batches))
    return rate, sum(r["tokens"] for r in results) + 0


def check_http(prefix: str, events: int, tokens: int) -> None:
    """Every measured event stored once, and the pre-aggregates equal to the raw events."""
    from django.db import connection
    from django.db.models import Sum

    from metering.models import MetricAggregate, UsageEvent

    stored = UsageEvent.objects.filter(transaction_id__startswith=f"{prefix}-").count()
    counted = MetricAggregate.objects.aggregate(n=Sum("event_count"))["n"] or 0
    total = sum(MetricAggregate.objects.values_list("value_sum", flat=True).iterator(10_000))
    raw_total = sum(
        int(p["tokens"]) for p in UsageEvent.objects.values_list("properties", flat=True)
    )
    ok = stored == events and counted == UsageEvent.objects.count() and total == raw_total
    log(
        f"check: {stored:,} of {events:,} measured events stored once; aggregates count "
        f"{counted:,} events summing {total:,} tokens = raw events {raw_total:,}: "
        f"{'OK' if ok else 'MISMATCH'} (clients sent {tokens:,} tokens in the measured phase)"
    )
    connection.close()


def fold_phase(now) -> None:
    """What the ingested events left for the tier's fold schedule: the days old events marked
    unfolded, and how long the fold that takes them up (and the closed hours) runs."""
    from django.db import connection

    from metering.models import UnfoldedDay
    from metering.services import usage_rollups_fold

    marks = UnfoldedDay.objects.count()
    started = time.perf_counter()
    usage_rollups_fold(now=now)
    log(
        f"fold: {marks:,} (metric, customer, day) marks taken up in "
        f"{(time.perf_counter() - started) * 1000:,.0f} ms"
    )
    connection.close()


def sql_phase(env, token, *, events: int, clients: int, now, metric) -> float:
    from django.db import connection

    from core.authentication import TokenStillValid
    from core.models import ApiToken
    from metering.definitions import definitions_signature
    from metering.services import late_event_check
    from metering.stores.base import late_sql_of
    from metering.stores.relational.ingest import postgresql_native_statement

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE metering_usageevent, metering_ingestedtransaction, "
            "metering_metricaggregate, metering_metricrollup, metering_metricdistinctvalue, "
            "metering_duplicateevent, metering_usagemark, metering_unfoldedday"
        )
    signature = definitions_signature()
    # The statement the product runs, the late-event rule and the check that the API token is
    # still valid included (both run inside it), with this database's table names.
    check = TokenStillValid(ApiToken.objects.get(token_hash=ApiToken.hash(token)), now=now)
    connection.close()
    sql = postgresql_native_statement(late_sql_of(late_event_check()), admit_sql=check.sql)
    dsn = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    batches = _split(events // BATCH, clients)
    log(f"SQL ceiling: the same {events:,} events, same statement, psycopg, {clients} processes")
    jobs = [
        (dsn, i, n, now, "sql", signature, str(metric.id), sql, check.token_hash)
        for i, n in enumerate(batches)
    ]
    postgres_before = postgres_cpu(env)
    elapsed, latencies, results = _drive(sql_client, jobs)
    postgres_used = postgres_cpu(env) - postgres_before
    rate = _report("SQL   ceiling    ", sum(batches) * BATCH, elapsed, latencies)
    _cpu_report(
        "SQL  ",
        sum(batches),
        postgres=postgres_used,
        clients=sum(r["cpu"] for r in results),
    )
    return rate


def selector_phase(metric, *, events: int, runs: int = 30) -> None:
    from django.db import connection

    from customers.models import Customer
    from metering.selectors import metric_usage_by_group, metric_usage_by_segment
    from metering.stores.relational.rollups import rollups_rebuild
    from metering.stores.relational.rows import fetch_range_rows

    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 2, 1, tzinfo=UTC)
    seconds = int((end - start).total_seconds())
    customer = Customer.objects.create(name="Selector benchmark")
    log(f"selector: writing {events:,} events of one customer in January 2026 (SQL)")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_usageevent
                (id, transaction_id, customer_id, event_type, "timestamp", properties,
                 received_at, is_late)
            SELECT gen_random_uuid(), 'sel-' || g, %(customer)s, 'api_call',
                   %(start)s + ((g::bigint * 7919) %% %(seconds)s) * interval '1 second',
                   jsonb_build_object('tokens', ((g %% 1000) + 1)::text,
                                      'model', 'model-' || lpad((g %% %(groups)s)::text, 2, '0')),
                   %(start)s, false
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "customer": str(customer.id),
                "start": start,
                "seconds": seconds,
                "groups": GROUPS,
                "n": events,
            },
        )
        cursor.execute(
            """
            INSERT INTO metering_metricaggregate
                (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
                 latest_value, latest_timestamp, latest_transaction_id)
            SELECT %(metric)s, customer_id, date_trunc('hour', "timestamp"),
                   json_build_object('model', properties ->> 'model')::text,
                   COUNT(*), SUM((properties ->> 'tokens')::numeric),
                   MAX((properties ->> 'tokens')::numeric), NULL, MAX("timestamp"), ''
            FROM metering_usageevent WHERE customer_id = %(customer)s
            GROUP BY customer_id, date_trunc('hour', "timestamp"), properties ->> 'model'
            """,
            {"metric": metric.id, "customer": str(customer.id)},
        )
        rows = cursor.rowcount
        rollups_rebuild(metric_id=metric.id, customer_ids=[str(customer.id)])
        cursor.execute(
            "SELECT SUM((properties ->> 'tokens')::numeric) FROM metering_usageevent "
            "WHERE customer_id = %s",
            [str(customer.id)],
        )
        raw_total = cursor.fetchone()[0]
    # Settle the tables (visibility map, statistics) so autovacuum does not run during the timing.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE metering_metricaggregate")
        cursor.execute("VACUUM ANALYZE metering_metricrollup")
        cursor.execute("VACUUM ANALYZE metering_usageevent")
    log(f"selector: {rows:,} hourly aggregate rows over {GROUPS} group values")

    def timed(function) -> tuple[float, object]:
        for _ in range(3):
            function()
        durations = []
        for _ in range(runs):
            began = time.perf_counter()
            answer = function()
            durations.append(time.perf_counter() - began)
        return statistics.median(durations), answer

    by_group, answer = timed(
        lambda: metric_usage_by_group(
            metric=metric,
            customer=customer,
            starting_at=start,
            ending_before=end,
            group_keys=["model"],
        )
    )
    total = sum(answer.values())
    log(
        f"selector metric_usage_by_group (1 customer, {events:,} events, {len(answer)} groups): "
        f"p50 {by_group * 1000:.1f} ms over {runs} runs; total {total:,} "
        f"{'=' if total == raw_total else '!='} raw {raw_total:,}"
    )
    days = [start + timedelta(days=d) for d in range(32)]
    by_day, _ = timed(
        lambda: metric_usage_by_segment(
            metric=metric, customer=customer, boundaries=days, group_keys=["model"]
        )
    )
    log(f"selector metric_usage_by_segment (31 daily segments): p50 {by_day * 1000:.1f} ms")
    # The plan as the selector runs it (`fetch_range_rows`: plain index scans off for the read).
    plan = [
        row[0]
        for row in fetch_range_rows(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT group_values, SUM(value_sum) "
            "FROM metering_metricaggregate WHERE metric_id = %(metric)s "
            "AND customer_id = ANY(%(ids)s) AND hour >= %(start)s AND hour < %(end)s GROUP BY 1",
            {"metric": metric.id, "ids": [str(customer.id)], "start": start, "end": end},
        )
    ]
    log(
        "selector plan: "
        + " | ".join(
            line.strip() for line in plan if "Scan" in line or "Time" in line or "Buffers" in line
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help="events to send (1,000,000)")
    parser.add_argument("--sqlite", action="store_true", help="measure the embedded SQLite default")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=None, help="client processes")
    parser.add_argument(
        "--gunicorn",
        default=None,
        help="gunicorn worker options, quoted (PostgreSQL: the recommended "
        f"'{shlex.join(RECOMMENDED_GUNICORN)}' with one worker per core; '' for sync workers)",
    )
    parser.add_argument(
        "--selector-events", type=int, default=1_000_000, help="events of the selector customer"
    )
    parser.add_argument(
        "--spread-hours",
        type=float,
        default=SPREAD.total_seconds() / 3600,
        help="how far back event timestamps reach (480 = 20 days; 1: the last hour)",
    )
    parser.add_argument(
        "--durable", action="store_true", help="the private PostgreSQL with fsync on (PG_DURABLE)"
    )
    args = parser.parse_args()
    if args.durable:
        os.environ["PG_DURABLE"] = "1"
    os.environ["INGEST_BENCH_SPREAD_HOURS"] = str(args.spread_hours)
    events = args.events or (100_000 if args.sqlite else 1_000_000)
    cores = os.cpu_count() or 2
    workers = args.workers or (2 if args.sqlite else cores)
    if args.gunicorn is None:
        options = () if args.sqlite else RECOMMENDED_GUNICORN
    else:
        options = tuple(shlex.split(args.gunicorn))
    clients = args.clients or (2 if args.sqlite else 2 * cores + 2)
    now = datetime.now(UTC)
    log(
        f"ingest benchmark on {'SQLite' if args.sqlite else 'PostgreSQL'}, {cores} cores, "
        f"{events:,} events over the last {args.spread_hours:g} h, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with database(sqlite=args.sqlite) as env:
        if not args.sqlite:
            log(f"PostgreSQL: {durability(env)}")
        migrate(env)
        token = api_token(env)
        django_setup(env)
        metric = _metric()
        from django.db import connection

        connection.close()
        rate, tokens = http_phase(
            env,
            token,
            events=events,
            clients=clients,
            workers=workers,
            now=now,
            prefix="http",
            extra=options,
        )
        check_http("http", events // BATCH * BATCH, tokens)
        fold_phase(now)
        if args.sqlite:
            log(f"SQLite: {rate:,.0f} events/s (target >= 5,000)")
            return
        ceiling = sql_phase(env, token, events=events, clients=clients, now=now, metric=metric)
        log(
            f"HTTP / SQL ceiling = {rate / ceiling:.0%} (target >= 60%); "
            f"HTTP {rate:,.0f} events/s (target >= 15,000)"
        )
        selector_phase(metric, events=args.selector_events)
        connection.close()


if __name__ == "__main__":
    main()
