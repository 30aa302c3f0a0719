"""Consolidated invoices and their constituents are locked in one order everywhere, the
consolidated row first (PostgreSQL): an archive and a finalization, or two finalization batches
holding each other's constituents, do not deadlock."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from customers.models import Contract
from invoicing.models import Invoice
from invoicing.selectors import RatingPreload
from invoicing.services import (
    _freeze,
    contract_drafts_ensure,
    contract_invoices_archive,
    invoice_finalize,
    invoices_finalize_due,
)
from tests.invoicing.factories import ContractFactory, RateFactory
from tests.invoicing.test_finalize_concurrency import run_together, t

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no lock to cross")


def _family(rate, children: int = 1):
    parent = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 3, 1))
    kids = [
        ContractFactory(
            rate_card=rate.rate_card,
            starting_at=t(2026, 3, 1),
            parent_contract=parent,
            hierarchy_depth=1,
            hierarchy_payer="PARENT",
            hierarchy_usage_statement_behavior="CONSOLIDATE",
        )
        for _ in range(children)
    ]
    for contract in (parent, *kids):
        contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    head = Invoice.objects.get(contract=parent, type="USAGE_CONSOLIDATED")
    return parent, kids, head


@pytest.fixture
def rate(db):
    rate = RateFactory(price=Decimal("100"))
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    return rate


def test_archiving_a_child_while_its_lot_is_finalized_waits_for_it(rate):
    """The finalizer holds the consolidated row; the archive of its only child waits for it
    before it locks the child's draft (which the finalizer then takes): no deadlock."""
    _, (child,), head = _family(rate)
    Contract.objects.filter(pk=child.pk).update(archived_at=t(2026, 4, 4))
    held = threading.Event()

    def finalizer():
        with transaction.atomic():
            list(Invoice.objects.select_for_update().filter(pk=head.pk))
            held.set()
            time.sleep(1)  # the archive reaches its first lock meanwhile
            return "finalize", invoice_finalize(invoice=head, now=t(2026, 4, 5), ensure_next=False)

    def archive():
        held.wait()
        return "archive", contract_invoices_archive(
            contract=child, void_invoices=False, now=t(2026, 4, 5)
        )

    workers = [archive, finalizer]
    results = dict(run_together(lambda: workers.pop()(), 2))
    assert results["finalize"].finalized is True
    assert results["archive"] == {"drafts_cancelled": 0, "voided": 0}
    statement = Invoice.objects.get(contract=child, start_timestamp=t(2026, 3, 1))
    assert (statement.status, statement.consolidated_into_id) == ("FINALIZED", head.pk)
    assert Invoice.objects.get(pk=head.pk).status == "FINALIZED"


def test_two_batches_holding_each_others_constituents_leave_the_consolidated_invoices(rate):
    """Batch 1 holds lot 1's consolidated draft and lot 2's constituent, batch 2 the other way
    round: neither waits for the other's rows; each freezes the constituent it holds and leaves
    its consolidated invoice to the next run, which freezes both."""
    _, (first,), head_1 = _family(rate)
    _, (second,), head_2 = _family(rate)
    own_1 = Invoice.objects.get(contract=first, start_timestamp=t(2026, 3, 1))
    own_2 = Invoice.objects.get(contract=second, start_timestamp=t(2026, 3, 1))
    barrier = threading.Barrier(2)

    def batch(ids):
        def run():
            with transaction.atomic():
                locked = list(
                    Invoice.objects.select_for_update(of=("self",), skip_locked=True)
                    .filter(pk__in=ids)
                    .order_by("type")
                )
                barrier.wait()
                frozen = _freeze(
                    locked,
                    now=t(2026, 4, 5),
                    preload=RatingPreload.for_invoices(locked),
                    wait=False,
                )
                return sorted(str(i.pk) for i in frozen)

        return run

    workers = [batch([head_2.pk, own_1.pk]), batch([head_1.pk, own_2.pk])]
    frozen = run_together(lambda: workers.pop()(), 2)
    assert sorted(frozen) == sorted([[str(own_1.pk)], [str(own_2.pk)]])
    assert set(
        Invoice.objects.filter(pk__in=[head_1.pk, head_2.pk]).values_list("status", flat=True)
    ) == {"DRAFT"}
    assert invoices_finalize_due(now=t(2026, 4, 5)) == 4  # the two heads and the parents' own
    assert set(
        Invoice.objects.filter(pk__in=[head_1.pk, head_2.pk]).values_list("status", flat=True)
    ) == {"FINALIZED"}
