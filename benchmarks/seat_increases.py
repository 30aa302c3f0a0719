"""Seat increase benchmark (run by `make bench`, or `python benchmarks/seat_increases.py
[--sqlite]`): what following the seats costs a contract's edits and the hourly schedule.

A contract started 12 months before "now" (open-ended: its recurring balances are made through
next month, 14 periods), a SEAT_BASED subscription of S seats (10, 100, 500), a recurring credit
per seat (INDIVIDUAL) and a pooled recurring commit (POOLED), both on that subscription. Printed,
per S: the p50 and max of a v2 edit adding one seat on the 11th of the current month (the
subscription's rows change, every unbilled period's balances follow: one new per-seat credit for
this month and one for next month, the pool topped up, next month's pool made again), and of an
idle `recurring_balances_materialize` (what the hourly schedule pays for a contract whose seats
did not change). Nothing is asserted. A throw-away database (`benchmarks/_support.database`:
PostgreSQL unless --sqlite).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHILD = "BENCH_SEAT_INCREASES_CHILD"
START = datetime(2025, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 5, tzinfo=UTC)
APR_11 = datetime(2026, 4, 11, tzinfo=UTC)
RUNS = 5


def _contract(seats: int, tag: str):
    from catalog.models import Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID
    from customers import services
    from customers.models import Customer

    product = Product.objects.create(name=f"Seats {tag}", type="SUBSCRIPTION")
    card = RateCard.objects.create(name=f"Card {tag}", fiat_credit_type_id=USD_CENTS_ID)
    Rate.objects.create(
        rate_card=card,
        product=product,
        rate_type="SUBSCRIPTION",
        price=Decimal(1000),
        billing_frequency="MONTHLY",
        starting_at=START,
    )
    fixed = Product.objects.create(name=f"Pool {tag}", type="FIXED")

    def term(kind: str, allocation: str):
        return services.RecurringSpec(
            kind=kind,
            product=fixed,
            starting_at=START,
            access_unit_price=Decimal(10000),
            invoice_unit_price=Decimal(10000) if kind == "COMMIT" else None,
            invoice_quantity=Decimal(1) if kind == "COMMIT" else None,
            subscription="seats",
            allocation=allocation,
        )

    return services.contract_create(
        customer=Customer.objects.create(name=f"Acme {tag}"),
        rate_card=card,
        starting_at=START,
        now=NOW,
        subscriptions=[
            services.SubscriptionSpec(
                product=product,
                billing_frequency="MONTHLY",
                quantity_management_mode="SEAT_BASED",
                seat_group_key="user_id",
                initial_seat_ids=[f"u{i}" for i in range(seats)],
                temporary_id="seats",
            )
        ],
        recurring_credits=[term("CREDIT", "INDIVIDUAL")],
        recurring_commits=[term("COMMIT", "POOLED")],
    )


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000


def run() -> None:
    import django

    django.setup()
    from customers import services
    from customers.models import Commit, Credit

    for seats in (10, 100, 500):
        began = time.perf_counter()
        contract = _contract(seats, f"s{seats}")
        made = _ms(began)
        subscription = contract.subscriptions.get()
        edits = []
        for run in range(RUNS):
            began = time.perf_counter()
            services.contract_edit(
                contract=contract,
                now=NOW,
                update_subscriptions=[
                    services.SubscriptionUpdate(
                        id=str(subscription.pk),
                        add_seat_ids=[{"seat_ids": [f"new{run}"], "starting_at": APR_11}],
                    )
                ],
            )
            edits.append(_ms(began))
        idle = []
        for _ in range(RUNS):
            began = time.perf_counter()
            services.recurring_balances_materialize(contract=contract, now=NOW)
            idle.append(_ms(began))
        pool = Commit.objects.get(
            contract=contract, recurrence_start=datetime(2026, 4, 1, tzinfo=UTC)
        )
        print(
            f"{seats:>4} seats, {Credit.objects.filter(contract=contract).count():>5} per-seat "
            f"credits: contract made in {made:8.1f} ms; edit adding a seat p50 "
            f"{statistics.median(edits):7.1f} ms (max {max(edits):7.1f}); idle materialize p50 "
            f"{statistics.median(idle):7.1f} ms (max {max(idle):7.1f}); April's pool "
            f"{sum(s.amount for s in pool.access_schedule.all()).normalize():f} in "
            f"{pool.access_schedule.count()} segments",
            flush=True,
        )


def main() -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _support import rerun_on_fresh_database

    return rerun_on_fresh_database(__file__, CHILD, sqlite="--sqlite" in sys.argv)


if __name__ == "__main__":
    if os.environ.get(CHILD):
        run()
    else:
        sys.exit(main())
