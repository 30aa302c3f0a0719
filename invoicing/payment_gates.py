"""Settling a gated threshold purchase (`customers.models.PaymentGate`): the outcome of its
payment, reported by payments (Stripe's webhooks), by the integrator
(`POST /v1/contracts/commits/threshold-billing/release`, EXTERNAL gates) or by staff in the
admin. Paid: the commit's balance starts (customers writes its access segment). Failed or
cancelled: the commit is archived and its invoice voided here, so the threshold may buy again.
A second report of the same outcome changes nothing; of the other outcome, it is a conflict."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from customers.models import Contract, PaymentGate
from customers.services import (
    MANUAL_GATE,
    PaymentGateConflict,
    payment_gate_cancel,
    payment_gate_event,
    payment_gate_invoiced,
    payment_gate_release,
)
from invoicing.models import Invoice
from invoicing.services import invoice_finalize, invoice_void

PAID = "paid"
FAILED = "failed"
# What integrators may report (Metronome takes paid/failed in either case; "cancelled" is the
# integrator's word for a payment it gave up on).
OUTCOMES = {"paid": PAID, "failed": FAILED, "cancelled": FAILED, "canceled": FAILED}

__all__ = [
    "OUTCOMES",
    "PaymentGateConflict",
    "payment_gate_invoice",
    "payment_gate_settle",
    "payment_gates_invoice_added",
]


def _gated_draft(gate: PaymentGate, invoiced_at: datetime):
    return Invoice.objects.filter(
        contract_id=gate.contract_id,
        type=Invoice.Type.SCHEDULED,
        status=Invoice.Status.DRAFT,
        start_timestamp=invoiced_at,
    )


def payment_gate_invoice(*, gate: PaymentGate, invoiced_at: datetime, now: datetime) -> None:
    """A gated commit's own SCHEDULED invoice (its draft dated `invoiced_at`, made by the
    drafts) is finalized at once, and the payment is asked for: `payment_gate.threshold_reached`
    (payments charges a STRIPE gate), and for an EXTERNAL gate `payment_gate.external_initiate`
    (the integrator's cue)."""
    invoice = _gated_draft(gate, invoiced_at).get()
    finalized = invoice_finalize(invoice=invoice, now=now, ensure_next=False).invoice
    # What is charged: the invoice's total (a discount, its cap, a PRECALCULATED tax applied),
    # not the commit's face value.
    payment_gate_invoiced(
        gate=gate,
        invoice_id=invoice.pk,
        charged_amount=finalized.total,
        charged_credit_type_id=finalized.credit_type_id,
    )
    payment_gate_event("payment_gate.threshold_reached", gate, now)
    if gate.gate_type == PaymentGate.GateType.EXTERNAL:
        payment_gate_event("payment_gate.external_initiate", gate, now)


def payment_gates_invoice_added(*, contract: Contract, now: datetime) -> int:
    """The commits added by hand with a payment gate (a v2 edit) that are not invoiced yet:
    each one's invoice is finalized and its payment asked for, as a gated threshold purchase's
    is. Idempotent (an invoiced gate has its invoice id); returns how many."""
    gates = PaymentGate.objects.select_related("commit").filter(
        contract=contract,
        threshold_kind=MANUAL_GATE,
        status=PaymentGate.Status.PENDING,
        invoice_id__isnull=True,
    )
    invoiced = 0
    for gate in gates:
        item = gate.commit.invoice_schedule.get()
        if _gated_draft(gate, item.timestamp).exists():  # none outside the contract's dates
            payment_gate_invoice(gate=gate, invoiced_at=item.timestamp, now=now)
            invoiced += 1
    return invoiced


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
