"""Stripe's webhooks move an invoice's payment status.

`POST /webhooks/stripe` hands the raw body and the `Stripe-Signature` header here; the official
library verifies them with the connection's signing secret (`stripe.Webhook.construct_event`).
`invoice.paid`, `invoice.payment_failed`, `invoice.voided` and `invoice.marked_uncollectible` move
the status of the invoice Stripe names (with the event's time) and raise our own
`invoice.payment_status.updated`. For a gated threshold commit paid by PaymentIntent,
`payment_intent.succeeded` and `payment_intent.payment_failed` do the same; a payment moved to
paid or failed releases or voids the gated commit (`handoff._gate_follow`), and
`invoice.payment_action_required` / `payment_intent.requires_action` raise
`payment_gate.payment_pending_action_required`. Every other event, an invoice we never sent, an event older than
the last one applied, and a replay (an event id already received) are acknowledged and change
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import stripe
from django.db import IntegrityError, transaction

from ..models import InvoicePayment, ProviderEvent
from ..selectors import stripe_account
from .handoff import _move, payment_gate_action_required

Status = InvoicePayment.Status

STATUS_BY_EVENT = {
    "invoice.paid": Status.PAID,
    "invoice.payment_failed": Status.FAILED,
    "invoice.voided": Status.VOIDED,
    "invoice.marked_uncollectible": Status.UNCOLLECTIBLE,
    "payment_intent.succeeded": Status.PAID,
    "payment_intent.payment_failed": Status.FAILED,
}
ACTION_REQUIRED = frozenset({"invoice.payment_action_required", "payment_intent.requires_action"})


class StripeEventRefused(Exception):
    """Not from Stripe (bad or missing signature) or not readable: answered 400, nothing kept."""


def stripe_webhook_receive(
    *, payload: bytes, signature: str | None, now: datetime
) -> ProviderEvent | None:
    """Verify and apply one delivery. None for a replay (acknowledged, ignored)."""
    account = stripe_account()
    if account is None or not account.webhook_secret:
        raise StripeEventRefused(
            "Stripe-Signature: no webhook signing secret is configured (Billing providers, or "
            "STRIPE_WEBHOOK_SECRET), so no event can be verified."
        )
    try:
        event = stripe.Webhook.construct_event(payload, signature, account.webhook_secret)
    except stripe.SignatureVerificationError as exc:
        raise StripeEventRefused(f"Stripe-Signature: {exc.user_message or exc}") from None
    except ValueError as exc:
        raise StripeEventRefused(f"The body is not a Stripe event: {exc}") from None
    return stripe_event_apply(event=event, now=now)


def stripe_event_apply(*, event, now: datetime) -> ProviderEvent | None:
    """Apply one verified Stripe event, once."""
    event = event.to_dict() if hasattr(event, "to_dict") else event
    occurred_at = datetime.fromtimestamp(int(event.get("created") or now.timestamp()), UTC)
    data = event.get("data") or {}
    obj = data.get("object") or {}
    # A PaymentIntent stands for the invoice only when we charged one (a gated commit):
    # the PaymentIntents of Stripe invoices are followed through their invoice's events.
    is_invoice = obj.get("object") in ("invoice", "payment_intent")
    record = ProviderEvent(
        id=event["id"],
        billing_provider="stripe",
        type=event["type"],
        occurred_at=occurred_at,
        received_at=now,
        external_invoice_id=(obj.get("id") or "") if is_invoice else "",
        outcome=ProviderEvent.Outcome.IGNORED,
    )
    try:
        with transaction.atomic():
            if ProviderEvent.objects.filter(pk=record.id).exists():
                return None
            status = STATUS_BY_EVENT.get(record.type)
            if is_invoice and record.type in ACTION_REQUIRED:
                _action_required(record, obj, occurred_at)
            elif status is None or not is_invoice:
                record.note = "Not a payment status event."
            else:
                _apply(record, status, obj, occurred_at)
            record.save(force_insert=True)
    except IntegrityError:  # the same event delivered twice at once: the other one applied it
        return None
    return record


def _payment(record: ProviderEvent, obj) -> InvoicePayment | None:
    payments = InvoicePayment.objects.select_for_update().filter(
        external_id=record.external_invoice_id
    )
    if obj.get("object") == "payment_intent":
        payments = payments.filter(gate_payment_type="PAYMENT_INTENT")
    return payments.first()


def _action_required(record: ProviderEvent, obj, occurred_at: datetime) -> None:
    payment = _payment(record, obj)
    if payment is None or payment.payment_gate_id is None:
        record.note = "Not the payment of a gated commit of ours."
        return
    record.invoice_id = payment.invoice_id
    record.outcome = ProviderEvent.Outcome.APPLIED
    record.note = "The customer must act before the payment can succeed."
    payment_gate_action_required(payment, occurred_at)


def _apply(record: ProviderEvent, status: str, obj, occurred_at: datetime) -> None:
    payment = _payment(record, obj)
    if payment is None:
        record.note = "No invoice of ours was sent as this Stripe invoice."
        return
    record.invoice_id = payment.invoice_id
    if payment.last_event_at is not None and occurred_at < payment.last_event_at:
        record.note = "Older than the last event applied to this invoice."
        return
    record.outcome = ProviderEvent.Outcome.APPLIED
    payment.last_event_at = occurred_at
    intent = obj.get("payment_intent")
    if isinstance(intent, str) and intent:
        payment.external_payment_id = intent
    if payment.status == status:
        record.note = f"Already {status}."
    else:
        record.note = f"{payment.status} -> {status}"
        _move(payment, status, occurred_at)
    payment.save()
