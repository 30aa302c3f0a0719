"""Account hierarchies in Stripe: a child with payer PARENT is billed to its parent's Stripe
customer (the child's own Stripe customer is never charged); payer SELF stays the child's."""

from datetime import timedelta

import pytest
from django.db import transaction

from core import outbox
from payments.models import InvoicePayment
from payments.services import invoice_payments_send_due
from tests.invoicing.factories import ContractFactory

from .conftest import FINALIZED_AT, finalized_invoice, stripe_config

DUE = FINALIZED_AT + timedelta(hours=1)


def _finalized_event(invoice):
    with transaction.atomic():
        outbox.record(
            type="invoice.finalized",
            subject_id=invoice.pk,
            occurred_at=FINALIZED_AT,
            customer_id=invoice.customer_id,
            payload={"invoice_id": str(invoice.pk)},
        )


def _with_stripe(contract, stripe_customer):
    contract.billing_provider_configuration = stripe_config(contract.customer, stripe_customer)
    contract.billing_provider = "stripe"
    contract.save()
    return contract


@pytest.fixture
def family(db):
    parent = _with_stripe(ContractFactory(), "cus_Parent")
    child = ContractFactory(parent_contract=parent, hierarchy_payer="PARENT")
    return parent, _with_stripe(child, "cus_Child")


@pytest.mark.django_db
def test_a_child_paid_by_its_parent_is_charged_to_the_parents_stripe_customer(
    connection, family, fake_stripe
):
    parent, child = family
    invoice = finalized_invoice(child, totals=("1500", "-250"))
    _finalized_event(invoice)
    payment = InvoicePayment.objects.get(invoice=invoice)
    assert payment.provider_customer_id == "cus_Parent"
    counts = invoice_payments_send_due(now=DUE)
    assert counts.sent == 1
    (create,) = [call for call in fake_stripe.calls if call.path == "/v1/invoices"]
    assert create.params["customer"] == "cus_Parent"
    assert create.params["metadata"]["customer_id"] == str(child.customer_id)
    assert create.params["metadata"]["payer_customer_id"] == str(parent.customer_id)
    stripe_customers = {
        stripe_invoice["customer"] for stripe_invoice in fake_stripe.invoices.values()
    }
    assert stripe_customers == {"cus_Parent"}
    assert fake_stripe.invoices[InvoicePayment.objects.get().external_id]["total"] == 1250


@pytest.mark.django_db
def test_a_child_paying_for_itself_is_charged_to_its_own_stripe_customer(
    connection, family, fake_stripe
):
    _, child = family
    child.hierarchy_payer = "SELF"
    child.save()
    invoice = finalized_invoice(child, totals=("700",))
    _finalized_event(invoice)
    invoice_payments_send_due(now=DUE)
    assert {i["customer"] for i in fake_stripe.invoices.values()} == {"cus_Child"}


@pytest.mark.django_db
def test_a_child_paid_by_a_parent_without_stripe_is_not_sent(connection, family, fake_stripe):
    """The parent's configuration decides, not the child's: nothing to send to."""
    parent, child = family
    parent.billing_provider_configuration = None
    parent.billing_provider = ""
    parent.save()
    _finalized_event(finalized_invoice(child, totals=("700",)))
    assert not InvoicePayment.objects.exists()
    assert fake_stripe.calls == []
