"""Account hierarchies in Stripe: a child with payer PARENT is billed to its parent's Stripe
customer (the child's own Stripe customer is never charged); payer SELF stays the child's."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from core import outbox
from invoicing.models import Invoice
from invoicing.services import invoice_finalize, invoices_finalize_due
from payments.models import InvoicePayment
from payments.services import invoice_payments_send_due
from tests.customers.test_hierarchy_api import _contract, _tokens
from tests.invoicing.factories import ContractFactory, ProductFactory, RateFactory
from tests.invoicing.test_consolidated_invoices import _child

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


@pytest.mark.django_db
def test_a_consolidated_lot_is_one_charge_to_the_parent(connection, fake_stripe, api_client):
    """Two consolidating children (3 and 9 tokens at $100.00): the constituents are not sent;
    the parent's consolidated invoice is, once, to the parent's Stripe customer: $1,200.00."""
    world = _world()

    def post(path, body):
        return api_client.post(path, body, format="json")

    parent = _contract(post, world)
    _with_stripe(parent, "cus_Parent")
    a, b = _child(post, world, parent), _child(post, world, parent)
    stripe_config(a.customer, "cus_ChildA")  # the children have Stripe customers of their own
    stripe_config(b.customer, "cus_ChildB")
    _tokens(a, 3)
    _tokens(b, 9)
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    consolidated = Invoice.objects.get(
        contract=parent, type="USAGE_CONSOLIDATED", start_timestamp=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert set(InvoicePayment.objects.values_list("invoice_id", flat=True)) >= {consolidated.pk}
    constituents = set(consolidated.constituents.values_list("pk", flat=True))
    assert len(constituents) == 2
    assert not InvoicePayment.objects.filter(invoice_id__in=constituents).exists()
    invoice_payments_send_due(now=datetime(2026, 4, 3, 2, tzinfo=UTC))
    sent = [i for i in fake_stripe.invoices.values() if i["total"]]
    assert [(i["customer"], i["total"]) for i in sent] == [("cus_Parent", 120000)]
    items = [c.params["description"] for c in fake_stripe.calls if c.path == "/v1/invoiceitems"]
    assert sorted(items) == sorted([f"Tokens · {a.customer.name}", f"Tokens · {b.customer.name}"])
    assert not {"cus_ChildA", "cus_ChildB"} & {i["customer"] for i in fake_stripe.invoices.values()}


def _world():
    rate = RateFactory(price=Decimal("10000"), product__name="Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commit product")
    return {"card": str(rate.rate_card_id), "fixed": str(fixed.pk)}


@pytest.mark.django_db
def test_a_statement_finalized_before_its_lot_is_sent_once_the_lot_is_cancelled(
    connection, fake_stripe, api_client
):
    """A's $300.00 statement finalized by hand on the consolidated draft is not sent (a
    constituent); the parent archived cancels the draft: A's statement is sent on its own, to
    the parent's Stripe customer (`invoice.unconsolidated`)."""
    world = _world()

    def post(path, body):
        return api_client.post(path, body, format="json")

    parent = _contract(post, world)
    _with_stripe(parent, "cus_Parent")
    a, _ = _child(post, world, parent), _child(post, world, parent)
    _tokens(a, 3)
    statement = Invoice.objects.get(
        contract=a, type="USAGE", start_timestamp=datetime(2026, 3, 1, tzinfo=UTC)
    )
    invoice_finalize(invoice=statement, now=datetime(2026, 4, 3, tzinfo=UTC))
    assert not InvoicePayment.objects.exists()
    body = {"customer_id": str(parent.customer_id), "contract_id": str(parent.pk)}
    assert post("/v1/contracts/archive", {**body, "void_invoices": False}).status_code == 200
    payment = InvoicePayment.objects.get()
    assert (payment.invoice_id, payment.provider_customer_id) == (statement.pk, "cus_Parent")
    invoice_payments_send_due(now=payment.send_after)
    assert [(i["customer"], i["total"]) for i in fake_stripe.invoices.values()] == [
        ("cus_Parent", 30000)
    ]
