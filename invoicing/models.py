"""Invoices and their line items, in Metronome's invoice shape (reference section 3.7)."""

import uuid
from datetime import UTC

from django.db import models
from django.db.models import Q

from catalog.models import MONEY, PricingUnit, Product
from customers.models import Contract, Customer


class Invoice(models.Model):
    """One USAGE invoice per contract per billing period, and one SCHEDULED invoice per contract
    per date of its scheduled charges and commit purchases (unless the contract puts those on its
    usage invoices): DRAFT, then FINALIZED (or VOID).

    A SCHEDULED invoice has a single date: `start_timestamp` = `end_timestamp` = the items'
    timestamp. It is finalized once that date has passed, without the usage grace period (it
    holds no usage that could still arrive late).

    Account hierarchies: a USAGE_CONSOLIDATED invoice, on a parent contract for one of its
    billing periods, gathers the usage invoices of its children that consolidate (and, when the
    parent concatenates, the parent's own): its lines are theirs, copied (`origin`), its totals
    their sum. Those constituents point at it (`consolidated_into`) and are not billed on their
    own (`invoicing.consolidation`)."""

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        FINALIZED = "FINALIZED", "Finalized"
        VOID = "VOID", "Void"

    class Type(models.TextChoices):
        USAGE = "USAGE", "Usage"
        USAGE_CONSOLIDATED = "USAGE_CONSOLIDATED", "Consolidated usage"
        SCHEDULED = "SCHEDULED", "Scheduled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, related_name="+", verbose_name="pricing unit"
    )
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.USAGE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    start_timestamp = models.DateTimeField(
        help_text="Start of the billing period (inclusive); a scheduled invoice's date."
    )
    end_timestamp = models.DateTimeField(
        help_text="End of the billing period (exclusive); a scheduled invoice's date."
    )
    number = models.PositiveIntegerField(
        null=True, blank=True, unique=True, help_text="Sequential, assigned at finalization."
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    subtotal = models.DecimalField(**MONEY, default=0)
    total = models.DecimalField(**MONEY, default=0)
    net_payment_terms_days = models.PositiveIntegerField(default=30)
    rating_snapshot = models.JSONField(
        null=True, blank=True, help_text="The rating input frozen at finalization."
    )
    regenerated_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="regenerations"
    )
    consolidated_into = models.ForeignKey(
        "self",
        # Only a draft consolidated invoice is ever deleted: its constituents are free again.
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="constituents",
        help_text="The parent's consolidated invoice this usage statement is billed on (it is "
        "not billed on its own).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_timestamp", "-created_at"]
        permissions = [
            ("finalize_invoice", "Can finalize draft invoices early"),
            ("void_invoice", "Can void finalized invoices"),
            ("regenerate_invoice", "Can regenerate void invoices as new drafts"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "type", "start_timestamp"],
                condition=Q(status__in=["DRAFT", "FINALIZED"]),
                name="invoice_one_live_per_period",
                violation_error_message="This contract already has an invoice for that period.",
            ),
            models.CheckConstraint(
                condition=Q(end_timestamp__gt=models.F("start_timestamp"))
                | Q(type="SCHEDULED", end_timestamp=models.F("start_timestamp")),
                name="invoice_period_positive",
                violation_error_message=(
                    "The period must end after it starts (a scheduled invoice: on its date)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(consolidated_into__isnull=True) | Q(type="USAGE"),
                name="invoice_consolidates_usage_only",
                violation_error_message="Only a usage invoice is consolidated into another.",
            ),
            models.CheckConstraint(
                condition=Q(status="DRAFT") | Q(number__isnull=False, issued_at__isnull=False),
                name="invoice_issued_has_number",
                violation_error_message="A finalized invoice has a number and an issue date.",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "start_timestamp"], name="invoice_customer_start"),
            models.Index(fields=["status", "end_timestamp"], name="invoice_status_end"),
        ]

    def __str__(self) -> str:
        label = f"#{self.number}" if self.number else self.get_status_display()
        kind = KIND_SUFFIX.get(self.type, "")
        return f"{label} {self.customer} {self.start_timestamp:%Y-%m-%d}{kind}"

    @property
    def is_scheduled(self) -> bool:
        return self.type == self.Type.SCHEDULED

    @property
    def is_consolidated(self) -> bool:
        """A USAGE_CONSOLIDATED invoice (its lines are its constituents')."""
        return self.type == self.Type.USAGE_CONSOLIDATED

    @property
    def period_label(self) -> str:
        """The billing period in UTC, or a scheduled invoice's date."""
        start = self.start_timestamp.astimezone(UTC)
        if self.is_scheduled:
            return f"{start:%Y-%m-%d %H:%M} UTC (scheduled date)"
        return f"{start:%Y-%m-%d %H:%M} to {self.end_timestamp.astimezone(UTC):%Y-%m-%d %H:%M} UTC"

    def format(self, amount):
        return self.credit_type.format(amount)


