"""Payment gates of threshold commits: opened when a gated threshold buys, then released
(the payment succeeded: the commit's balance starts) or cancelled (it failed: the commit is
archived). Idempotent for the same outcome; the other outcome after one is a conflict.

Invoicing, above, decides when to buy and voids a cancelled commit's invoice
(`invoicing.payment_gates`); payments and the release endpoint report outcomes through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from core import outbox

from ..models import AccessSegment, Commit, PaymentGate
from .common import clean
from .events import balance_event

# The threshold kind of a gate on a commit added by hand (a v2 edit's add_commits).
MANUAL_GATE = "MANUAL"


class PaymentGateConflict(Exception):
    """The gate was already decided the other way (the API answers 409)."""


@dataclass(frozen=True)
class GateSpec:
    """A threshold configuration's `payment_gate_config`, as threshold billing applies it."""

    gate_type: str
    payment_type: str = ""
    invoice_metadata: dict = field(default_factory=dict)
    tax_type: str = "NONE"
    precalculated_tax: dict | None = None

    @classmethod
    def from_config(cls, config: dict | None) -> GateSpec | None:
        """None for no gate (`NONE`, or a configuration stored before gates)."""
        config = config or {}
        gate_type = config.get("payment_gate_type", "NONE")
        if gate_type == "NONE":
            return None
        stripe = config.get("stripe_config") or {}
        return cls(
            gate_type=gate_type,
            payment_type=stripe.get("payment_type", "") if gate_type == "STRIPE" else "",
            invoice_metadata=dict(stripe.get("invoice_metadata") or {}),
            tax_type=config.get("tax_type") or "NONE",
            precalculated_tax=config.get("precalculated_tax_config"),
        )


def payment_gate_open(
    *,
    commit: Commit,
    kind: str,
    gate: GateSpec,
    amount: Decimal,
    starting_at: datetime,
    ending_before: datetime,
    now: datetime,
) -> PaymentGate:
    """The gate of a commit threshold billing just bought (its caller's transaction)."""
    made = PaymentGate(
        commit=commit,
        contract_id=commit.contract_id,
        customer_id=commit.customer_id,
        threshold_kind=kind,
        gate_type=gate.gate_type,
        payment_type=gate.payment_type,
        invoice_metadata=gate.invoice_metadata,
        tax_type=gate.tax_type,
        precalculated_tax=gate.precalculated_tax,
        amount=amount,
        access_starting_at=starting_at,
        access_ending_before=ending_before,
        created_at=now,
    )
    clean(made)
    made.save()
    return made


def payment_gate_pending(*, contract_id, kind: str) -> PaymentGate | None:
    """The purchase of this threshold that waits on its payment, if any."""
    return PaymentGate.objects.filter(
        contract_id=contract_id, threshold_kind=kind, status=PaymentGate.Status.PENDING
    ).first()


# After a gated payment fails (a declined Stripe card, an EXTERNAL payment the integrator
# cancelled or reported failed, a gate staff cancelled), the threshold waits before it asks for
# a payment again: an hour after the first failure, twice as long after each further one in a
# row, at most a day. (Every 5 minutes the evaluation would otherwise buy again, and charge a
# declined card or cue the integrator, at once.)
FIRST_COOL_DOWN = timedelta(hours=1)
LONGEST_COOL_DOWN = timedelta(days=1)


def payment_gate_cool_down(failures: int) -> timedelta:
    """How long a threshold waits after `failures` failed gated payments in a row."""
    if failures < 1:
        return timedelta(0)
    return min(FIRST_COOL_DOWN * 2 ** (failures - 1), LONGEST_COOL_DOWN)


def payment_gate_retry_at(*, contract_id, kind: str) -> datetime | None:
    """When this threshold may buy again after its latest gated payments failed, whatever the
    gate type (None: at once). The failures counted are those since its last paid gate."""
    decided = PaymentGate.objects.filter(contract_id=contract_id, threshold_kind=kind).exclude(
        status=PaymentGate.Status.PENDING
    )
    last_paid = decided.filter(status=PaymentGate.Status.PAID).order_by("-resolved_at").first()
    failed = decided.filter(status=PaymentGate.Status.FAILED)
    if last_paid is not None:
        failed = failed.filter(resolved_at__gt=last_paid.resolved_at)
    latest = failed.order_by("-resolved_at").values_list("resolved_at", flat=True).first()
    if latest is None:
        return None
    return latest + payment_gate_cool_down(failed.count())


def payment_gate_invoiced(
    *, gate: PaymentGate, invoice_id, charged_amount=None, charged_credit_type_id=None
) -> None:
    """The commit's own invoice, once finalized (what Stripe is asked to collect), and its
    total: what the payment is for."""
    PaymentGate.objects.filter(pk=gate.pk).update(
        invoice_id=invoice_id,
        charged_amount=charged_amount,
        charged_credit_type_id=charged_credit_type_id,
    )
    gate.invoice_id = invoice_id
    gate.charged_amount = charged_amount
    gate.charged_credit_type_id = charged_credit_type_id


