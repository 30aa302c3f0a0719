"""Two finalizations drawing one customer-level credit at once cannot overdraw it (PostgreSQL):
finalization locks the segments its invoices may draw (`services.balance_segments_lock`), so the
second reads the ledger and the drafts as the first left them."""

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from customers.models import BalanceLedgerEntry, Contract
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.customers.factories import AccessSegmentFactory, CreditFactory
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    CustomerFactory,
    ProductFactory,
    RateFactory,
    ingest,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
GRACE = datetime(2026, 4, 1, 12, tzinfo=UTC)  # March is over, its grace period not yet


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no race to test")


def _contract(customer, event_type: str):
    """A contract billing `event_type` events at $1.00 (100 cents) a token."""
    metric = BillableMetricFactory(event_type_filter={"in_values": [event_type]}, group_keys=[])
    rate = RateFactory(product=ProductFactory(billable_metric=metric), price=Decimal("100"))
    contract = ContractFactory(customer=customer, rate_card=rate.rate_card, starting_at=MARCH)
    contract_drafts_ensure(contract=contract, now=datetime(2026, 3, 2, tzinfo=UTC))
    return contract


def _tokens(customer, event_type: str, amount: int, when: datetime) -> None:
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": str(customer.pk),
                "event_type": event_type,
                "timestamp": when.isoformat(),
                "properties": {"num_tokens": str(amount)},
            }
        ],
        now=GRACE,
    )


def test_two_finalizations_of_a_shared_credit_at_once_cannot_overdraw_it():
    """A $1,000.00 customer credit; March usage $700 on the first contract (by id), $600 on the
    second. The second's invoice is finalized (it leaves the first's $700: it draws $300) in a
    transaction held open; meanwhile $200 of late usage reaches the first, and the first's
    invoice is finalized in another thread. That one waits for the second's commit, then finds
    $700 in the ledger: it draws $700 and charges $200, never $900 (which would take the credit
    to -$200)."""
    customer = CustomerFactory()
    kinds = {_contract(customer, kind).pk: kind for kind in ("alpha", "beta")}
    first, second = sorted(Contract.objects.filter(pk__in=kinds), key=lambda c: str(c.pk))
    credit = CreditFactory(contract=None, customer=customer, priority=Decimal(1))
    AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("100000"))
    _tokens(customer, kinds[first.pk], 700, datetime(2026, 3, 10, tzinfo=UTC))
    _tokens(customer, kinds[second.pk], 600, datetime(2026, 3, 10, tzinfo=UTC))
    march = {
        c.pk: Invoice.objects.get(contract=c, type=Invoice.Type.USAGE, start_timestamp=MARCH)
        for c in (first, second)
    }

    frozen, release, errors = threading.Event(), threading.Event(), []
    first_done = threading.Event()

    def finalize_second_and_hold():
        try:
            with transaction.atomic():
                invoice_finalize(invoice=march[second.pk], now=GRACE, ensure_next=False)
                frozen.set()
                release.wait(timeout=30)
        except Exception as error:  # surfaced below
            errors.append(error)
            frozen.set()
        finally:
            connections.close_all()

    def finalize_first():
        try:
            invoice_finalize(invoice=march[first.pk], now=GRACE, ensure_next=False)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            first_done.set()
            connections.close_all()

    holder = threading.Thread(target=finalize_second_and_hold)
    holder.start()
    assert frozen.wait(timeout=30)
    _tokens(customer, kinds[first.pk], 200, datetime(2026, 3, 31, tzinfo=UTC))
    waiter = threading.Thread(target=finalize_first)
    waiter.start()
    # It waits for the segment lock the second's transaction holds.
    assert not first_done.wait(timeout=1.5)
    release.set()
    holder.join(timeout=30)
    waiter.join(timeout=30)
    assert errors == []

    drawn = dict(
        BalanceLedgerEntry.objects.filter(credit=credit).values_list("contract_id", "amount")
    )
    assert drawn == {second.pk: Decimal("-30000"), first.pk: Decimal("-70000")}
    totals = {pk: Invoice.objects.get(pk=invoice.pk).total for pk, invoice in march.items()}
    assert totals == {first.pk: Decimal("20000"), second.pk: Decimal("30000")}
