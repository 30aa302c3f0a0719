"""Reseller royalties: the share of a contract's spend a cloud marketplace reseller keeps."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import MONEY

from .common import start_before_end, window_errors
from .contracts import Contract, ContractEdit


class ResellerRoyalty(models.Model):
    """One segment of a contract's reseller royalty for one reseller (Metronome's
    `reseller_royalties`, added by amendments): from `starting_at` until `ending_before`, the
    reseller (an AWS or GCP marketplace, for its own or its professional services' listings)
    keeps `fraction` of the spend on the applicable products. A later segment of the same
    reseller type cuts this one at its start.

    Recorded and reported to the integrations that settle with the marketplace; they do not
    change our invoice totals (the marketplace takes its royalty from what it collects)."""

    class ResellerType(models.TextChoices):
        AWS = "AWS", "AWS Marketplace"
        AWS_PRO_SERVICE = "AWS_PRO_SERVICE", "AWS Marketplace professional services"
        GCP = "GCP", "Google Cloud Marketplace"
        GCP_PRO_SERVICE = "GCP_PRO_SERVICE", "Google Cloud Marketplace professional services"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="reseller_royalties"
    )
    amendment = models.ForeignKey(
        ContractEdit, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reseller_type = models.CharField(max_length=16, choices=ResellerType.choices)
    fraction = models.DecimalField(**MONEY, help_text="The reseller's share, from 0 to 1.")
    netsuite_reseller_id = models.CharField(max_length=200)
    reseller_contract_value = models.DecimalField(**MONEY, null=True, blank=True)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    applicable_product_ids = models.JSONField(default=list, blank=True)
    applicable_product_tags = models.JSONField(default=list, blank=True)
    aws_account_number = models.CharField(max_length=200, blank=True)
    aws_offer_id = models.CharField(max_length=200, blank=True)
    aws_payer_reference_id = models.CharField(max_length=200, blank=True)
    gcp_account_id = models.CharField(max_length=200, blank=True)
    gcp_offer_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["reseller_type", "starting_at"]
        verbose_name_plural = "reseller royalties"
        constraints = [
            start_before_end("resellerroyalty"),
            models.CheckConstraint(
                condition=Q(fraction__gte=0, fraction__lte=1),
                name="resellerroyalty_fraction_0_to_1",
                violation_error_message="The fraction is between 0 and 1.",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_reseller_type_display()} {self.fraction} from {self.starting_at:%Y-%m-%d}"
        )

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if not self.applicable_product_ids and not self.applicable_product_tags:
            errors["applicable_product_ids"] = (
                "Give applicable_product_ids or applicable_product_tags (or both)."
            )
        if self.fraction is not None and not 0 <= self.fraction <= 1:
            errors["fraction"] = "Must be between 0 and 1."
        if errors:
            raise ValidationError(errors)
