"""Lifecycle notifications: system types switched on or off, offset notifications (N before or
after a contract's or segment's start or end), and what the time-based schedule already fired."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models


class SystemNotification(models.Model):
    """Whether webhooks of one system lifecycle type (`contract.start`, ...) are published.
    A type without a row is enabled."""

    type = models.CharField(max_length=100, primary_key=True)
    is_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["type"]

    def __str__(self) -> str:
        return f"{self.type}: {'enabled' if self.is_enabled else 'disabled'}"


class OffsetNotification(models.Model):
    """A notification sent `offset` (ISO 8601 duration, negative = before) after a time-based
    lifecycle moment: a contract's start or end, a commit's or credit's segment start or end."""

    TYPES = (
        "contract.start",
        "contract.end",
        "commit.segment.start",
        "commit.segment.end",
        "credit.segment.start",
        "credit.segment.end",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    policy_type = models.CharField(max_length=100)
    offset = models.CharField(max_length=50, help_text='ISO 8601, e.g. "-P7D", "PT2H".')
    offset_seconds = models.BigIntegerField()
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="api")
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.offset} from {self.policy_type})"

    def clean(self) -> None:
        if self.policy_type not in self.TYPES:
            raise ValidationError({"policy_type": f"One of {', '.join(self.TYPES)}."})


class LifecycleCursor(models.Model):
    """How far the time-based lifecycle schedule has looked (one row): moments up to
    `scanned_through` were fired or were already past when the schedule first ran."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    scanned_through = models.DateTimeField()

    def __str__(self) -> str:
        return f"Lifecycle moments fired through {self.scanned_through:%Y-%m-%d %H:%M:%S}"


class FiredMoment(models.Model):
    """A time-based notification already recorded, so that the schedule fires each once:
    the type, the subject (contract or segment), the moment and the offset configuration."""

    type = models.CharField(max_length=100)
    subject_id = models.CharField(max_length=64)
    moment = models.DateTimeField()
    offset_id = models.CharField(max_length=64, blank=True, default="")
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["type", "subject_id", "moment", "offset_id"],
                name="firedmoment_once",
                violation_error_message="This moment was already fired.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject_id} at {self.moment:%Y-%m-%d %H:%M}"
