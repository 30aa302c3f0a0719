"""STRIPE-gated threshold commits, by hand, against the fake Stripe: a gated purchase is charged
at once (a Stripe invoice, charged automatically, with the integrator's metadata; or a
PaymentIntent, off-session, on the customer's default payment method) and holds nothing until
Stripe says it is paid; a failure voids the commit and its invoice, and the evaluation buys
again after a cool-down."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone

from core.models import DomainEvent
from customers.models import Commit, Contract, PaymentGate
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.threshold_billing import contract_thresholds_check
from payments.models import InvoicePayment
from payments.services import invoice_payments_send_due
from tests.api.conftest import data
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    usd_cents,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest

from .conftest import SIGNING, stripe_config


@pytest.fixture
def world(db, connection, fake_stripe):
    usd_cents()
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[],
    )
    card = RateCardFactory()
    now = timezone.now()
    RateFactory(
        rate_card=card,
        product=ProductFactory(name="Tokens", billable_metric=metric),
        price=Decimal(2),
        starting_at=now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
    )
    customer = CustomerFactory()
    stripe_config(customer)  # send_invoice: a gated commit is charged automatically anyway
    return {"customer": customer, "card": card, "fixed": ProductFactory(fixed=True)}


def _recharge_contract(api_client, world, stripe_gate: dict) -> Contract:
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    response = api_client.post(
        "/v1/contracts/create",
        {
            "customer_id": str(world["customer"].pk),
            "rate_card_id": str(world["card"].pk),
            "starting_at": start.isoformat(),
            "prepaid_balance_threshold_configuration": {
                "commit": {"product_id": str(world["fixed"].pk), "name": "Top-up"},
                "is_enabled": True,
                "threshold_amount": 1000,
                "recharge_to_amount": 5000,
                "payment_gate_config": {
                    "payment_gate_type": "STRIPE",
                    "stripe_config": stripe_gate,
                },
            },
        },
        format="json",
    )
    return Contract.objects.get(pk=data(response)["id"])


def _tokens(world, tokens: str, transaction_id: str = "t1"):
    now = timezone.now()
    ingest(
        [
            {
                "transaction_id": transaction_id,
                "customer_id": str(world["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": now.replace(minute=0, second=0, microsecond=0).isoformat(),
                "properties": {"num_tokens": tokens},
            }
        ],
        now=now,
    )


def _draft(contract) -> Invoice:
    return Invoice.objects.get(contract=contract, type="USAGE", status="DRAFT")


def _stripe_event(client, type_: str, obj: dict, event_id: str):
    body = {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "data": {"object": obj},
    }
    payload = json.dumps(body)
    header = stripe.WebhookSignature.generate_signature_header(payload, SIGNING)
    response = client.post(
        "/webhooks/stripe", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 200, response.content


def test_recharge_gated_by_a_stripe_invoice_is_drawn_only_after_invoice_paid(
    api_client, client, world, fake_stripe
):
    contract = _recharge_contract(
        api_client, world, {"payment_type": "INVOICE", "invoice_metadata": {"po": "PO-42"}}
    )
    gate = PaymentGate.objects.get(contract=contract)
    assert (gate.status, gate.amount, gate.payment_type) == ("PENDING", Decimal(5000), "INVOICE")
    # 100 tokens at 2: 200 owed, none of it drawn from the pending 5000.
    _tokens(world, "100")
    assert invoice_view(invoice=_draft(contract), now=timezone.now()).total == Decimal(200)
    # Charged at once (a worker task queued when it was bought; tests run tasks in line),
    # automatically, whatever the customer's collection method.
    payment = InvoicePayment.objects.get(invoice_id=gate.invoice_id)
    assert (payment.payment_gate_id, payment.collection_method) == (gate.pk, "charge_automatically")
    assert payment.send_after == gate.created_at
    assert invoice_payments_send_due(now=timezone.now()).sent == 0  # nothing left to send
    (created,) = fake_stripe.made("/v1/invoices", "POST")[:1]
    assert created.params["collection_method"] == "charge_automatically"
    assert created.params["metadata"] == {
        "po": "PO-42",
        "invoice_id": str(gate.invoice_id),
        "invoice_number": str(Invoice.objects.get(pk=gate.invoice_id).number),
        "customer_id": str(contract.customer_id),
        "contract_id": str(contract.pk),
        "workflow_id": str(gate.pk),
    }
    assert [i["amount"] for i in fake_stripe.items.values()] == [5000]
    payment.refresh_from_db()
    assert payment.status == "sent"
    # Stripe says paid: the commit is released and the draft draws it at once.
    _stripe_event(client, "invoice.paid", {"id": payment.external_id, "object": "invoice"}, "e1")
    gate.refresh_from_db()
    assert (gate.status, gate.resolved_by) == ("PAID", "stripe")
    assert invoice_view(invoice=_draft(contract), now=timezone.now()).total == Decimal(0)
    assert [e.payload["payment_status"] for e in _statuses()] == ["paid"]


def _statuses():
    return DomainEvent.objects.filter(type="payment_gate.payment_status").order_by("id")


def test_a_failed_stripe_invoice_voids_the_commit_and_the_next_evaluation_buys_again(
    api_client, client, world, fake_stripe
):
    contract = _recharge_contract(api_client, world, {"payment_type": "INVOICE"})
    gate = PaymentGate.objects.get(contract=contract)
    invoice_payments_send_due(now=timezone.now())
    payment = InvoicePayment.objects.get(invoice_id=gate.invoice_id)
    _stripe_event(
        client, "invoice.payment_failed", {"id": payment.external_id, "object": "invoice"}, "e1"
    )
    gate.refresh_from_db()
    assert gate.status == "FAILED"
    assert Commit.objects.get(pk=gate.commit_id).archived_at is not None
    assert Invoice.objects.get(pk=gate.invoice_id).status == "VOID"
    assert [e.payload["payment_status"] for e in _statuses()] == ["failed"]
    # Our void reaches Stripe: its invoice is voided there too.
    payment.refresh_from_db()
    assert payment.void_requested_at is not None
    invoice_payments_send_due(now=timezone.now())
    assert fake_stripe.invoices[payment.external_id]["status"] == "void"
    # The balance is still below the threshold: the evaluation buys again once the hour of
    # cool-down after a failed payment has passed (not 5 minutes later).
    assert contract_thresholds_check(contract=contract, now=timezone.now()) == []
    bought = contract_thresholds_check(contract=contract, now=gate.resolved_at + timedelta(hours=1))
    assert len(bought) == 1
    again = PaymentGate.objects.get(contract=contract, status="PENDING")
    assert again.invoice_id != gate.invoice_id
    assert Invoice.objects.get(pk=again.invoice_id).status == "FINALIZED"


def test_payment_intent_confirmed_at_once_releases_the_commit(api_client, world, fake_stripe):
    contract = _recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    gate = PaymentGate.objects.get(contract=contract)
    _tokens(world, "100")
    (intent,) = fake_stripe.payment_intents.values()
    assert (intent["amount"], intent["payment_method"], intent["off_session"]) == (
        5000,
        "pm_fake_visa",
        True,
    )
    assert intent["metadata"]["workflow_id"] == str(gate.pk)
    assert not fake_stripe.invoices
    payment = InvoicePayment.objects.get(invoice_id=gate.invoice_id)
    assert (payment.status, payment.external_id) == ("paid", intent["id"])
    gate.refresh_from_db()
    assert gate.status == "PAID"
    assert invoice_view(invoice=_draft(contract), now=timezone.now()).total == Decimal(0)


def test_payment_intent_processing_then_succeeded_webhook(api_client, client, world, fake_stripe):
    fake_stripe.payment_intent_outcome = "processing"
    contract = _recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    gate = PaymentGate.objects.get(contract=contract)
    invoice_payments_send_due(now=timezone.now())
    payment = InvoicePayment.objects.get(invoice_id=gate.invoice_id)
    assert payment.status == "sent"
    gate.refresh_from_db()
    assert gate.status == "PENDING"
    obj = {"id": payment.external_id, "object": "payment_intent", "status": "succeeded"}
    _stripe_event(client, "payment_intent.succeeded", obj, "e1")
    gate.refresh_from_db()
    assert gate.status == "PAID"


def test_payment_intent_requiring_action_raises_its_webhook(api_client, client, world, fake_stripe):
    fake_stripe.payment_intent_outcome = "requires_action"
    contract = _recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    gate = PaymentGate.objects.get(contract=contract)
    invoice_payments_send_due(now=timezone.now())
    (event,) = DomainEvent.objects.filter(type="payment_gate.payment_pending_action_required")
    assert event.payload["workflow_id"] == str(gate.pk)
    gate.refresh_from_db()
    assert gate.status == "PENDING"


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("card_declined", "Your card was declined."),
        ("no_payment_method", "no default payment method"),
    ],
)
def test_a_declined_payment_intent_voids_the_commit(
    api_client, world, fake_stripe, problem, reason
):
    if problem == "card_declined":
        fake_stripe.payment_intent_outcome = "card_declined"
    else:
        fake_stripe.without_payment_method.add("cus_Acme123")
    contract = _recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    gate = PaymentGate.objects.get(contract=contract)
    invoice_payments_send_due(now=timezone.now())
    gate.refresh_from_db()
    assert gate.status == "FAILED"
    assert Invoice.objects.get(pk=gate.invoice_id).status == "VOID"
    # The payment failed, then was voided with our invoice (nothing is left to collect).
    assert InvoicePayment.objects.get(invoice_id=gate.invoice_id).status == "voided"
    assert reason in gate.reason
    statuses = DomainEvent.objects.filter(type="invoice.payment_status.updated")
    assert "failed" in [e.payload["payment_status"] for e in statuses]
