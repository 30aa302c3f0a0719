"""Webhook endpoints, the deliveries made to them, and each attempt's outcome."""

import uuid
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def url_errors(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None: an absolute http(s) URL with a host."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https"):
        return "The URL must start with http:// or https://."
    if not parts.hostname:
        return "The URL must name a host."
    return None


def subscribed(event_types: list[str], event_type: str) -> bool:
    """Whether a subscription list takes `event_type`: empty takes all, `alerts.*` every type
    that starts with `alerts.`."""
    if not event_types:
        return True
    return any(
        event_type == wanted or (wanted.endswith(".*") and event_type.startswith(wanted[:-1]))
        for wanted in event_types
    )


class WebhookEndpoint(models.Model):
    """A URL that receives signed notifications (Standard Webhooks) of the event types it wants.

    `secret` signs (shown once, at creation or rotation, never in full afterwards); after a
    rotation the previous secret keeps signing beside the new one until `previous_secret_expires_at`.
    An endpoint whose deliveries keep failing for five days is disabled, with the reason.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2000, verbose_name="URL")
    description = models.CharField(max_length=500, blank=True)
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="The event types it receives (e.g. invoice.finalized, alerts.*); empty: all.",
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="First failed attempt since its last success (empty: healthy).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "webhook endpoint"
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="webhookendpoint_http_url",
                violation_error_message="The URL must start with http:// or https://.",
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        errors = {}
        problem = url_errors(self.url)
        if problem:
            errors["url"] = problem
        if not isinstance(self.event_types, list) or not all(
            isinstance(t, str) and t for t in self.event_types
        ):
            errors["event_types"] = "A list of event type names."
        if errors:
            raise ValidationError(errors)

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell which one a receiver holds, never the secret."""
        return f"{self.secret[:9]}…{self.secret[-4:]}" if self.secret else "—"

    def wants(self, event_type: str) -> bool:
        return subscribed(self.event_types, event_type)


class WebhookDelivery(models.Model):
    """One notification to one endpoint: the exact body signed and sent (so every retry sends the
    same bytes under the same `webhook-id`), and where it stands.

    PENDING until a 2xx answer (SUCCEEDED) or until `give_up_at` passes (FAILED, 72 hours after it
    was made or resent). A sender takes it by setting `locked_until`; a sender that dies
    mid-delivery leaves the lock to expire and the delivery is sent again.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(
        max_length=64,
        help_text="The notification's id: the webhook-id header and the body's id, on every try.",
    )
    event_type = models.CharField(max_length=100)
    customer_id = models.UUIDField(null=True, blank=True)
    body = models.TextField(help_text="The JSON sent, byte for byte.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "message_id"],
                name="webhookdelivery_once_per_endpoint",
                violation_error_message="This notification was already queued for the endpoint.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_due",
                condition=Q(status="PENDING"),
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhookdelivery_endpoint"),
            models.Index(fields=["created_at"], name="webhookdelivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    """One try of a delivery: the answer's status code (none when no answer came), how long it
    took, and the first 1 KB of what the receiver answered or of the error."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    response = models.TextField(blank=True, help_text="First 1 KB of the answer.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        outcome = self.status_code if self.status_code is not None else self.error or "no answer"
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S}: {outcome}"
