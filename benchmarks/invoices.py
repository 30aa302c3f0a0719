"""Invoice benchmarks on PostgreSQL (run by `make bench`, or `python benchmarks/invoices.py`).

1. Draft read: one contract with 1,000,000 events in the period over 50 pricing group values, read
   through GET /v1/customers/{id}/invoices/{invoice_id} (target: p50 <= 50 ms).
2. Finalization: 1,000 contracts with 1,000 events each (target: <= 10 s), then 2,000 contracts
   with 1,000 events and 1,000 contracts with 100 events, to show the cost follows the number of
   contracts, not of events. Each figure comes with the CPU this process and its database
   backend used per invoice (steadier than wall time on a loaded machine), the SQL statements per
   invoice (the outbox's reactions after each batch's commit included) and the load average.

The events and metering's hourly pre-aggregates are written directly in SQL (generate_series),
not through HTTP: this measures invoicing, not ingestion. It runs in a throw-away database
(`benchmarks/_support.database`: a fresh database on DATABASE_URL's server, or a private server).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHILD = "BENCH_INVOICES_CHILD"

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
    from invoicing.services import contracts_drafts_ensure, invoices_finalize_due
    from metering.stores.relational.rollups import rollups_rebuild
    from tests.statements import statements_sent

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _support import cpu_seconds

PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
SECONDS_IN_PERIOD = int((PERIOD_END - PERIOD_START).total_seconds())


def log(message: str) -> None:
    print(message, flush=True)


def offering(tag: str, groups: int) -> tuple[BillableMetric, RateCard]:
    metric = BillableMetric.objects.create(
        name=f"Tokens {tag}",
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[["model_name"]],
    )
    product = Product.objects.create(
        name=f"Input tokens {tag}",
        type="USAGE",
        billable_metric=metric,
        pricing_group_key=["model_name"],
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
        for index in range(groups)
    )
    return metric, card


def contracts_create(card: RateCard, count: int, tag: str) -> list[Contract]:
    customers = Customer.objects.bulk_create(
        Customer(name=f"bench-{tag}-{index}") for index in range(count)
    )
    contracts = Contract.objects.bulk_create(
        Contract(customer=customer, rate_card=card, starting_at=PERIOD_START)
        for customer in customers
    )
    for contract in contracts:
        contract.rate_card = card
    contracts_drafts_ensure(contracts=contracts, now=PERIOD_START + timedelta(days=1))
    return contracts


def events_insert(metric: BillableMetric, tag: str, per_customer: int, groups: int) -> int:
    """Events of every `bench-<tag>-*` customer, spread over the period and the group values,
    then metering's hourly aggregates of them, all in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_usageevent
                (id, transaction_id, customer_id, event_type, "timestamp", properties,
                 received_at, is_late)
            SELECT gen_random_uuid(), c.id::text || '-' || g, c.id::text, 'tokens_usage',
                   %(start)s + ((g::bigint * 7919) %% %(seconds)s) * interval '1 second',
                   jsonb_build_object('num_tokens', ((g %% 1000) + 1)::text,
                                      'model_name', 'model-' || lpad((g %% %(groups)s)::text, 2, '0')),
                   %(start)s, false
            FROM customers_customer c CROSS JOIN generate_series(1, %(n)s) AS g
            WHERE c.name LIKE %(like)s
            """,
            {
                "start": PERIOD_START,
                "seconds": SECONDS_IN_PERIOD,
                "groups": groups,
                "n": per_customer,
                "like": f"bench-{tag}-%",
            },
        )
        inserted = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO metering_metricaggregate
                (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
                 latest_value, latest_timestamp, latest_transaction_id)
            SELECT %(metric)s, e.customer_id, date_trunc('hour', e."timestamp"),
                   '{"model_name":"' || (e.properties ->> 'model_name') || '"}',
                   count(*), sum((e.properties ->> 'num_tokens')::numeric),
                   max((e.properties ->> 'num_tokens')::numeric), NULL, max(e."timestamp"), ''
            FROM metering_usageevent e JOIN customers_customer c ON e.customer_id = c.id::text
            WHERE c.name LIKE %(like)s
            GROUP BY e.customer_id, date_trunc('hour', e."timestamp"),
                     e.properties ->> 'model_name'
            """,
            {"metric": metric.id, "like": f"bench-{tag}-%"},
        )
        rollups_rebuild(metric_id=metric.id)
        cursor.execute("ANALYZE")
    return inserted


