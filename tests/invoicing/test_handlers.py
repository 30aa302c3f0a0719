"""Invoicing hears customers through the outbox: drafts follow contracts, and finalization and
voids keep `Contract.billed_through` and record their own events."""

from datetime import UTC, datetime, timedelta

import pytest

from core import outbox
from core.models import DomainEvent, DomainEventHandling
from customers import services
from customers.models import Contract
from invoicing import handlers
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from tests.invoicing.factories import ContractFactory, CustomerFactory, RateCardFactory

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _create(**kwargs) -> Contract:
    return services.contract_create(
        customer=kwargs.pop("customer", None) or CustomerFactory(),
        rate_card=RateCardFactory(),
        starting_at=t(2026, 1, 1),
        now=t(2026, 1, 10),
        **kwargs,
    )


def test_contract_create_records_its_event_and_invoicing_makes_the_draft():
    contract = _create()

    event = DomainEvent.objects.get(type="contract.create", subject_id=str(contract.pk))
    assert event.customer_id == contract.customer_id
    assert event.occurred_at == t(2026, 1, 10)
    assert event.payload == {
        "contract_id": str(contract.pk),
        "customer_id": str(contract.customer_id),
        "transition_from_contract_id": None,
    }
    handling = DomainEventHandling.objects.get(event=event)
    assert handling.handler == "invoicing.handlers.contract_created"
    assert handling.done_at is not None
    assert Invoice.objects.get(contract=contract).start_timestamp == t(2026, 1, 1)


def test_a_contract_is_created_even_when_its_drafts_fail_and_the_retry_makes_them_once(
    monkeypatch,
):
    real = handlers.contract_drafts_ensure

    def down(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(handlers, "contract_drafts_ensure", down)
    contract = _create()

    assert Contract.objects.filter(pk=contract.pk).exists()
    assert not Invoice.objects.filter(contract=contract).exists()
    handling = DomainEventHandling.objects.get(event__type="contract.create")
    assert handling.done_at is None

    monkeypatch.setattr(handlers, "contract_drafts_ensure", real)
    due = handling.next_attempt_at + timedelta(seconds=1)
    assert outbox.dispatch_due(now=due) == 1
    assert outbox.dispatch_due(now=due + timedelta(hours=2)) == 0

    assert Invoice.objects.filter(contract=contract).count() == 1


def test_archiving_with_void_invoices_voids_through_the_event():
    contract = _create()
    draft = Invoice.objects.get(contract=contract)
    invoicing_services.invoice_finalize(invoice=draft, now=t(2026, 2, 3), ensure_next=False)

    services.contract_archive(
        contract=Contract.objects.get(pk=contract.pk), void_invoices=True, now=t(2026, 2, 4)
    )

    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.VOID
    assert DomainEvent.objects.filter(type="contract.archive").get().payload["void_invoices"]


def test_finalize_moves_billed_through_and_records_invoice_finalized():
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    invoicing_services.contract_drafts_ensure(contract=contract, now=t(2026, 2, 10))
    january = Invoice.objects.get(contract=contract, start_timestamp=t(2026, 1, 1))

    invoicing_services.invoice_finalize(invoice=january, now=t(2026, 2, 3))

    contract.refresh_from_db()
    assert contract.billed_through == t(2026, 2, 1)
    event = DomainEvent.objects.get(type="invoice.finalized")
    january.refresh_from_db()
    assert event.subject_id == str(january.pk)
    assert event.payload["number"] == january.number
    assert event.occurred_at == t(2026, 2, 3)


def test_void_moves_billed_through_back_to_the_latest_invoice_still_finalized():
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    invoicing_services.contract_drafts_ensure(contract=contract, now=t(2026, 3, 10))
    for month in (1, 2):
        draft = Invoice.objects.get(contract=contract, start_timestamp=t(2026, month, 1))
        invoicing_services.invoice_finalize(invoice=draft, now=t(2026, 3, 3), ensure_next=False)
    february = Invoice.objects.get(contract=contract, start_timestamp=t(2026, 2, 1))

    invoicing_services.invoice_void(invoice=february, now=t(2026, 3, 4))

    contract.refresh_from_db()
    assert contract.billed_through == t(2026, 2, 1)
    assert DomainEvent.objects.filter(type="invoice.voided", subject_id=str(february.pk)).exists()
    # February no longer counts as billed: the contract may now end when January ends.
    services.contract_update_end_date(
        contract=contract, ending_before=t(2026, 2, 1), now=t(2026, 3, 5)
    )
