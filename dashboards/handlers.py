"""What dashboards does when invoicing (below it) says an invoice was finalized."""

from __future__ import annotations

from core.models import DomainEvent
from core.outbox import handles
from invoicing.models import Invoice

from .services import document_freeze


@handles("invoice.finalized")
def invoice_finalized(event: DomainEvent) -> None:
    """The document's seller, bill-to and product units are frozen as the invoice is issued."""
    invoice = (
        Invoice.objects.select_related("customer").filter(pk=event.payload["invoice_id"]).first()
    )
    if invoice is not None:
        document_freeze(invoice=invoice, now=event.occurred_at)