def payment_gate_event(type_: str, gate: PaymentGate, now: datetime, **extra) -> None:
    """`payment_gate.*` (Metronome's webhook names): the workflow, its contract, what is
    charged (`amount` in `credit_type_id`: the commit's invoice total, after a discount and its
    cap, a PRECALCULATED tax included, as `tax_amount` says) and the commit's face value
    (`commit_amount` in `commit_credit_type_id`: the balance the payment buys)."""
    outbox.record(
        type=type_,
        subject_id=gate.pk,
        customer_id=gate.customer_id,
        occurred_at=now,
        payload={
            "workflow_id": str(gate.pk),
            "customer_id": str(gate.customer_id),
            "contract_id": str(gate.contract_id),
            "commit_id": str(gate.commit_id),
            "invoice_id": str(gate.invoice_id) if gate.invoice_id else None,
            **_charged(gate),
            "commit_amount": str(gate.amount),
            "commit_credit_type_id": str(gate.commit.credit_type_id),
            "payment_gate_type": gate.gate_type,
            "payment_type": gate.payment_type or None,
            "threshold_kind": gate.threshold_kind,
            **_tax(gate),
            **extra,
        },
    )


def _charged(gate: PaymentGate) -> dict:
    """What the payment is for. A gate whose invoice is not finalized yet (never the case when
    an event is recorded today) falls back to the commit's face value."""
    if gate.charged_amount is None:
        return {"amount": str(gate.amount), "credit_type_id": str(gate.commit.credit_type_id)}
    return {
        "amount": str(gate.charged_amount),
        "credit_type_id": str(gate.charged_credit_type_id),
    }


def _tax(gate: PaymentGate) -> dict:
    """A PRECALCULATED tax: a line of the commit's invoice, so part of the charged amount."""
    if gate.tax_type != "PRECALCULATED" or not gate.precalculated_tax:
        return {}
    return {
        "tax_amount": str(gate.precalculated_tax["tax_amount"]),
        "tax_name": gate.precalculated_tax.get("tax_name") or None,
    }


def _locked(gate: PaymentGate) -> PaymentGate:
    return PaymentGate.objects.select_for_update().select_related("commit").get(pk=gate.pk)


@transaction.atomic
def payment_gate_release(*, gate: PaymentGate, now: datetime, by: str) -> tuple[PaymentGate, bool]:
    """The payment succeeded: the commit's access segment is written, so its balance counts
    from now (drafts follow on `commit.edit`). Returns (gate, whether this call released it)."""
    gate = _locked(gate)
    if gate.status == PaymentGate.Status.PAID:
        return gate, False
    if gate.status == PaymentGate.Status.FAILED:
        raise PaymentGateConflict(
            f"The payment gate {gate.pk} was already cancelled ({gate.reason or 'failed'}); "
            "its commit is voided and cannot be released."
        )
    segment = AccessSegment(
        commit=gate.commit,
        amount=gate.amount,
        starting_at=gate.access_starting_at,
        ending_before=gate.access_ending_before,
    )
    clean(segment)
    segment.save()
    gate.status = PaymentGate.Status.PAID
    gate.resolved_at = now
    gate.resolved_by = by[:200]
    gate.save(update_fields=["status", "resolved_at", "resolved_by"])
    # `commit.edit` makes the drafts follow; not `contract.edit`, which evaluates the
    # thresholds again: the next purchase waits for the schedule.
    balance_event("edit", gate.commit, now)
    payment_gate_event("payment_gate.payment_status", gate, now, payment_status="paid")
    return gate, True


@transaction.atomic
def payment_gate_cancel(
    *, gate: PaymentGate, now: datetime, by: str, reason: str = ""
) -> tuple[PaymentGate, bool]:
    """The payment failed or was cancelled: the commit is archived (it never held anything) and
    the threshold may buy again on its next evaluation. Returns (gate, whether this call
    cancelled it); the caller voids the commit's invoice."""
    gate = _locked(gate)
    if gate.status == PaymentGate.Status.FAILED:
        return gate, False
    if gate.status == PaymentGate.Status.PAID:
        raise PaymentGateConflict(
            f"The payment gate {gate.pk} was already paid; its commit is released and cannot "
            "be cancelled (edit or archive the commit instead)."
        )
    gate.status = PaymentGate.Status.FAILED
    gate.resolved_at = now
    gate.resolved_by = by[:200]
    gate.reason = reason
    gate.save(update_fields=["status", "resolved_at", "resolved_by", "reason"])
    Commit.objects.filter(pk=gate.commit_id).update(archived_at=now)
    gate.commit.archived_at = now
    balance_event("edit", gate.commit, now)
    payment_gate_event(
        "payment_gate.payment_status", gate, now, payment_status="failed", reason=reason or None
    )
    return gate, True
