"""The outbox events invoicing records about an invoice (`invoice.finalized`, `invoice.voided`,
`invoice.unconsolidated`): one shape for every one of them."""

from __future__ import annotations

from datetime import datetime

from invoicing.models import Invoice


def invoice_event(
    type_: str,
    invoice: Invoice,
    now: datetime,
    payer=None,
    *,
    consolidated_invoice_id=None,
) -> dict:
    """An invoice's domain event, as `outbox.record` takes it. `payer` (an account hierarchy's
    invoice, `invoice_payers`): who pays for it. `consolidated_invoice_id`: the consolidated
    invoice it is (or, unconsolidated, was) billed on; its own `consolidated_into` unless given."""
    event = {
        "type": type_,
        "subject_id": invoice.pk,
        "customer_id": invoice.customer_id,
        "occurred_at": now,
        "payload": {
            "invoice_id": str(invoice.pk),
            "customer_id": str(invoice.customer_id),
            "contract_id": str(invoice.contract_id),
            "invoice_type": invoice.type,
            "number": invoice.number,
        },
    }
    if payer is not None:
        event["payload"]["payer"] = {
            "contract_id": str(payer.contract_id),
            "customer_id": str(payer.customer_id),
        }
    into = consolidated_invoice_id or invoice.consolidated_into_id
    if into is not None:
        # Billed on the parent's consolidated invoice, not on its own.
        event["payload"]["consolidated_invoice_id"] = str(into)
    return event
