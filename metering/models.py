"""Usage events as received, and what ingestion keeps beside them."""

import uuid

from django.db import models


class UsageEvent(models.Model):
    """One usage event as sent to /v1/ingest, stored once (duplicates are dropped before this).

    `customer_id` is kept exactly as it arrived (a customer id or an ingest alias); it is resolved
    to a customer when read, so an alias added later attributes earlier events too.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transaction_id = models.CharField(max_length=128)
    customer_id = models.CharField(max_length=255, db_index=True)
    event_type = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict)
    received_at = models.DateTimeField()
    is_late = models.BooleanField(
        default=False, help_text="Its timestamp fell in a period already finalized when it arrived."
    )

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["customer_id", "timestamp"], name="usageevent_customer_time"),
            models.Index(fields=["transaction_id"], name="usageevent_transaction"),
            models.Index(fields=["event_type", "timestamp"], name="usageevent_type_time"),
        ]

    def __str__(self) -> str:
        return self.transaction_id
