"""Spend trackers: what a contract spends on commit purchases in each billing period, as
Metronome's `spend_trackers` (a threshold discount's cap is measured against one)."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import PricingUnit

from .contracts import Contract

SOURCES = ("THRESHOLD_RECHARGE", "MANUAL")
DISCOUNTED = ("ANY", "DISCOUNTED_ONLY", "UNDISCOUNTED_ONLY")


class SpendTracker(models.Model):
    """A named running total of a contract's commit purchases in one pricing unit, reset each
    billing period. `applicable_spend_specifiers` say which purchases count (any specifier
    matching is enough): `sources` THRESHOLD_RECHARGE (bought by threshold billing) and/or
    MANUAL (commits given on the contract), `spend_type` COMMIT_PURCHASE, and `discounted`
    ANY, DISCOUNTED_ONLY (a threshold purchase's discounted part; a manual commit marked
    `counts_as_discounted`) or UNDISCOUNTED_ONLY (the rest). The alias is unique among the
    contract's live trackers; an archived one counts nothing and frees its alias."""

    class ResetFrequency(models.TextChoices):
        BILLING_PERIOD = "BILLING_PERIOD", "Each billing period"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="spend_trackers")
    alias = models.CharField(max_length=200)
    credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, related_name="+", verbose_name="pricing unit"
    )
    applicable_spend_specifiers = models.JSONField(default=list)
    reset_frequency = models.CharField(
        max_length=16, choices=ResetFrequency.choices, default=ResetFrequency.BILLING_PERIOD
    )
    created_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "alias"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "alias"],
                condition=Q(archived_at__isnull=True),
                name="spendtracker_alias_unique_per_contract",
                violation_error_message="The contract already has a spend tracker with this alias.",
            ),
        ]

    def __str__(self) -> str:
        return self.alias

    def clean(self) -> None:
        errors = {}
        if not self.alias.strip():
            errors["alias"] = "Give an alias."
        specifiers = self.applicable_spend_specifiers
        if not isinstance(specifiers, list) or not specifiers:
            errors["applicable_spend_specifiers"] = "Give at least one specifier."
        else:
            # Under the field's own name (a form shows it beside the field), each message
            # saying which specifier it is about.
            problems = []
            for index, specifier in enumerate(specifiers, start=1):
                if not isinstance(specifier, dict):
                    problems.append(f"Specifier {index}: must be an object.")
                    continue
                sources = specifier.get("sources") or []
                if not sources or any(source not in SOURCES for source in sources):
                    problems.append(
                        f"Specifier {index}: sources must be THRESHOLD_RECHARGE and/or MANUAL."
                    )
                if specifier.get("discounted", "ANY") not in DISCOUNTED:
                    problems.append(
                        f"Specifier {index}: discounted must be ANY, DISCOUNTED_ONLY or "
                        "UNDISCOUNTED_ONLY."
                    )
            if problems:
                errors["applicable_spend_specifiers"] = problems
        if errors:
            raise ValidationError(errors)
