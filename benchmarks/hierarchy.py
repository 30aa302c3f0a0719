"""Account hierarchy benchmark (run by `make bench`, or `python benchmarks/hierarchy.py
[--sqlite]`): what a draft read costs when children share a parent's commit.

A parent contract with a prepaid commit shared with ALL its children, and N children (1, 10,
50), each with 20 events in March. Printed, per N: the p50 and max of reading the last child's
draft (`invoice_view`: it rates the drafts that draw before it, the siblings with a smaller
contract id, to know what they took) and of the parent commit's balance now
(`balances_now`: every family draft rated once, in draw order). Then the same family with
its children consolidating onto the parent's invoice (payer PARENT, CONSOLIDATE): the p50 of
reading the consolidated draft (its N constituents rated in one pass of the draw order) and
the time `invoice_finalize` takes to finalize it with its N constituents. Nothing is
asserted. A throw-away database (`benchmarks/_support.database`: PostgreSQL unless --sqlite).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHILD = "BENCH_HIERARCHY_CHILD"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
READS = 5


def _world(children: int, tag: str, consolidate: bool = False):
    from catalog.models import BillableMetric, Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID
    from customers.models import AccessSegment, Commit, Contract, Customer
    from invoicing.services import contracts_drafts_ensure
    from metering.services import usage_events_ingest

    metric = BillableMetric.objects.create(
        name=f"Calls {tag}", aggregation_type="COUNT", event_type_filter={"in_values": ["call"]}
    )
    product = Product.objects.create(name=f"Calls {tag}", type="USAGE", billable_metric=metric)
    card = RateCard.objects.create(name=f"Card {tag}", fiat_credit_type_id=USD_CENTS_ID)
    Rate.objects.create(
        rate_card=card, product=product, rate_type="FLAT", price=Decimal(100), starting_at=MARCH
    )
    fixed = Product.objects.create(name=f"Commit {tag}", type="FIXED")
    parent = Contract.objects.create(
        customer=Customer.objects.create(name=f"parent-{tag}"), rate_card=card, starting_at=MARCH
    )
    commit = Commit.objects.create(
        customer=parent.customer,
        contract=parent,
        product=fixed,
        priority=Decimal(1),
        child_access={"type": "ALL"},
    )
    AccessSegment.objects.create(
        commit=commit, amount=Decimal(children * 1000), starting_at=MARCH, ending_before=APRIL
    )
    kids = [
        Contract.objects.create(
            customer=Customer.objects.create(name=f"child-{tag}-{index}"),
            rate_card=card,
            starting_at=MARCH,
            parent_contract=parent,
            hierarchy_depth=1,
            hierarchy_payer="PARENT" if consolidate else "",
            hierarchy_usage_statement_behavior="CONSOLIDATE" if consolidate else "",
        )
        for index in range(children)
    ]
    for kid in kids:
        usage_events_ingest(
            events=[
                {
                    "transaction_id": str(uuid.uuid4()),
                    "customer_id": str(kid.customer_id),
                    "event_type": "call",
                    "timestamp": (MARCH + timedelta(hours=index)).isoformat(),
                    "properties": {},
                }
                for index in range(20)
            ],
            now=MARCH + timedelta(days=2),
        )
    contracts_drafts_ensure(contracts=[parent, *kids], now=MARCH + timedelta(days=2))
    return commit, max(kids, key=lambda kid: str(kid.pk)), parent


def _timed(read) -> list[float]:
    times = []
    for _ in range(READS):
        began = time.perf_counter()
        read()
        times.append((time.perf_counter() - began) * 1000)
    return times


def run() -> None:
    import django

    django.setup()
    from invoicing.models import Invoice
    from invoicing.selectors import balances_now, invoice_view
    from invoicing.services import invoice_finalize

    now = MARCH + timedelta(days=3)
    for children in (1, 10, 50):
        commit, last, _ = _world(children, f"n{children}")
        draft = Invoice.objects.get(contract=last, type="USAGE", start_timestamp=MARCH)
        view = _timed(lambda draft=draft: invoice_view(invoice=draft, now=now))
        balance = _timed(lambda commit=commit: balances_now(balances=[commit], now=now))
        left = balances_now(balances=[commit], now=now)[commit.pk]
        print(
            f"{children:>3} children: last child's draft p50 {statistics.median(view):7.1f} ms "
            f"(max {max(view):7.1f}); parent commit balance p50 "
            f"{statistics.median(balance):7.1f} ms (max {max(balance):7.1f}); "
            f"left {left.normalize():f} of {children * 1000} (each child draws 20 x 100 = 2000)",
            flush=True,
        )
    for children in (1, 10, 50):
        _, _, parent = _world(children, f"c{children}", consolidate=True)
        head = Invoice.objects.get(contract=parent, type="USAGE_CONSOLIDATED")
        view = _timed(lambda head=head: invoice_view(invoice=head, now=now))
        total = invoice_view(invoice=head, now=now).total
        began = time.perf_counter()
        head = invoice_finalize(invoice=head, now=APRIL + timedelta(days=2)).invoice
        spent = (time.perf_counter() - began) * 1000
        finalized = 1 + head.constituents.count()
        print(
            f"{children:>3} consolidating children: consolidated draft p50 "
            f"{statistics.median(view):7.1f} ms (max {max(view):7.1f}), total "
            f"{total.normalize():f}; finalizing {finalized} invoices {spent:7.1f} ms, "
            f"consolidated total {head.total.normalize():f}",
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
