"""What a draft preview costs.

ClickHouse store (default; `ClickHouseStore.preview`): opening and dropping a preview's database
(with a replaced month: its day and month rows rebuilt), and the dedup lookup of 100 transaction
ids on the store itself and through a preview's view over it (the view must not lose the
`by_transaction` projection), over `--events` event rows in a chdb store in a temporary folder.
Prints best-of-5 times and the load average (the machine is shared).

Relational store on PostgreSQL (`--relational`; a fresh database on DATABASE_URL's server, or a
private server, `benchmarks/_support.py`): one customer with `--events` events this month over 50
group values (events, hourly rows and the day and month tier written in SQL), a contract and its
draft; then `customer_events_preview` (what `POST /v1/customers/{id}/previewEvents` runs) of 10
events, merge and replace, p50 and best over `--runs`, and the same draft read without a preview
beside them. The script depends only on services that exist before and after the change of
issue #15's loose ends, so the same file measures either code (copy it into the other tree).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def best_ms(run, times=5) -> float:
    best = float("inf")
    for _ in range(times):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best * 1000


def relational(events: int, runs: int) -> None:
    """The relational store's previews on PostgreSQL (see the module docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _support import database, django_setup, migrate

    with database() as env:
        migrate(env)
        django_setup(env)
        _relational_previews(events, runs)
        from django.db import connection

        connection.close()


