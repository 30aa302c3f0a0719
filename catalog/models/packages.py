"""Packages: contract templates."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .common import ArchivableQuerySet, Frequency
from .rate_cards import RateCard


class Package(models.Model):
    """A contract template: rate card, duration, schedule and terms placed relative to the start.

    Terms are kept as the Metronome package document (offsets instead of dates) because a package
    is never edited, only archived; a contract made from it copies them into real term rows.
    """

    class DurationUnit(models.TextChoices):
        DAYS = "DAYS", "Days"
        WEEKS = "WEEKS", "Weeks"
        MONTHS = "MONTHS", "Months"
        YEARS = "YEARS", "Years"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="packages")
    aliases = models.JSONField(default=list, blank=True)
    duration_unit = models.CharField(max_length=8, choices=DurationUnit.choices, blank=True)
    duration_value = models.PositiveIntegerField(null=True, blank=True)
    usage_statement_frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    usage_statement_day = models.CharField(
        max_length=16,
        choices=[
            ("FIRST_OF_MONTH", "First of month"),
            ("CONTRACT_START", "Contract start"),
            ("CUSTOM_DATE", "Custom date (each contract's billing anchor date)"),
        ],
        default="FIRST_OF_MONTH",
    )
    net_payment_terms_days = models.PositiveIntegerField(default=30)
    multiplier_override_prioritization = models.CharField(
        max_length=20,
        choices=[("LOWEST_MULTIPLIER", "Lowest multiplier"), ("EXPLICIT", "Explicit")],
        default="LOWEST_MULTIPLIER",
    )
    contract_name = models.CharField(
        max_length=200, blank=True, help_text="The name given to contracts made from it."
    )
    terms = models.JSONField(
        default=dict,
        blank=True,
        help_text="commits, credits, overrides, scheduled_charges, subscriptions with offsets.",
    )
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_unit="", duration_value__isnull=True)
                | (~Q(duration_unit="") & Q(duration_value__gt=0)),
                name="package_duration_complete",
                violation_error_message="A duration needs both a unit and a positive value.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if bool(self.duration_unit) != (self.duration_value is not None):
            raise ValidationError(
                {"duration_value": "A duration needs both a unit and a positive value."}
            )
        if not isinstance(self.terms, dict):
            raise ValidationError({"terms": "Terms must be an object."})
