"""Outbox reactions: invoice finalization writes its rows in one batch statement (no model save),
so its entry in the audit trail is made from the `invoice.finalized` event."""

from auditlog.models import AbstractLogEntry
from django.contrib.contenttypes.models import ContentType

from core.outbox import handles
from invoicing.models import Invoice

from .models import AuditEntry


@handles("invoice.finalized", many=True)
def invoice_finalized(events) -> None:
    """One entry per finalized invoice, the batch's written together; idempotent: a retried
    reaction writes an event's entry once."""
    invoices = {
        str(invoice.pk): invoice
        for invoice in Invoice.objects.select_related("customer")
        .defer("rating_snapshot")
        .filter(pk__in=[event.payload["invoice_id"] for event in events])
    }
    already = {
        (object_pk, (additional_data or {}).get("event"))
        for object_pk, additional_data in AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Invoice),
            object_pk__in=list(invoices),
            additional_data__has_key="event",
        ).values_list("object_pk", "additional_data")
    }
    logs = []
    for event in events:
        invoice = invoices.get(event.payload["invoice_id"])
        if invoice is None or (event.payload["invoice_id"], str(event.uuid)) in already:
            continue
        logs.append(
            (
                invoice,
                {
                    "action": AbstractLogEntry.Action.UPDATE,
                    "changes": {
                        "status": ["DRAFT", invoice.status],
                        "number": ["None", str(invoice.number)],
                        "issued_at": ["None", str(invoice.issued_at)],
                    },
                    "timestamp": event.occurred_at,
                    "additional_data": {"event": str(event.uuid)},
                },
            )
        )
    AuditEntry.objects.log_create_many(logs)
