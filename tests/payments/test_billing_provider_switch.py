"""A v2 edit's add_billing_provider_configuration_update switches a contract's Stripe
configuration from a billing period on: an invoice whose period starts before goes to the old
Stripe customer, one whose period starts at or after it to the new one (the hand-off reads the
configuration in effect at the start of the invoice's period), against the fake Stripe."""

from datetime import UTC, datetime, timedelta

import pytest

from customers.models import ContractConfigurationChange, ContractEdit
from customers.services import ConfigurationChangeSpec, contract_edit
from payments.models import InvoicePayment
from payments.services import invoice_payment_queue, invoice_payments_send_due

from .conftest import FINALIZED_AT, finalized_invoice, stripe_config

MID_MARCH = datetime(2026, 3, 15, tzinfo=UTC)
DUE = FINALIZED_AT + timedelta(days=40)


def _switch(contract, config, effective_at: str) -> None:
    contract_edit(
        contract=contract,
        now=MID_MARCH,
        configuration_changes=[
            ConfigurationChangeSpec(
                kind=ContractConfigurationChange.Kind.BILLING_PROVIDER,
                configuration=config,
                effective_at=effective_at,
                key="add_billing_provider_configuration_update",
            )
        ],
    )


def _sent_to(invoice, fake_stripe) -> str:
    fake_stripe.calls.clear()
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    assert invoice_payments_send_due(now=DUE).sent == 1
    (create,) = [c for c in fake_stripe.calls if c.path == "/v1/invoices"]
    return create.params["customer"]


def _month(contract, month: int, number: int):
    """A finalized usage invoice of `month` 2026 (made before the edit, whose drafts would
    take its place otherwise)."""
    invoice = finalized_invoice(contract, number=number)
    invoice.start_timestamp = datetime(2026, month, 1, tzinfo=UTC)
    invoice.end_timestamp = datetime(2026, month + 1, 1, tzinfo=UTC)
    invoice.save(update_fields=["start_timestamp", "end_timestamp"])
    return invoice


@pytest.mark.django_db
def test_from_the_current_period_its_invoices_go_to_the_new_configuration(connection, fake_stripe):
    contract = finalized_invoice(number=1).contract
    contract.invoices.all().delete()
    february = _month(contract, 2, 1)
    march = _month(contract, 3, 2)
    new = stripe_config(contract.customer, stripe_customer="cus_New456")
    _switch(contract, new, "START_OF_CURRENT_PERIOD")

    (change,) = ContractConfigurationChange.objects.all()
    assert change.effective_at == datetime(2026, 3, 1, tzinfo=UTC)
    edit = ContractEdit.objects.get()
    assert edit.changes["add_billing_provider_configuration_update"] == [str(change.pk)]
    assert _sent_to(february, fake_stripe) == "cus_Acme123"
    assert _sent_to(march, fake_stripe) == "cus_New456"
    assert InvoicePayment.objects.get(invoice=march).billing_provider_configuration_id == new.pk


@pytest.mark.django_db
def test_from_the_next_period_the_current_invoice_stays_with_the_old_one(connection, fake_stripe):
    contract = finalized_invoice(number=1).contract
    contract.invoices.all().delete()
    april = _month(contract, 4, 2)
    march = _month(contract, 3, 1)
    new = stripe_config(contract.customer, stripe_customer="cus_New456")
    _switch(contract, new, "START_OF_NEXT_PERIOD")

    assert ContractConfigurationChange.objects.get().effective_at == datetime(
        2026, 4, 1, tzinfo=UTC
    )
    assert _sent_to(march, fake_stripe) == "cus_Acme123"
    assert _sent_to(april, fake_stripe) == "cus_New456"