def draft_read_benchmark(runs: int = 30) -> None:
    log("== Draft read: 1 contract, 1,000,000 events, 50 pricing group values ==")
    metric, card = offering("read", 50)
    (contract,) = contracts_create(card, 1, "read")
    started = time.perf_counter()
    inserted = events_insert(metric, "read", 1_000_000, 50)
    log(
        f"   setup: {inserted:,} events + hourly aggregates in {time.perf_counter() - started:.1f} s"
    )
    invoice = Invoice.objects.get(contract=contract, start_timestamp=PERIOD_START)
    _, token = ApiToken.generate(name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/v1/customers/{contract.customer_id}/invoices/{invoice.id}"
    first = client.get(url)
    assert first.status_code == 200, first.content[:500]
    data = first.json()["data"]
    log(f"   draft: {len(data['line_items'])} lines, total {data['total']} cents")
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    log(
        f"   GET draft x{runs}: p50 {statistics.median(timings):.1f} ms, "
        f"p90 {timings[int(len(timings) * 0.9) - 1]:.1f} ms, max {timings[-1]:.1f} ms "
        "(target p50 <= 50 ms)"
    )


def finalize_benchmark(contracts: int, per_contract: int, groups: int = 10) -> None:
    tag = f"fin{contracts}x{per_contract}"
    log(f"== Finalize {contracts:,} contracts x {per_contract:,} events ({groups} group values) ==")
    metric, card = offering(tag, groups)
    started = time.perf_counter()
    contracts_create(card, contracts, tag)
    inserted = events_insert(metric, tag, per_contract, groups)
    log(f"   setup: {inserted:,} events + aggregates in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        ours = {os.getpid(), cursor.fetchone()[0]}
    cpu_before = cpu_seconds(lambda pid, _: pid in ours)
    with statements_sent() as sent:
        started = time.perf_counter()
        finalized = invoices_finalize_due(now=PERIOD_END + settings.BILLING_FINALIZATION_GRACE * 2)
        elapsed = time.perf_counter() - started
    cpu = cpu_seconds(lambda pid, _: pid in ours) - cpu_before
    each = max(finalized, 1)
    log(
        f"   finalized {finalized:,} invoices in {elapsed:.2f} s "
        f"({elapsed / each * 1000:.1f} ms each; CPU of this process and its database backend "
        f"{cpu / each * 1000:.1f} ms each; {len(sent) / each:.2f} SQL statements each; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


def run(argv: list[str]) -> None:
    """In the child process, on the fresh migrated database given by DATABASE_URL."""
    if connection.vendor != "postgresql":
        raise SystemExit("The invoice benchmarks run on PostgreSQL.")
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    PricingUnit.objects.get(pk=USD_CENTS_ID)
    # Arguments pick parts: `read`, `finalize`, or sizes like `2000x1000` (contracts x events).
    if not argv or "read" in argv:
        draft_read_benchmark()
    if not argv or "finalize" in argv:
        finalize_benchmark(1000, 1000)
        finalize_benchmark(2000, 1000)
        finalize_benchmark(1000, 100)
    for size in (arg for arg in argv if "x" in arg):
        contracts, events = (int(part) for part in size.split("x"))
        finalize_benchmark(contracts, events)


def main() -> int:
    """A throw-away PostgreSQL database (benchmarks/_support.py: a fresh database on the server
    of DATABASE_URL, or a private server), migrated, then the figures from a child process."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _support import rerun_on_fresh_database

    return rerun_on_fresh_database(__file__, CHILD)


if __name__ == "__main__":
    if os.environ.get(CHILD):
        run(sys.argv[1:])
    else:
        sys.exit(main())
