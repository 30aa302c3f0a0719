"""Outbox reactions: invoice finalization writes its rows in one batch statement (no model save),
so its entry in the audit trail is made from the `invoice.finalized` event."""

from auditlog.models import AbstractLogEntry

from core.outbox import handles
from invoicing.models import Invoice

from .models import AuditEntry


@handles("invoice.finalized")
def invoice_finalized(event) -> None:
    invoice = Invoice.objects.filter(pk=event.payload["invoice_id"]).first()
    if invoice is None:
        return
    already = AuditEntry.objects.filter(
        object_pk=str(invoice.pk), additional_data__event=str(event.uuid)
    ).exists()
    if already:  # idempotent: a retried reaction writes its entry once
        return
    AuditEntry.objects.log_create(
        invoice,
        action=AbstractLogEntry.Action.UPDATE,
        changes={
            "status": ["DRAFT", invoice.status],
            "number": ["None", str(invoice.number)],
            "issued_at": ["None", str(invoice.issued_at)],
        },
        timestamp=event.occurred_at,
        additional_data={"event": str(event.uuid)},
    )