def _relational_previews(events: int, runs: int) -> None:
    import statistics
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from catalog.models import BillableMetric, Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID
    from customers.models import Contract, Customer
    from invoicing.models import Invoice
    from invoicing.previews import customer_events_preview
    from invoicing.selectors import invoice_view
    from invoicing.services import contracts_drafts_ensure
    from metering.models import RollupWatermark
    from metering.stores.relational.rollups import rollups_rebuild

    now = timezone.now()
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hour = now.replace(minute=0, second=0, microsecond=0)
    metric = BillableMetric.objects.create(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[["model_name"]],
    )
    product = Product.objects.create(
        name="Tokens", type="USAGE", billable_metric=metric, pricing_group_key=["model_name"]
    )
    card = RateCard.objects.create(name="Card", fiat_credit_type_id=USD_CENTS_ID)
    Rate.objects.bulk_create(
        Rate(
            rate_card=card,
            product=product,
            rate_type="FLAT",
            price=Decimal(1),
            starting_at=datetime(2025, 1, 1, tzinfo=UTC),
            pricing_group_values={"model_name": f"model-{index:02d}"},
            pricing_group_values_key=f'{{"model_name":"model-{index:02d}"}}',
        )
        for index in range(50)
    )
    customer = Customer.objects.create(name="Preview benchmark")
    contract = Contract.objects.create(customer=customer, rate_card=card, starting_at=month)
    contracts_drafts_ensure(contracts=[contract], now=now)
    draft = Invoice.objects.get(contract=contract, type="USAGE", start_timestamp=month)
    seconds = max(1, int((hour - month).total_seconds()))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_usageevent
                (id, transaction_id, customer_id, event_type, "timestamp", properties,
                 received_at, is_late)
            SELECT gen_random_uuid(), 'stored-' || g, %(customer)s, 'tokens_usage',
                   %(start)s + ((g::bigint * 7919) %% %(seconds)s) * interval '1 second',
                   jsonb_build_object('num_tokens', ((g %% 1000) + 1)::text,
                                      'model_name', 'model-' || lpad((g %% 50)::text, 2, '0')),
                   %(start)s, false
            FROM generate_series(1, %(n)s) AS g
            """,
            {"customer": str(customer.pk), "start": month, "seconds": seconds, "n": events},
        )
        cursor.execute(
            "INSERT INTO metering_ingestedtransaction (transaction_id, received_at) "
            "SELECT transaction_id, received_at FROM metering_usageevent"
        )
        cursor.execute(
            """
            INSERT INTO metering_metricaggregate
                (metric_id, customer_id, hour, group_values, event_count, value_sum, value_max,
                 latest_value, latest_timestamp, latest_transaction_id)
            SELECT %(metric)s, customer_id, date_trunc('hour', "timestamp"),
                   '{"model_name":"' || (properties ->> 'model_name') || '"}',
                   count(*), sum((properties ->> 'num_tokens')::numeric),
                   max((properties ->> 'num_tokens')::numeric), NULL, max("timestamp"), ''
            FROM metering_usageevent
            GROUP BY customer_id, date_trunc('hour', "timestamp"), properties ->> 'model_name'
            """,
            {"metric": metric.pk},
        )
        aggregates = cursor.rowcount
    RollupWatermark.objects.update_or_create(
        pk=1, defaults={"folded_before": max(month, hour - timedelta(hours=1))}
    )
    rollups_rebuild(metric_id=metric.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    batch = [
        {
            "transaction_id": f"preview-{index}",
            "event_type": "tokens_usage",
            "timestamp": (now - timedelta(minutes=1)).isoformat(),
            "properties": {"num_tokens": str(index + 1), "model_name": f"model-{index:02d}"},
        }
        for index in range(10)
    ]
    print(
        f"relational store on PostgreSQL: 1 customer, {events:,} events this month "
        f"({aggregates:,} hourly rows, 50 groups); load average {os.getloadavg()[0]:.1f} (2 cores)"
    )

    def timed(label: str, run) -> None:
        for _ in range(2):
            run()
        durations = []
        for _ in range(runs):
            began = time.perf_counter()
            answer = run()
            durations.append(time.perf_counter() - began)
        print(
            f"{label}: p50 {statistics.median(durations) * 1000:.1f} ms, best "
            f"{min(durations) * 1000:.1f} ms over {runs} runs (total {answer})"
        )

    timed("draft read, no preview", lambda: invoice_view(invoice=draft, now=timezone.now()).total)
    for mode in ("merge", "replace"):
        timed(
            f"previewEvents of 10 events, {mode}",
            lambda mode=mode: customer_events_preview(
                customer=customer,
                events=batch,
                now=timezone.now(),
                mode=mode,
                present=lambda view: view.total,
            ),
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--relational", action="store_true")
    parser.add_argument("--runs", type=int, default=15)
    args, _ = parser.parse_known_args()
    if args.relational:
        relational(args.events or 100_000, args.runs)
        return 0
    args.events = args.events or 1_000_000
    import django

    django.setup()
    from metering.stores.clickhouse import ClickHouseStore, sql

    with tempfile.TemporaryDirectory(prefix="bench-previews-") as path:
        store = ClickHouseStore(f"chdb://{path}")
        db = store.database
        start = int(MARCH.timestamp())
        # 1,000 customer ids, 400 events a second from March 1st.
        store.client.command(
            f"INSERT INTO {db}.usage (kind, customer_id, metric_id, hour, group_values, "
            f"transaction_id, received_at, timestamp, event_type, properties, is_late, id) "
            f"SELECT 'event', concat('c', toString(number % 1000)), '{sql.NO_METRIC}', "
            f"toStartOfHour(toDateTime({start} + intDiv(number, 400), 'UTC')), '', "
            f"concat('tx-', toString(number)), toDateTime64({start} + intDiv(number, 400), 6, "
            f"'UTC'), toDateTime64({start} + intDiv(number, 400), 6, 'UTC'), 'x', '{{}}', 0, "
            f"generateUUIDv4() FROM numbers({args.events})"
        )
        ids = [f"tx-{n}" for n in range(0, args.events, max(1, args.events // 100))]
        lookup = sql.accepted
        print(f"{args.events:,} event rows; load average {os.getloadavg()[0]:.1f} (2 cores)")
        on_store = best_ms(lambda: store.client.rows(lookup(db, ids, MARCH)))
        print(f"dedup lookup of {len(ids)} ids on the store: {on_store:.1f} ms")
        for label, forget in (("merge", []), ("replace", [(MARCH, APRIL)])):
            with store.preview(customer_ids=["c1"], forget=forget) as scoped:
                through = best_ms(
                    lambda s=scoped: store.client.rows(lookup(s.database, ids, MARCH))
                )
            print(f"the same through a {label} preview's view: {through:.1f} ms")

            def open_and_drop(forget=forget):
                with store.preview(customer_ids=["c1"], forget=forget):
                    pass

            print(f"open and drop a {label} preview: {best_ms(open_and_drop):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
