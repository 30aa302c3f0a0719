"""Two workers finalizing at once: each invoice finalized once, numbers without gaps (PostgreSQL)."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, connections

from customers.models import ScheduledCharge, ScheduledChargeItem
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize, invoices_finalize_due
from tests.invoicing.factories import ContractFactory, ProductFactory, RateFactory, ingest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no race to test")


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_together(target, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_two_workers_finalizing_the_same_invoice_finalize_it_once():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    draft = Invoice.objects.get(contract=contract)
    outcomes = run_together(lambda: invoice_finalize(invoice=draft, now=t(2026, 4, 3)), 4)
    assert sorted(outcome.finalized for outcome in outcomes) == [False, False, False, True]
    assert {outcome.invoice.number for outcome in outcomes} == {1}
    assert Invoice.objects.filter(status="FINALIZED").count() == 1


def test_two_workers_finalizing_due_drafts_number_them_without_gaps_or_duplicates():
    for _ in range(12):
        contract = ContractFactory(starting_at=t(2026, 2, 1))
        contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    counts = run_together(lambda: invoices_finalize_due(now=t(2026, 4, 5)), 2)
    assert sum(counts) == 24
    numbers = sorted(Invoice.objects.filter(status="FINALIZED").values_list("number", flat=True))
    assert numbers == list(range(1, 25))
    assert Invoice.objects.filter(status="DRAFT").count() == 12


def test_two_workers_finalize_usage_and_scheduled_invoices_once_with_one_gap_free_numbering():
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Onboarding")
    for _ in range(8):
        contract = ContractFactory(starting_at=t(2026, 2, 1))
        charge = ScheduledCharge.objects.create(contract=contract, product=fixed, name="Setup")
        for moment in (t(2026, 2, 10), t(2026, 3, 1), t(2026, 3, 20)):
            ScheduledChargeItem.objects.create(
                scheduled_charge=charge, timestamp=moment, amount=Decimal("100")
            )
        contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    assert Invoice.objects.filter(type="SCHEDULED", status="DRAFT").count() == 24

    # Due: February's usage invoices and the Feb 10 and Mar 1 scheduled ones (8 x 3).
    counts = run_together(lambda: invoices_finalize_due(now=t(2026, 3, 5)), 2)

    assert sum(counts) == 24
    finalized = Invoice.objects.filter(status="FINALIZED")
    assert sorted(finalized.values_list("number", flat=True)) == list(range(1, 25))
    assert finalized.filter(type="SCHEDULED").count() == 16
    assert Invoice.objects.filter(type="SCHEDULED", status="DRAFT").count() == 8
    assert {i.total for i in finalized.filter(type="SCHEDULED")} == {Decimal("100")}


def test_workers_finalizing_consolidated_lots_at_once_make_one_consolidated_invoice_each():
    """Three families of a parent and three consolidating children; two workers finalize the
    due drafts while a third finalizes each consolidated invoice by hand: every invoice is
    finalized once, each parent has one consolidated invoice whose total is its constituents'."""
    rate = RateFactory(price=Decimal("100"))
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    parents = []
    for family in range(3):
        parent = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 3, 1))
        children = [
            ContractFactory(
                rate_card=rate.rate_card,
                starting_at=t(2026, 3, 1),
                parent_contract=parent,
                hierarchy_depth=1,
                hierarchy_payer="PARENT",
                hierarchy_usage_statement_behavior="CONSOLIDATE",
            )
            for _ in range(3)
        ]
        for contract in (parent, *children):
            contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
        ingest(
            [
                {
                    "transaction_id": f"{family}-{index}",
                    "customer_id": str(child.customer_id),
                    "event_type": "tokens_usage",
                    "timestamp": "2026-03-10T00:00:00Z",
                    "properties": {"num_tokens": str(index + 1)},
                }
                for index, child in enumerate(children)
            ],
            now=t(2026, 3, 20),
        )
        parents.append(parent)
    heads = list(Invoice.objects.filter(type="USAGE_CONSOLIDATED"))
    assert len(heads) == 3

    def by_hand():
        return [invoice_finalize(invoice=head, now=t(2026, 4, 5)) for head in heads]

    workers = [lambda: invoices_finalize_due(now=t(2026, 4, 5))] * 2 + [by_hand]
    run_together(lambda: workers.pop()(), 3)
    march = Invoice.objects.filter(start_timestamp=t(2026, 3, 1))
    assert set(march.values_list("status", flat=True)) == {"FINALIZED"}
    assert march.count() == 15  # 3 x (parent's own, 3 children's, consolidated)
    numbers = sorted(march.values_list("number", flat=True))
    assert len(set(numbers)) == 15
    for parent in parents:
        (head,) = march.filter(contract=parent, type="USAGE_CONSOLIDATED")
        members = list(head.constituents.all())
        assert len(members) == 3
        assert head.total == sum((m.total for m in members), Decimal(0)) == Decimal("600")
        assert head.line_items.count() == 3
