"""What dashboards does when invoicing (below it) says an invoice was finalized."""

from __future__ import annotations

from core.models import DomainEvent
from core.outbox import handles
from invoicing.models import Invoice

from .services import documents_freeze


@handles("invoice.finalized", many=True)
def invoice_finalized(events: list[DomainEvent]) -> None:
    """The documents' seller, bill-to and product units are frozen as the invoices are issued."""
    finalized_at = {event.payload["invoice_id"]: event.occurred_at for event in events}
    invoices = list(
        # The contract too: whether an account hierarchy's payer pays for it (bill-to).
        Invoice.objects.select_related("customer", "contract")
        .defer("rating_snapshot")  # a large document each, not needed here
        .filter(pk__in=list(finalized_at))
    )
    documents_freeze(invoices=invoices, frozen_at={i.pk: finalized_at[str(i.pk)] for i in invoices})
