"""Notifications benchmark (run by `make bench`, or `python benchmarks/notifications.py`).

On PostgreSQL (a private server unless DATABASE_URL is set), with the django-q2 worker running
with the default settings (`manage.py qcluster`: Q_WORKERS=1, the ORM broker) beside gunicorn:

1. Ingest cost of alerts: the ingest benchmark's HTTP load (100-event batches over 1,000
   customers, fresh transaction ids) against 1,000 customers with a monthly contract each, with
   no alert (A) and with 5 alerts per customer (B: spend, usage, invoice total, monthly invoice
   total, credit-and-commit balance: 5,000 alerts), each run in a fresh database, alternated
   A B, B A, A B ... `--rounds` times (neither always first; single runs on a shared machine
   vary by 2x). Prints each run (rate, load average before and after, CPU per request of
   gunicorn, i.e. the ingest path, and of the ingest's PostgreSQL backends; the task worker's
   CPU, its own PostgreSQL backends apart, and per evaluated customer; the CPU the machine's
   other processes used and the hypervisor stole meanwhile, which slows a run without showing
   in its own figures) and the median of each configuration and the loss between the medians
   (goal: at most 5%). The load starts 3 s after the task worker, so its first
   scheduler pass (about 30 s after it starts: every schedule due at once, in B the hourly sweep
   that evaluates every watched customer too) falls inside the run; `--settle` starts the load
   after that pass instead, as on a cluster that has been running a while (the steady state;
   for the latency probes of 2. too).
2. Alert latency while ingest runs (once, in a world with alerts): 40 probe customers each get one
   batch that crosses their spend alert while the same number of clients keeps posting batches
   as fast as they are answered (saturating); the load stops only after the last probe's
   webhook arrived or 120 s passed, so every figure is measured under load. A local receiver
   (threaded http.server, signatures checked with the standardwebhooks library) records when
   each `alerts.spend_threshold_reached` arrives. Prints p50/p99 from the accepted batch to the
   webhook, how many of the 40 arrived, the load's rate and the load average (goal: p99 <=
   30 s); then the same with 40 other probes under a steady 2,000 events/s. Every customer is
   dirty all the time: the worker takes the marks once per ALERTS_EVALUATION_INTERVAL (15 s)
   and evaluates each customer once per take.
3. Delivery: 10,000 events to one endpoint that answers 500 to the first two tries of every
   delivery and 200 afterwards. Prints how long until every delivery succeeded, and checks that
   every webhook-id arrived and was accepted exactly once, none lost.

Figures are printed; nothing is asserted. Everything started here is stopped and removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ingest as load
from _support import (
    PYTHON,
    ROOT,
    CpuSample,
    api_token,
    cpu_seconds,
    database,
    django_setup,
    gunicorn,
    log,
    manage,
    migrate,
    percentile,
    session_of,
)

PROBES = 40
PACED = 20  # batches of 100 events a second in the moderate-load latency run


# --- The world ---------------------------------------------------------------------------------


def world(*, alerts: bool, now: datetime) -> dict:
    """The ingest benchmark's metric priced at 1 cent a token, 1,000 customers (aliases
    customer-0000...) and PROBES probe customers, each on a monthly contract with its draft."""
    from catalog import money
    from catalog.models import PricingUnit, Product, Rate, RateCard
    from customers.models import Contract, Customer, IngestAlias
    from invoicing.services import contracts_drafts_ensure
    from notifications.models import Alert

    metric = load._metric()
    usd = PricingUnit.objects.get(pk=money.USD_CENTS_ID)
    product = Product.objects.create(name="Tokens", type="USAGE", billable_metric=metric)
    card = RateCard.objects.create(name="Standard", fiat_credit_type=usd)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    Rate.objects.create(
        rate_card=card,
        product=product,
        rate_type="FLAT",
        price=Decimal(1),
        credit_type=usd,
        starting_at=start - timedelta(days=400),
    )
    names = [f"customer-{i:04d}" for i in range(load.CUSTOMERS)]
    names += [f"probe-{i:02d}" for i in range(PROBES)]
    names += [f"paced-{i:02d}" for i in range(PROBES)]
    customers = Customer.objects.bulk_create([Customer(name=n) for n in names])
    IngestAlias.objects.bulk_create(
        [IngestAlias(customer=c, alias=c.name) for c in customers], batch_size=1000
    )
    contracts = Contract.objects.bulk_create(
        [Contract(customer=c, rate_card=card, starting_at=start) for c in customers],
        batch_size=1000,
    )
    contracts_drafts_ensure(contracts=contracts, now=now)
    if alerts:
        kinds = [
            ("spend_threshold_reached", {}),
            ("usage_threshold_reached", {"billable_metric": metric}),
            ("invoice_total_reached", {}),
            ("monthly_invoice_total_spend_threshold_reached", {}),
            ("low_remaining_contract_credit_and_commit_balance_reached", {}),
        ]
        Alert.objects.bulk_create(
            [
                Alert(
                    name=f"{kind} {c.name}",
                    type=kind,
                    threshold=Decimal(10) ** 12,
                    customer=c,
                    credit_type=usd,
                    **extra,
                )
                for c in customers[: load.CUSTOMERS]
                for kind, extra in kinds
            ],
            batch_size=1000,
        )
        Alert.objects.bulk_create(
            [
                Alert(
                    name=f"probe {c.name}",
                    type="spend_threshold_reached",
                    threshold=Decimal(1000),
                    customer=c,
                    credit_type=usd,
                )
                for c in customers[load.CUSTOMERS :]
            ]
        )
    extra = customers[load.CUSTOMERS :]
    return {
        "probes": {str(c.pk): c.name for c in extra if c.name.startswith("probe-")},
        "paced": {str(c.pk): c.name for c in extra if c.name.startswith("paced-")},
    }


# --- The worker and the receiver ----------------------------------------------------------------


WORKER_APP = "bench-task-worker"


def _settle(timeout: float = 180.0) -> None:
    """Wait until the cluster's first scheduler pass is done: about 30 s after it starts, every
    schedule falls due at once (the hourly alert sweep over every watched customer, the drafts'
    hourly ensure, the daily prunes...), work a production cluster spreads over their periods.
    Done when no schedule is due and no task waits or runs (a running task keeps its queue row)."""
    from django.db import connection
    from django.utils import timezone
    from django_q.models import OrmQ, Schedule

    deadline = time.time() + timeout
    while time.time() < deadline:
        due = Schedule.objects.filter(next_run__lte=timezone.now()).exists()
        if not due and not OrmQ.objects.exists():
            break
        time.sleep(1)
    connection.close()


@contextlib.contextmanager
def qcluster(env, *, settle: bool = False):
    """`manage.py qcluster` with the default worker settings, stopped (with its children) after.
    Its database connections are named WORKER_APP (libpq's PGAPPNAME), so that the CPU of its
    PostgreSQL backends can be told from the ingest's (`_worker_backends_cpu`). With `settle`,
    yields only after its first scheduler pass (`_settle`)."""
    manage(env, "setup_schedules")
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), "qcluster"],
        env={**env, "PGAPPNAME": WORKER_APP},
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    try:
        if settle:
            _settle()
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Receiver:
    """Records each request's arrival; answers 500 to the first `failures` tries of an id."""

    def __init__(self, *, secret: str = "", failures: int = 0):
        self.secret = secret
        self.failures = failures
        self.lock = threading.Lock()
        self.tries: Counter = Counter()
        self.accepted: Counter = Counter()
        self.arrivals: dict[str, float] = {}
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.took(body, dict(self.headers), self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def took(self, body: bytes, headers: dict, handler) -> None:
        from standardwebhooks import Webhook, WebhookVerificationError

        arrived = time.time()
        message_id = headers.get("webhook-id") or headers.get("Webhook-Id")
        if self.secret:
            try:
                Webhook(self.secret).verify(body.decode(), headers)
            except WebhookVerificationError:
                self.bad_signatures += 1
        with self.lock:
            self.tries[message_id] += 1
            status = 500 if self.tries[message_id] <= self.failures else 200
            if status == 200:
                self.accepted[message_id] += 1
            data = json.loads(body)
            if data["type"] == "alerts.spend_threshold_reached":
                self.arrivals.setdefault(data["properties"]["customer_id"], arrived)
        handler.send_response(status)
        handler.send_header("content-length", "0")
        handler.end_headers()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Phases -------------------------------------------------------------------------------------


def probe_latencies(url: str, token: str, probes: dict, receiver: Receiver) -> dict:
    """One crossing batch per probe customer, about a second apart, while the caller's load
    runs; the time from the accepted batch (the 200) to its webhook's arrival, waiting up to
    120 s after the last probe. The caller stops its load only after this returns, so every
    latency is measured while ingest runs."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted: dict[str, float] = {}
    time.sleep(5)  # the load is running
    load_average = os.getloadavg()[0]
    for customer_id, alias in probes.items():
        moment = datetime.now(UTC) - timedelta(minutes=1)
        body = json.dumps(
            [
                {
                    "transaction_id": str(uuid.uuid4()),
                    "customer_id": alias,
                    "event_type": "api_call",
                    "timestamp": moment.isoformat().replace("+00:00", "Z"),
                    "properties": {"tokens": "1500", "model": "model-00"},
                }
            ]
        )
        connection.request("POST", "/v1/ingest", body, headers)
        response = connection.getresponse()
        response.read()
        accepted[customer_id] = time.time()
        time.sleep(random.uniform(0.5, 1.5))
    deadline = time.time() + 120
    while time.time() < deadline and len(set(receiver.arrivals) & set(probes)) < len(probes):
        time.sleep(0.5)
    connection.close()
    return {
        "latencies": [
            receiver.arrivals[c] - t for c, t in accepted.items() if c in receiver.arrivals
        ],
        "load_average": load_average,
    }


def paced_load(url: str, token: str, now: datetime, stop, *, per_second: float, seed: int = 77):
    """The ingest benchmark's batches at a steady rate (as fast as answered when `per_second`
    is 0) until `stop` is set; returns how many batches were accepted."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    due = time.time()
    sent = 0
    for events in load._batches(seed, 10**6, now, f"load{seed}"):
        if stop.is_set():
            break
        connection.request("POST", "/v1/ingest", load._body(events), headers)
        connection.getresponse().read()
        sent += 1
        if per_second:
            due += 1 / per_second
            time.sleep(max(0.0, due - time.time()))
    connection.close()
    return sent


def _saturate(url: str, token: str, now: datetime, stop, seed: int, sent) -> None:
    sent.value = paced_load(url, token, now, stop, per_second=0, seed=seed)


def latency_under_load(env, token, probes, receiver, now, *, clients: int, workers: int, paced=0):
    """Probes while ingest runs: `clients` processes posting batches as fast as they are answered
    (saturating) or one thread at `paced` batches a second; the load stops after the probes'
    wait. Prints the load's rate over the whole window."""
    import multiprocessing

    stop = multiprocessing.Event()
    began = time.time()
    with gunicorn(env, workers=workers) as server:
        if paced:
            counters = [multiprocessing.Value("l", 0)]
            runners = [
                threading.Thread(
                    target=lambda: setattr(
                        counters[0],
                        "value",
                        paced_load(server.url, token, now, stop, per_second=paced),
                    )
                )
            ]
        else:
            counters = [multiprocessing.Value("l", 0) for _ in range(clients)]
            runners = [
                multiprocessing.Process(
                    target=_saturate, args=(server.url, token, now, stop, 100 + i, counters[i])
                )
                for i in range(clients)
            ]
        for runner in runners:
            runner.start()
        result = probe_latencies(server.url, token, probes, receiver)
        stop.set()
        for runner in runners:
            runner.join()
    elapsed = time.time() - began
    batches = sum(c.value for c in counters)
    result["ingest_rate"] = batches * load.BATCH / elapsed
    return result


class MachineSample:
    """The whole machine's busy CPU (/proc/stat: user, nice, system, irq, softirq) and steal,
    and this run's own processes (this process's descendants: gunicorn, clients, the task
    worker; the PostgreSQL server of `port` and its backends). `after - before`: CPU seconds of
    the other processes on the machine (other engineers' tests and servers) and stolen by the
    hypervisor in between, which slow a run down without being in its figures."""

    def __init__(self, port: int):
        with open("/proc/stat") as file:
            fields = [int(x) for x in file.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        self.busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / tick
        self.steal = fields[7] / tick
        self.at = time.monotonic()
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{entry.name}/stat") as file:
                    parents[int(entry.name)] = int(file.read().rsplit(")", 1)[1].split()[1])
        roots = {os.getpid()} | {
            pid for pid, command in _commands(parents) if _is_postmaster(command, port)
        }

        def ours(pid: int, _: str) -> bool:
            seen = 0
            while pid > 1 and seen < 64:
                if pid in roots:
                    return True
                pid, seen = parents.get(pid, 0), seen + 1
            return False

        self.ours = cpu_seconds(ours)

    def __sub__(self, before: MachineSample) -> dict:
        seconds = self.at - before.at
        others = self.busy - before.busy - (self.ours - before.ours)
        return {
            "others": max(others, 0.0) / seconds,
            "steal": (self.steal - before.steal) / seconds,
        }


def _commands(pids) -> list[tuple[int, str]]:
    found = []
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as file:
            found.append((pid, file.read().replace(b"\0", b" ").decode(errors="replace")))
    return found


def _is_postmaster(command: str, port: int) -> bool:
    words = command.split()
    return bool(words) and words[0].endswith("/postgres") and f"-p {port} " in command + " "


def _worker_cpu(cluster) -> CpuSample:
    """CPU seconds of the django-q2 cluster's processes (the alert worker's Python side)."""
    return cpu_seconds(lambda pid, _: session_of(pid) == cluster.pid)


def _worker_backends_cpu() -> CpuSample:
    """CPU seconds of the PostgreSQL backends serving the task worker (read from /proc: a
    private server on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [WORKER_APP])
        pids = {row[0] for row in cursor.fetchall()}
    return cpu_seconds(lambda pid, _: pid in pids)


def _spent(before: CpuSample, after: CpuSample) -> float:
    """CPU seconds spent in between by the processes alive at `after` (one that ended in between
    is left out rather than counted negative: these processes are picked by id, not by a parent
    that reaps them)."""
    return sum(seconds - before.own.get(pid, 0.0) for pid, seconds in after.own.items())


class EvaluationCounter:
    """Counts customer evaluations while the load runs: every few seconds, each customer's
    latest `evaluated_at`; a customer is evaluated at most once per ALERTS_EVALUATION_INTERVAL
    (15 s), so a look every 5 s sees each evaluation. One cheap read of about 1,000 rows."""

    EVERY = 5.0

    def __init__(self):
        self.seen: set = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _look(self) -> None:
        from django.db.models import Max

        from notifications.models import CustomerAlert

        rows = CustomerAlert.objects.values("customer_id").annotate(at=Max("evaluated_at"))
        self.seen.update((r["customer_id"], r["at"]) for r in rows if r["at"] is not None)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(self.EVERY):
                self._look()
            self._look()
        finally:
            connection.close()

    def __enter__(self):
        self._look()
        self.before = len(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def counted(self) -> int:
        return len(self.seen) - self.before


def ingest_run(
    *, alerts: bool, events: int, clients: int, workers: int, settle: bool = False
) -> dict:
    """One throughput run (A: no alerts, B: 5 alerts per customer) in a fresh database (with
    `settle`, the load starts after the task worker's first scheduler pass)."""
    now = datetime.now(UTC)
    label = "B: 5 alerts per customer" if alerts else "A: no alerts"
    result: dict = {"label": label, "load_before": os.getloadavg()[0]}
    with database() as env:
        migrate(env)
        token = api_token(env)
        django_setup(env)
        from django.db import connection

        world(alerts=alerts, now=now)
        connection.close()
        port = urllib.parse.urlsplit(env["DATABASE_URL"]).port
        with qcluster(env, settle=settle) as cluster, EvaluationCounter() as evaluations:
            began = time.time()
            machine = MachineSample(port)
            worker_before = _worker_cpu(cluster), _worker_backends_cpu()
            cpu: dict = {}
            rate, _ = load.http_phase(
                env,
                token,
                events=events,
                clients=clients,
                workers=workers,
                now=now,
                prefix="notif",
                cpu=cpu,
            )
            elapsed = time.time() - began
            contention = MachineSample(port) - machine
            worker = _spent(worker_before[0], _worker_cpu(cluster))
            backends = _spent(worker_before[1], _worker_backends_cpu())
        requests = cpu["requests"]
        result.update(
            rate=rate,
            load_after=os.getloadavg()[0],
            gunicorn_ms=cpu["gunicorn"] / requests * 1000,
            # The worker's backends ran during the load: the ingest's share is the rest.
            postgres_ms=(cpu.get("postgres", 0.0) - backends) / requests * 1000,
            worker_share=(worker + backends) / elapsed,
            worker_cpu=worker,
            worker_backends_cpu=backends,
            evaluations=evaluations.counted,
            others_cores=contention["others"],
            steal_cores=contention["steal"],
        )
        connection.close()
    return result


def latency_run(*, clients: int, workers: int, settle: bool = False) -> dict:
    """Alert latency under saturating and under paced ingest, in a world with alerts (with
    `settle`, the loads start after the task worker's first scheduler pass)."""
    now = datetime.now(UTC)
    log(f"--- alert latency; load average {os.getloadavg()}")
    with database() as env:
        migrate(env)
        token = api_token(env)
        django_setup(env)
        from django.db import connection

        from notifications.services import webhook_endpoint_create

        made = world(alerts=True, now=now)
        receiver = Receiver()
        _endpoint, receiver.secret = webhook_endpoint_create(
            url=receiver.url, event_types=["alerts.*"]
        )
        connection.close()
        result: dict = {}
        with qcluster(env, settle=settle):
            log(f"saturating load from {clients} clients while {PROBES} probes cross")
            result["saturating"] = latency_under_load(
                env, token, made["probes"], receiver, now, clients=clients, workers=workers
            )
            log(f"paced load: {PACED * 100:,} events/s while {PROBES} more probes cross")
            result["paced"] = latency_under_load(
                env, token, made["paced"], receiver, now, clients=1, workers=2, paced=PACED
            )
        result["bad_signatures"] = receiver.bad_signatures
        receiver.close()
        connection.close()
    return result


def delivery_run(*, count: int) -> None:
    log(f"--- delivery of {count:,} events, 500 twice then 200 for each")
    with database() as env:
        migrate(env)
        django_setup(env)
        from django.db import connection, transaction

        from core import outbox
        from notifications.models import WebhookDelivery
        from notifications.services import webhook_endpoint_create

        receiver = Receiver(failures=2)
        _endpoint, receiver.secret = webhook_endpoint_create(
            url=receiver.url, event_types=["invoice.finalized"]
        )
        connection.close()
        with qcluster(env):
            began = time.time()
            ids = []
            for start in range(0, count, 500):
                now = datetime.now(UTC)
                with transaction.atomic():
                    rows = outbox.record_many(
                        {
                            "type": "invoice.finalized",
                            "subject_id": str(uuid.uuid4()),
                            "occurred_at": now,
                            "payload": {"invoice_id": str(uuid.uuid4()), "customer_id": None},
                        }
                        for _ in range(min(500, count - start))
                    )
                ids += [str(r.uuid) for r in rows]
            log(f"recorded {count:,} events in {time.time() - began:.1f} s")
            deadline = time.time() + 900
            pending = count
            while time.time() < deadline:
                pending = WebhookDelivery.objects.exclude(status="SUCCEEDED").count()
                if not pending:
                    break
                time.sleep(2)
            elapsed = time.time() - began
        received = set(receiver.tries)
        once = sum(1 for i in ids if receiver.accepted[i] == 1)
        log(
            f"delivery: {count - pending:,} of {count:,} succeeded in {elapsed:.0f} s; "
            f"{len(received & set(ids)):,} webhook-ids received, {once:,} accepted exactly once, "
            f"{sum(1 for i in ids if receiver.accepted[i] > 1)} more than once, "
            f"{len(set(ids) - received)} lost; {sum(receiver.tries.values()):,} requests; "
            f"{receiver.bad_signatures} bad signatures"
        )
        receiver.close()
        connection.close()


def _phase(name: str, args) -> dict:
    """Run one phase in a process of its own (Django is set up once per process, against that
    phase's fresh database); its last output line is its result as JSON."""
    command = [PYTHON, __file__, "--phase", name, "--events", str(args.events)]
    command += ["--deliveries", str(args.deliveries)] + (["--settle"] if args.settle else [])
    process = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = process.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    if process.returncode != 0 or not lines:
        raise SystemExit(f"phase {name} failed ({process.returncode})")
    return json.loads(lines[-1])


def _run_line(run: dict) -> str:
    per_customer = (
        f"{(run['worker_cpu'] + run['worker_backends_cpu']) / run['evaluations'] * 1000:.1f} ms "
        f"({run['worker_cpu'] / run['evaluations'] * 1000:.1f} Python + "
        f"{run['worker_backends_cpu'] / run['evaluations'] * 1000:.1f} PostgreSQL)"
        if run["evaluations"]
        else "-"
    )
    return (
        f"{run['label']}: {run['rate']:,.0f} events/s; load average {run['load_before']:.1f} "
        f"before, {run['load_after']:.1f} after; CPU per request {run['gunicorn_ms']:.2f} ms "
        f"gunicorn + {run['postgres_ms']:.2f} ms PostgreSQL; task worker {run['worker_share']:.1%}"
        f" of a core, {run['evaluations']:,} customer evaluations, {per_customer} each; other "
        f"processes on the machine {run['others_cores']:.2f} cores, steal {run['steal_cores']:.2f}"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ingest_report(runs: list[dict]) -> None:
    """Each configuration's median and the loss between the medians."""
    plain = [r for r in runs if r["label"].startswith("A")]
    watched = [r for r in runs if r["label"].startswith("B")]
    a, b = _median([r["rate"] for r in plain]), _median([r["rate"] for r in watched])
    rates_a = ", ".join(f"{r['rate']:,.0f}" for r in plain)
    rates_b = ", ".join(f"{r['rate']:,.0f}" for r in watched)
    log(
        f"ingest medians over {len(plain)} + {len(watched)} alternated runs: A (no alerts) "
        f"{a:,.0f} events/s (runs {rates_a}), B (5,000 alerts) {b:,.0f} events/s (runs "
        f"{rates_b}): {1 - b / a:+.1%} lost between the medians (goal <= 5%)"
    )
    for name, key in (("gunicorn", "gunicorn_ms"), ("PostgreSQL", "postgres_ms")):
        log(
            f"ingest CPU per request, {name}: median {_median([r[key] for r in plain]):.2f} ms "
            f"without alerts, {_median([r[key] for r in watched]):.2f} ms with"
        )
    evaluations = sum(r["evaluations"] for r in watched)
    if evaluations:
        python = sum(r["worker_cpu"] for r in watched) / evaluations * 1000
        backends = sum(r["worker_backends_cpu"] for r in watched) / evaluations * 1000
        log(
            f"task worker with alerts: median {_median([r['worker_share'] for r in watched]):.1%}"
            f" of a core; {evaluations:,} customer evaluations, {python + backends:.1f} ms CPU "
            f"each ({python:.1f} ms Python, {backends:.1f} ms its PostgreSQL backends)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="events per ingest run")
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs of ingest runs")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument(
        "--settle",
        action="store_true",
        help="start each load (ingest runs, latency probes) after the task worker's first "
        "scheduler pass (every schedule, the hourly alert sweep included, falls due about 30 s "
        "after it starts)",
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-delivery", action="store_true")
    parser.add_argument(
        "--phase", choices=["plain", "alerts", "latency", "delivery"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    workers, clients = 2 * cores, 2 * cores + 2
    if args.phase == "delivery":
        delivery_run(count=args.deliveries)
        print(json.dumps({}))
        return
    if args.phase == "latency":
        print(json.dumps(latency_run(clients=clients, workers=workers, settle=args.settle)))
        return
    if args.phase:
        result = ingest_run(
            alerts=args.phase == "alerts",
            events=args.events,
            clients=clients,
            workers=workers,
            settle=args.settle,
        )
        print(json.dumps(result))
        return
    log(f"notifications benchmark on PostgreSQL, {cores} cores; load average {os.getloadavg()}")
    if not args.skip_ingest:
        runs = []
        for round_ in range(args.rounds):
            # A B, then B A: neither configuration always runs first (after the previous
            # server's removal, on a cache the other one warmed).
            for phase in ("plain", "alerts") if round_ % 2 == 0 else ("alerts", "plain"):
                log(f"--- round {round_ + 1} of {args.rounds}, {phase}")
                runs.append(_phase(phase, args))
                log(_run_line(runs[-1]))
        ingest_report(runs)
    if not args.skip_latency:
        watched = _phase("latency", args)
        for key, load_label in (("saturating", "saturating"), ("paced", f"{PACED * 100:,}/s")):
            found = watched[key]
            latencies = found["latencies"]
            log(
                f"alert latency under {load_label} ingest ({found['ingest_rate']:,.0f} events/s "
                f"kept up until the last probe arrived or 120 s passed; load average "
                f"{found['load_average']:.1f}), accepted batch -> webhook at the receiver, "
                f"{len(latencies)} of {PROBES} probes arrived: "
                f"p50 {percentile(latencies, 0.5):.1f} s, p99 {percentile(latencies, 0.99):.1f} s "
                f"(goal p99 <= 30 s); slowest "
                + ", ".join(f"{x:.1f}" for x in sorted(latencies)[-5:])
            )
        log(f"{watched['bad_signatures']} bad signatures")
    if not args.skip_delivery:
        _phase("delivery", args)
    log(f"load average at the end {os.getloadavg()} (other processes share the machine)")


if __name__ == "__main__":
    main()
