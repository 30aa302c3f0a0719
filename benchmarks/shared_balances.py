"""Shared balances benchmark (run by `make bench`, or `python benchmarks/shared_balances.py
[--sqlite]`): what the draw order costs when several contracts draw one balance.

Two worlds per N (1, 10, 50 contracts, 20 events each in March):
- shared: one customer, N contracts, one customer-level credit they all draw;
- own: N customers, one contract each, each with a commit of its own (the common case: no other
  draft shares it, so a draft read takes no turn and runs no extra query).
Printed, per N and world: the p50 and max of reading the last contract's draft (`invoice_view`:
in the shared world it rates the N - 1 drafts before it, once), of the balance now
(`balances_now`: every draft rated once, in draw order), and the time to finalize the N March
invoices in one `invoices_finalize_due` run (each in its turn: the drafts before it are
finalized already, so nothing is rated twice). Nothing is asserted. A throw-away database
(`benchmarks/_support.database`: PostgreSQL unless --sqlite).
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
CHILD = "BENCH_SHARED_BALANCES_CHILD"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
READS = 5


def _world(contracts: int, tag: str, *, shared: bool):
    from catalog.models import BillableMetric, Product, Rate, RateCard
    from catalog.money import USD_CENTS_ID
    from customers.models import AccessSegment, Commit, Contract, Credit, Customer
    from invoicing.services import contracts_drafts_ensure
    from metering.services import usage_events_ingest

    fixed = Product.objects.create(name=f"Balance {tag}", type="FIXED")
    customer = Customer.objects.create(name=f"customer-{tag}") if shared else None
    made, balances = [], []
    for index in range(contracts):
        # Each contract bills its own event type: one customer's contracts bill apart.
        metric = BillableMetric.objects.create(
            name=f"Calls {tag}-{index}",
            aggregation_type="COUNT",
            event_type_filter={"in_values": [f"call-{tag}-{index}"]},
        )
        product = Product.objects.create(
            name=f"Calls {tag}-{index}", type="USAGE", billable_metric=metric
        )
        card = RateCard.objects.create(name=f"Card {tag}-{index}", fiat_credit_type_id=USD_CENTS_ID)
        Rate.objects.create(
            rate_card=card, product=product, rate_type="FLAT", price=Decimal(100), starting_at=MARCH
        )
        owner = customer or Customer.objects.create(name=f"customer-{tag}-{index}")
        contract = Contract.objects.create(customer=owner, rate_card=card, starting_at=MARCH)
        made.append(contract)
        if not shared:
            commit = Commit.objects.create(
                customer=owner, contract=contract, product=fixed, priority=Decimal(1)
            )
            AccessSegment.objects.create(
                commit=commit, amount=Decimal(1000), starting_at=MARCH, ending_before=APRIL
            )
            balances.append(commit)
        usage_events_ingest(
            events=[
                {
                    "transaction_id": str(uuid.uuid4()),
                    "customer_id": str(owner.pk),
                    "event_type": f"call-{tag}-{index}",
                    "timestamp": (MARCH + timedelta(hours=hour)).isoformat(),
                    "properties": {},
                }
                for hour in range(20)
            ],
            now=MARCH + timedelta(days=2),
        )
    if shared:
        credit = Credit.objects.create(customer=customer, product=fixed, priority=Decimal(1))
        AccessSegment.objects.create(
            credit=credit,
            amount=Decimal(contracts * 1000),
            starting_at=MARCH,
            ending_before=APRIL,
        )
        balances.append(credit)
    contracts_drafts_ensure(contracts=made, now=MARCH + timedelta(days=2))
    return balances[-1], max(made, key=lambda contract: str(contract.pk))


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
    from invoicing.services import invoices_finalize_due

    now = MARCH + timedelta(days=3)
    for contracts in (1, 10, 50):
        for shared in (True, False):
            tag = f"{'shared' if shared else 'own'}{contracts}"
            balance, last = _world(contracts, tag, shared=shared)
            draft = Invoice.objects.get(contract=last, type="USAGE", start_timestamp=MARCH)
            view = _timed(lambda draft=draft: invoice_view(invoice=draft, now=now))
            held = _timed(lambda balance=balance: balances_now(balances=[balance], now=now))
            # Only this world's March drafts are due (earlier worlds' are finalized already).
            began = time.perf_counter()
            finalized = invoices_finalize_due(now=APRIL + timedelta(days=2))
            finalize_ms = (time.perf_counter() - began) * 1000
            print(
                f"{contracts:>3} contracts, {'one shared credit' if shared else 'own commits  '}:"
                f" last draft p50 {statistics.median(view):7.1f} ms (max {max(view):7.1f});"
                f" balance p50 {statistics.median(held):7.1f} ms (max {max(held):7.1f});"
                f" finalizing {finalized} invoices {finalize_ms:7.1f} ms"
                f" ({finalize_ms / max(finalized, 1):5.1f} ms each)",
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