KIND_SUFFIX = {
    Invoice.Type.SCHEDULED: " (scheduled)",
    Invoice.Type.USAGE_CONSOLIDATED: " (consolidated)",
}


class InvoiceLineItem(models.Model):
    """One line of an invoice: usage per group values and tier, a fee, or a balance application."""

    class Type(models.TextChoices):
        USAGE = "usage", "Usage"
        SUBSCRIPTION = "subscription", "Subscription"
        SCHEDULED = "scheduled", "Scheduled charge"
        COMMIT_PURCHASE = "commit_purchase", "Commit purchase"
        APPLIED_COMMIT_OR_CREDIT = "applied_commit_or_credit", "Commit or credit applied"
        POSTPAID_TRUEUP = "postpaid_trueup", "Postpaid commit true-up"
        CPU_CONVERSION = "cpu_conversion", "Custom unit conversion"
        DISCOUNT = "discount", "Discount"
        PROFESSIONAL_SERVICE = "professional_service", "Professional service"
        TAX = "tax", "Tax"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="line_items")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=300)
    type = models.CharField(max_length=32, choices=Type.choices)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    product_type = models.CharField(max_length=32, blank=True)
    credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, related_name="+", verbose_name="pricing unit"
    )
    quantity = models.DecimalField(**MONEY, null=True, blank=True)
    unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    total = models.DecimalField(**MONEY)
    starting_at = models.DateTimeField(null=True, blank=True)
    ending_before = models.DateTimeField(null=True, blank=True)
    group_key = models.CharField(max_length=200, blank=True)
    group_value = models.CharField(max_length=500, blank=True)
    pricing_group_values = models.JSONField(default=dict, blank=True)
    presentation_group_values = models.JSONField(default=dict, blank=True)
    tier_level = models.PositiveSmallIntegerField(null=True, blank=True)
    tier_starting_at = models.DecimalField(**MONEY, null=True, blank=True)
    tier_size = models.DecimalField(**MONEY, null=True, blank=True)
    is_prorated = models.BooleanField(default=False)
    is_unpriced = models.BooleanField(
        default=False,
        help_text="Usage was metered but its group values have no rate: no charge.",
    )
    commit_id = models.UUIDField(null=True, blank=True)
    commit_segment_id = models.UUIDField(
        null=True, blank=True, help_text="The commit's or credit's access segment drawn."
    )
    applied_commit_or_credit_id = models.UUIDField(null=True, blank=True)
    applied_commit_or_credit_type = models.CharField(max_length=10, blank=True)
    subscription_id = models.UUIDField(null=True, blank=True)
    scheduled_charge_id = models.UUIDField(null=True, blank=True)
    balance_remaining = models.DecimalField(**MONEY, null=True, blank=True)
    discount_id = models.UUIDField(null=True, blank=True)
    professional_service_id = models.UUIDField(null=True, blank=True)
    # On a consolidated invoice's lines: the constituent invoice and line it was copied from.
    origin_invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    origin_line_item_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return self.name


class InvoiceNumberSequence(models.Model):
    """The last invoice number issued. Finalization locks this row and takes the next number in
    the same transaction, so numbers have no gaps and no duplicates even with several workers."""

    name = models.CharField(max_length=32, primary_key=True)
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_number}"
