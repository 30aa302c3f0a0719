"""Customers and their ingest aliases."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import (
    ArchivableQuerySet,
)


class Customer(models.Model):
    """Someone who is billed. Events reach it through its id or any of its ingest aliases.

    The billing name, address and email are the invoice document's bill-to (the name falls back to
    `name`). Over the API they travel as the custom fields `BILLING_FIELDS` name, as Metronome
    carries any extra customer data."""

    # The custom field keys that are these columns over the API (create and customFields/setValues).
    BILLING_FIELDS = ("billing_name", "billing_address", "billing_email")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=160)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="Deprecated in Metronome; kept for compatibility."
    )
    salesforce_account_id = models.CharField(max_length=200, blank=True)
    leave_stripe_invoices_in_draft = models.BooleanField(
        null=True,
        blank=True,
        help_text="Invoices handed to Stripe stay drafts there (customer config; empty: the "
        "provider's default).",
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    billing_name = models.CharField(
        max_length=200, blank=True, help_text="The name invoices are addressed to (else the name)."
    )
    billing_address = models.TextField(
        blank=True, help_text="Postal address printed under the bill-to name, one line per line."
    )
    billing_email = models.EmailField(blank=True, help_text="Where invoices are sent.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if isinstance(self.custom_fields, dict):
            reserved = sorted(set(self.custom_fields) & set(self.BILLING_FIELDS))
            if reserved:
                raise ValidationError(
                    {"custom_fields": f"{', '.join(reserved)} are billing fields, not custom ones."}
                )

    @property
    def bill_to_name(self) -> str:
        return self.billing_name or self.name

    def billing_values(self) -> dict[str, str]:
        """The billing fields that are set, under their custom field keys."""
        return {key: getattr(self, key) for key in self.BILLING_FIELDS if getattr(self, key)}


class IngestAlias(models.Model):
    """Another id under which this customer's usage events may arrive (unique across customers)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ingest_aliases")
    alias = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "ingest aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["alias"],
                name="ingestalias_unique_alias",
                violation_error_message="This ingest alias already belongs to another customer.",
            ),
            models.CheckConstraint(
                condition=~Q(alias=""),
                name="ingestalias_not_empty",
                violation_error_message="An ingest alias cannot be empty.",
            ),
        ]

    def __str__(self) -> str:
        return self.alias

    def validate_constraints(self, exclude=None) -> None:
        # Name the customer that owns the alias, instead of the constraint's generic message
        # (which would otherwise be reported as well).
        clash = IngestAlias.objects.filter(alias=self.alias).exclude(pk=self.pk)
        if self.alias and clash.exclude(customer_id=self.customer_id).exists():
            owner = clash.select_related("customer").first().customer
            raise ValidationError(
                {"alias": f"The ingest alias '{self.alias}' already belongs to customer '{owner}'."}
            )
        super().validate_constraints(exclude)
