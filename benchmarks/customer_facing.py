"""Customer-facing benchmarks on PostgreSQL (run by `make bench`, or
`python benchmarks/customer_facing.py [pdf] [dashboard]`).

1. PDF: a finalized invoice of 200 lines (200 pricing group values), rendered through
   GET /v1/customers/{id}/invoices/{id}/pdf (target: p50 <= 1 s).
2. Embedded usage dashboard: the JSON of /embed/{token}/data.json for one customer with
   1,000,000 events in the month over 50 group values: usage by day per group values and the
   spend so far, i.e. the month's invoice broken down into 31 days (target: p50 <= 100 ms).

The events and metering's hourly pre-aggregates are written in SQL (`benchmarks/invoices.py`'s
helpers), not through HTTP. It runs in a throw-away database (`benchmarks/_support.database`).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
CHILD = "BENCH_CUSTOMER_FACING_CHILD"

if os.environ.get(CHILD):
    # benchmarks/invoices.py sets Django up and defines the offering and SQL event writers.
    os.environ["BENCH_INVOICES_CHILD"] = "1"
    sys.path.insert(0, str(HERE))
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from invoices import PERIOD_END, PERIOD_START, contracts_create, events_insert, offering

    from core.models import ApiToken
    from dashboards.embed import Embed, embed_token
    from dashboards.models import CompanyProfile
    from dashboards.services import company_profile_save, logo_image
    from invoicing.models import Invoice
    from invoicing.services import invoice_finalize
    from metering.models import MetricAggregate
    from metering.stores.relational.rollups import rollups_rebuild


def log(message: str) -> None:
    print(message, flush=True)


def timed(client, url: str, runs: int, **headers) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each request (the CPU figure does not
    count the database server's work, nor the time other processes held the CPU)."""
    timings, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, response.content[:300]
    return sorted(timings), sorted(cpu)


def summary(measured: tuple[list[float], list[float]]) -> str:
    timings, cpu = measured
    return (
        f"p50 {statistics.median(timings):.1f} ms, "
        f"p90 {timings[max(int(len(timings) * 0.9) - 1, 0)]:.1f} ms, max {timings[-1]:.1f} ms; "
        f"CPU of this process p50 {statistics.median(cpu):.1f} ms; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


def company() -> None:
    from PIL import Image

    logo = io.BytesIO()
    Image.new("RGB", (240, 60), "#1a56b8").save(logo, format="PNG")
    company_profile_save(
        profile=CompanyProfile(
            name="Benchmark Billing Inc.",
            address="1 Market Street\nSan Francisco, CA 94105",
            tax_id="EIN 12-3456789",
            payment_instructions="Bank transfer: account 000123456789, routing 121000248",
            invoice_number_prefix="INV-",
        ),
        logo=logo_image(logo.getvalue()),
    )


def pdf_benchmark(runs: int = 10) -> None:
    log("== PDF of a finalized invoice of 200 lines ==")
    metric, card = offering("pdf", 200)
    (contract,) = contracts_create(card, 1, "pdf")
    # One hour of usage per group value, written as metering's pre-aggregates.
    MetricAggregate.objects.bulk_create(
        MetricAggregate(
            metric=metric,
            customer_id=str(contract.customer_id),
            hour=PERIOD_START + timedelta(hours=index),
            group_values=f'{{"model_name":"model-{index:02d}"}}',
            event_count=1,
            value_sum=Decimal(1_000_000 + index * 1000),
            value_max=Decimal(1_000_000 + index * 1000),
        )
        for index in range(200)
    )
    rollups_rebuild(metric_id=metric.id)
    invoice = Invoice.objects.get(contract=contract, start_timestamp=PERIOD_START)
    invoice = invoice_finalize(invoice=invoice, now=PERIOD_END + timedelta(days=2)).invoice
    log(f"   invoice {invoice.number}: {invoice.line_items.count()} lines, total {invoice.total}")
    _, token = ApiToken.generate(name="bench-pdf")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/v1/customers/{contract.customer_id}/invoices/{invoice.pk}/pdf"
    first = client.get(url, HTTP_ACCEPT="application/pdf")
    assert first.status_code == 200, first.content[:300]
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(first.content)).pages)
    log(f"   PDF: {len(first.content):,} bytes, {pages} pages")
    timings = timed(client, url, runs, HTTP_ACCEPT="application/pdf")
    log(f"   GET .../pdf x{runs}: {summary(timings)} (target p50 <= 1 s)")


def dashboard_benchmark(runs: int = 30) -> None:
    log("== Embedded usage dashboard JSON: 1,000,000 events in the month, 50 group values ==")
    metric, card = offering("dash", 50)
    (contract,) = contracts_create(card, 1, "dash")
    started = time.perf_counter()
    inserted = events_insert(metric, "dash", 1_000_000, 50)
    log(
        f"   setup: {inserted:,} events + hourly aggregates in {time.perf_counter() - started:.1f} s"
    )
    url = f"/embed/{embed_token(Embed(str(contract.customer_id), 'usage'))}/data.json"
    client = Client()
    data = client.get(url).json()
    series = data["products"][0]["series"]
    log(
        f"   {len(data['windows'])} days x {len(series)} series, "
        f"spend {data['spend']['total']} ({data['period']['label']})"
    )
    log(f"   GET data.json x{runs}: {summary(timed(client, url, runs))} (target p50 <= 100 ms)")


def run(argv: list[str]) -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("The customer-facing benchmarks run on PostgreSQL.")
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    company()
    if not argv or "pdf" in argv:
        pdf_benchmark()
    if not argv or "dashboard" in argv:
        dashboard_benchmark()


def main() -> int:
    sys.path.insert(0, str(HERE))
    from _support import rerun_on_fresh_database

    return rerun_on_fresh_database(__file__, CHILD)


if __name__ == "__main__":
    if os.environ.get(CHILD):
        run(sys.argv[1:])
    else:
        sys.exit(main())
