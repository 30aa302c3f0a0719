"""Named schedules: a named value that changes over time, on a rate card, a contract or a
customer (Metronome's named schedules, read by custom pricing logic and integrations)."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import RateCard
from core.parsers import ExactJSONDecoder, ExactJSONEncoder

from .common import start_before_end, window_errors
from .contracts import Contract
from .customer import Customer


class NamedScheduleSegment(models.Model):
    """One segment of a named schedule: `value` (any JSON) from `starting_at` until
    `ending_before` (open-ended when empty). A schedule is identified by its owner (a rate card,
    a contract or a customer), its name and, on a contract, its properties; its segments never
    overlap (an update cuts the segments it covers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    rate_card = models.ForeignKey(
        RateCard, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    properties = models.JSONField(default=dict, blank=True)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    value = models.JSONField(
        null=True, blank=True, encoder=ExactJSONEncoder, decoder=ExactJSONDecoder
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "starting_at"]
        verbose_name = "named schedule"
        constraints = [
            start_before_end("namedschedulesegment"),
            models.CheckConstraint(
                condition=Q(rate_card__isnull=False, contract__isnull=True, customer__isnull=True)
                | Q(rate_card__isnull=True, contract__isnull=False, customer__isnull=True)
                | Q(rate_card__isnull=True, contract__isnull=True, customer__isnull=False),
                name="namedschedulesegment_one_owner",
                violation_error_message="A named schedule belongs to one rate card, contract or "
                "customer.",
            ),
        ]
        indexes = [
            models.Index(fields=["name", "starting_at"], name="namedschedule_name_start"),
        ]

    def __str__(self) -> str:
        return f"{self.name} from {self.starting_at:%Y-%m-%d}"

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if not (self.name or "").strip():
            errors["name"] = "A schedule needs a name."
        if errors:
            raise ValidationError(errors)
