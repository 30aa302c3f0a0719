"""Finalizing a batch of invoices costs the same SQL statements whatever the batch's size.

Each contract has a prepaid commit and a credit (their draws go to the ledger), an override, a
Stripe billing provider configuration (payments queues the hand-off) and a revenue system
configuration (carried in `invoice.finalized`); audit, dashboards and payments react to each
invoice. Everything per invoice is read and written for the whole batch at once: the statements
of 5 invoices and of 20 are the same (the per-invoice constant is 0), so an N+1 that comes back
fails this. Counted at the driver (`tests.statements`), the outbox's reactions after commit and
PostgreSQL's COPY included, on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from audit.models import AuditEntry
from core.models import DomainEvent
from customers.models import BalanceLedgerEntry
from dashboards.models import FrozenDocument
from invoicing.models import Invoice
from invoicing.services import contracts_drafts_ensure, invoices_finalize_due
from payments.models import InvoicePayment
from tests.customers.factories import (
    AccessSegmentFactory,
    BillingProviderConfigurationFactory,
    CommitFactory,
    CreditFactory,
    CustomerFactory,
    OverrideFactory,
    RevenueSystemConfigurationFactory,
)
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    ingest,
)
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
DUE = datetime(2026, 4, 3, tzinfo=UTC)
# The statements of finalizing one batch (up to 100 invoices), whatever its size. Each read or
# write a regression adds per invoice fails the equality below; this bound catches one added
# per batch. 62 = finfast's 60 + the shared draw order's two (the balance segments' lock and
# one read of the drafts that may share a balance with the batch's).
MOST_STATEMENTS = 62


@pytest.fixture
def offering():
    metric = BillableMetricFactory(group_keys=[["model_name"]])
    product = ProductFactory(
        billable_metric=metric, pricing_group_key=["model_name"], tags=["tokens"]
    )
    card = RateCardFactory()
    for index, price in enumerate(("100", "250", "400")):
        RateFactory(
            rate_card=card,
            product=product,
            price=Decimal(price),
            pricing_group_values={"model_name": f"model-{index}"},
        )
    return card


def _contracts(card, count: int, tag: str) -> list:
    """`count` contracts with terms, drafts for March, and 30 tokens of each model in March."""
    contracts = []
    for index in range(count):
        customer = CustomerFactory(name=f"{tag}-{index}")
        contract = ContractFactory(
            customer=customer,
            rate_card=card,
            starting_at=START,
            billing_provider_configuration=BillingProviderConfigurationFactory(customer=customer),
            revenue_system_configuration=RevenueSystemConfigurationFactory(customer=customer),
        )
        commit = CommitFactory(contract=contract, customer=customer)
        AccessSegmentFactory(commit=commit, amount=Decimal("5000"), starting_at=START)
        credit = CreditFactory(contract=contract, customer=customer)
        AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("1000"), starting_at=START)
        OverrideFactory(contract=contract, starting_at=START)
        contracts.append(contract)
    contracts_drafts_ensure(contracts=contracts, now=START)
    ingest(
        [
            {
                "transaction_id": f"{tag}-{index}-{model}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-10T10:00:00Z",
                "properties": {"model_name": f"model-{model}", "num_tokens": "10"},
            }
            for index, contract in enumerate(contracts)
            for model in range(3)
        ],
        now=datetime(2026, 3, 10, 11, tzinfo=UTC),
    )
    return contracts


def _finalized_counting_statements(contracts) -> int:
    """The statements finalizing these contracts' drafts sends, a bulk INSERT that SQLite splits
    by its 999-parameter limit (33 invoice lines a statement) counted once."""
    ContentType.objects.get_for_model(Invoice)  # cached by the process after its first read
    with statements_sent() as sent:
        finalized = invoices_finalize_due(now=DUE)
    assert finalized == len(contracts)
    inserts = [s.split(" VALUES ")[0] for s in sent if s.startswith("INSERT")]
    return len(sent) - len(inserts) + len(set(inserts))


def test_finalizing_20_invoices_costs_the_statements_of_finalizing_5(offering):
    few = _finalized_counting_statements(_contracts(offering, 5, "few"))
    many_contracts = _contracts(offering, 20, "many")
    many = _finalized_counting_statements(many_contracts)

    assert many == few
    assert many <= MOST_STATEMENTS
    # And each of the 20 was finalized and heard in full: 10 tokens at 1.00, 2.50 and 4.00,
    # 10% off (67.50), the $10.00 credit then the $50.00 commit drawn, 7.50 left to pay.
    invoices = Invoice.objects.filter(contract__in=many_contracts, start_timestamp=START)
    assert {(i.status, i.subtotal, i.total) for i in invoices} == {
        ("FINALIZED", Decimal("6750"), Decimal("750"))
    }
    ids = [invoice.pk for invoice in invoices]
    assert (
        DomainEvent.objects.filter(
            type="invoice.finalized", subject_id__in=[str(pk) for pk in ids]
        ).count()
        == 20
    )
    assert AuditEntry.objects.filter(object_pk__in=[str(pk) for pk in ids]).count() == 20
    assert FrozenDocument.objects.filter(invoice__in=ids).count() == 20
    assert InvoicePayment.objects.filter(invoice__in=ids, status="queued").count() == 20
    assert (
        sorted(
            BalanceLedgerEntry.objects.filter(invoice_id__in=ids).values_list("amount", flat=True)
        )
        == [Decimal("-5000")] * 20 + [Decimal("-1000")] * 20
    )


def test_the_reactions_to_a_finalized_batch_write_once_when_run_again(offering):
    from audit.handlers import invoice_finalized as audit_heard
    from dashboards.handlers import invoice_finalized as dashboards_heard
    from payments.handlers import invoice_finalized as payments_heard

    contracts = _contracts(offering, 3, "again")
    invoices_finalize_due(now=DUE)
    events = list(DomainEvent.objects.filter(type="invoice.finalized").order_by("id"))

    for heard in (audit_heard, dashboards_heard, payments_heard):
        heard(events)

    ids = list(
        Invoice.objects.filter(contract__in=contracts, status="FINALIZED").values_list(
            "pk", flat=True
        )
    )
    assert len(events) == len(ids) == 3
    assert AuditEntry.objects.filter(object_pk__in=[str(pk) for pk in ids]).count() == 3
    assert FrozenDocument.objects.filter(invoice__in=ids).count() == 3
    assert InvoicePayment.objects.filter(invoice__in=ids).count() == 3
