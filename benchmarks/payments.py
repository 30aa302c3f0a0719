"""Payments benchmarks (run by `make bench`, or `python benchmarks/payments.py [--postgres]`).

1. Hand-off: 1,000 finalized invoices of 20 lines each sent to the local fake of Stripe's HTTP API
   (tests/payments/fake_stripe.py) through the official `stripe` library, by the same service the
   schedule runs: wall time, this process's CPU time, and Stripe calls per invoice (goal: lines
   + 2, <= 60 s). The fake runs in a process of its own, as Stripe runs elsewhere (in this one,
   its work would take turns with the hand-off's on one interpreter); BENCH_FAKE_IN_PROCESS=1
   serves it from a thread of this process instead, as the first measurements did.
2. Revenue schedule: 1,000 contracts x one month (a usage line spread over its days from the
   hourly pre-aggregates, a subscription line, a credit), wall time (goal: <= 30 s).

A throw-away SQLite database (PostgreSQL with --postgres: `benchmarks/_support.database`). The
rows are written with bulk inserts: this measures the hand-off and the schedule, not invoicing.
Figures are printed, with the machine's load average (other work shares the CPU); nothing is
asserted. BENCH_PAYMENT_INVOICES sets the size, BENCH_HANDOFF_WORKERS the hand-off's threads
(default: the STRIPE_HANDOFF_WORKERS setting; 1 sends one invoice after another).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._support import database, django_setup, log, migrate  # noqa: E402

INVOICES = int(os.environ.get("BENCH_PAYMENT_INVOICES", "1000"))
LINES = 20
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def build_world():
    from catalog.models import BillableMetric, PricingUnit, Product, RateCard
    from customers.models import BillingProviderConfiguration, Contract, Customer
    from invoicing.models import Invoice, InvoiceLineItem
    from metering.models import MetricAggregate
    from metering.stores.relational.rollups import rollups_rebuild
    from payments.models import BillingProviderConnection, InvoicePayment

    usd = PricingUnit.usd_cents()
    metric = BillableMetric.objects.create(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["tokens"]},
        group_keys=[["region"]],
    )
    product = Product.objects.create(name="Tokens", type="USAGE", billable_metric=metric)
    card = RateCard.objects.create(name="Bench", fiat_credit_type=usd)
    customers = Customer.objects.bulk_create(
        [Customer(name=f"Customer {n}") for n in range(INVOICES)]
    )
    configs = BillingProviderConfiguration.objects.bulk_create(
        [
            BillingProviderConfiguration(
                customer=c, billing_provider="stripe", billing_provider_customer_id=f"cus_{n:06d}"
            )
            for n, c in enumerate(customers)
        ]
    )
    contracts = Contract.objects.bulk_create(
        [
            Contract(
                customer=c,
                rate_card=card,
                starting_at=datetime(2026, 1, 1, tzinfo=UTC),
                billing_provider="stripe",
                billing_provider_configuration=config,
            )
            for c, config in zip(customers, configs, strict=True)
        ]
    )
    per_line = Decimal("1234")
    invoices = Invoice.objects.bulk_create(
        [
            Invoice(
                customer=contract.customer,
                contract=contract,
                credit_type=usd,
                status="FINALIZED",
                start_timestamp=MARCH,
                end_timestamp=APRIL,
                number=n + 1,
                issued_at=APRIL,
                subtotal=per_line * (LINES - 1),
                total=per_line * (LINES - 2) - 100 + per_line,
            )
            for n, contract in enumerate(contracts)
        ]
    )
    lines = []
    for invoice in invoices:
        for position in range(LINES):
            kind, total, extra = "usage", per_line, {"product": product}
            if position == LINES - 2:
                kind, total, extra = "subscription", per_line, {}
            elif position == LINES - 1:
                kind, total = "applied_commit_or_credit", Decimal(-100)
                extra = {"applied_commit_or_credit_type": "CREDIT"}
            lines.append(
                InvoiceLineItem(
                    invoice=invoice,
                    position=position,
                    name=f"Line {position}",
                    type=kind,
                    credit_type=usd,
                    total=total,
                    starting_at=MARCH,
                    ending_before=APRIL,
                    pricing_group_values={"region": f"r{position}"} if kind == "usage" else {},
                    **extra,
                )
            )
    InvoiceLineItem.objects.bulk_create(lines, batch_size=5000)
    aggregates = [
        MetricAggregate(
            metric=metric,
            customer_id=str(customer.pk),
            hour=MARCH + timedelta(days=day, hours=12),
            group_values=f'{{"region":"r{region}"}}',
            event_count=3,
            value_sum=Decimal(day + region + 1),
        )
        for customer in customers
        for day in range(0, 31, 2)
        for region in range(3)
    ]
    MetricAggregate.objects.bulk_create(aggregates, batch_size=5000)
    rollups_rebuild(metric_id=metric.id)
    BillingProviderConnection.objects.create(
        secret_key="sk_test_benchmark0000", webhook_secret="whsec_benchmark"
    )
    InvoicePayment.objects.bulk_create(
        [
            InvoicePayment(
                invoice=invoice,
                provider_customer_id=f"cus_{n:06d}",
                status="queued",
                status_changed_at=APRIL,
                send_after=APRIL + timedelta(hours=1),
            )
            for n, invoice in enumerate(invoices)
        ]
    )
    return invoices


def main() -> None:
    postgres = "--postgres" in sys.argv
    with database(sqlite=not postgres) as env:
        migrate(env)
        django_setup(env)
        from django.conf import settings
        from django.db import connection

        from payments.models import InvoicePayment
        from payments.revenue import revenue_schedule
        from payments.services import invoice_payments_send_due

        log(f"database: {connection.vendor}; building {INVOICES} invoices x {LINES} lines")
        invoices = build_world()
        workers = int(os.environ.get("BENCH_HANDOFF_WORKERS", settings.STRIPE_HANDOFF_WORKERS))
        in_process = os.environ.get("BENCH_FAKE_IN_PROCESS") == "1"
        with _fake_stripe(in_process) as fake:
            settings.STRIPE_API_BASE = fake.url
            load = _load()
            began, cpu = time.monotonic(), time.process_time()
            counts = invoice_payments_send_due(
                now=APRIL + timedelta(hours=2), limit=INVOICES, workers=workers
            )
            elapsed, cpu = time.monotonic() - began, time.process_time() - cpu
            stats = fake.stats()
        sent = InvoicePayment.objects.filter(status="sent").count()
        where = "in this process" if in_process else "in its own process"
        print(
            f"hand-off: {counts.sent} invoices sent ({sent} marked sent, {stats['invoices']} "
            f"Stripe invoices, {stats['items']} items) in {elapsed:.1f} s with {workers} "
            f"thread{'' if workers == 1 else 's'}, the fake {where}; {cpu:.1f} s CPU in this process; "
            f"{counts.calls / max(counts.sent, 1):.2f} Stripe calls per invoice "
            f"({LINES} lines: goal {LINES + 2}); {stats['requests']} HTTP requests in all; "
            f"load average {load} before, {_load()} after",
            flush=True,
        )
        load = _load()
        began, cpu = time.monotonic(), time.process_time()
        rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
        elapsed, cpu = time.monotonic() - began, time.process_time() - cpu
        total = sum(row.amount for row in rows)
        expected = sum(invoice.total for invoice in invoices)
        print(
            f"revenue schedule: {len({r.contract_id for r in rows})} contracts x one month, "
            f"{len(rows)} rows in {elapsed:.1f} s ({cpu:.1f} s CPU); sum {total} = invoices' "
            f"totals {expected}: {total == expected}; load average {load} before, {_load()} after",
            flush=True,
        )


@contextlib.contextmanager
def _fake_stripe(in_process: bool):
    """The fake Stripe, in its own process or in a thread of this one; `.url`, `.stats()`."""
    from tests.payments.fake_stripe import FakeStripe, in_own_process, running

    if not in_process:
        with in_own_process() as fake:
            yield fake
        return
    fake = FakeStripe()
    with running(fake):
        yield fake


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
