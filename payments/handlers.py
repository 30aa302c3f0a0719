"""What payments does when invoicing (below it) says an invoice was finalized or voided
(`core.outbox`). Both only write our own rows: Stripe is called by the schedule, never here (a
handler runs in the wake of the request or task that finalized or voided)."""

from __future__ import annotations

from django.db.models import Prefetch

from core.models import DomainEvent
from core.outbox import handles
from customers.models import ContractConfigurationChange, PaymentGate
from invoicing.models import Invoice

from .services import (
    invoice_payment_void_request,
    invoice_payments_queue,
    payment_gate_payment_queue,
)


def _invoice(event: DomainEvent) -> Invoice | None:
    return (
        Invoice.objects.select_related("contract__billing_provider_configuration")
        .filter(pk=event.payload["invoice_id"])
        .first()
    )


@handles("invoice.finalized", "invoice.unconsolidated", many=True)
def invoice_finalized(events: list[DomainEvent]) -> None:
    """Queue the invoices for their contracts' billing provider, where they have one. A
    statement finalized on a consolidated draft that was then removed (`invoice.unconsolidated`:
    its parent archived, or its lot left with no child) is billed on its own from then on."""
    finalized_at = {event.payload["invoice_id"]: event.occurred_at for event in events}
    invoices = list(
        Invoice.objects.select_related("contract__billing_provider_configuration")
        .defer("rating_snapshot")
        .prefetch_related(
            Prefetch(
                "contract__configuration_changes",
                ContractConfigurationChange.objects.select_related(
                    "billing_provider_configuration", "revenue_system_configuration"
                ),
            )
        )
        .filter(pk__in=list(finalized_at))
    )
    invoice_payments_queue(
        invoices=invoices, finalized_at={i.pk: finalized_at[str(i.pk)] for i in invoices}
    )


@handles("invoice.voided")
def invoice_voided(event: DomainEvent) -> None:
    """Void it in the provider too (or never send it)."""
    invoice = _invoice(event)
    if invoice is not None:
        invoice_payment_void_request(invoice=invoice, now=event.occurred_at)


@handles("payment_gate.threshold_reached")
def payment_gate_threshold_reached(event: DomainEvent) -> None:
    """A STRIPE-gated threshold commit was bought: its invoice is charged at once (a worker
    task, without the connection's delay; the hand-off schedule retries what fails)."""
    if event.payload.get("payment_gate_type") != "STRIPE":
        return
    gate = PaymentGate.objects.filter(pk=event.payload["workflow_id"]).first()
    if gate is not None:
        payment_gate_payment_queue(gate=gate, now=event.occurred_at)
