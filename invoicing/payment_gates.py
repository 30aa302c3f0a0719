"""Settling a gated threshold purchase (`customers.models.PaymentGate`): the outcome of its
payment, reported by payments (Stripe's webhooks), by the integrator
(`POST /v1/contracts/commits/threshold-billing/release`, EXTERNAL gates) or by staff in the
admin. Paid: the commit's balance starts (customers writes its access segment). Failed or
cancelled: the commit is archived and its invoice voided here, so the threshold may buy again.
A second report of the same outcome changes nothing; of the other outcome, it is a conflict."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from customers.models import PaymentGate
from customers.services import PaymentGateConflict, payment_gate_cancel, payment_gate_release
from invoicing.models import Invoice
from invoicing.services import invoice_void

PAID = "paid"
FAILED = "failed"
# What integrators may report (Metronome takes paid/failed in either case; "cancelled" is the
# integrator's word for a payment it gave up on).
OUTCOMES = {"paid": PAID, "failed": FAILED, "cancelled": FAILED, "canceled": FAILED}

__all__ = ["OUTCOMES", "PaymentGateConflict", "payment_gate_settle"]


@transaction.atomic
def payment_gate_settle(
    *, gate: PaymentGate, outcome: str, now: datetime, by: str, reason: str = ""
) -> tuple[PaymentGate, bool]:
    """Apply `outcome` ("paid" or "failed") to the gate; (gate, whether it changed)."""
    if outcome == PAID:
        return payment_gate_release(gate=gate, now=now, by=by)
    if outcome != FAILED:
        raise ValueError(f"unknown payment gate outcome {outcome!r}")
    gate, changed = payment_gate_cancel(gate=gate, now=now, by=by, reason=reason)
    if changed and gate.invoice_id is not None:
        invoice = Invoice.objects.filter(pk=gate.invoice_id).first()
        if invoice is not None and invoice.status == Invoice.Status.FINALIZED:
            invoice_void(invoice=invoice, now=now)
    return gate, changed
