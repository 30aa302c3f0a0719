"""The other contract terms: schedule items, overrides, scheduled charges, subscriptions."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import (
    MONEY,
    Frequency,
    PricingUnit,
    Product,
)

from .balances import Commit
from .common import start_before_end, window_errors
from .contracts import Contract


class ScheduleItem(models.Model):
    """One date of a schedule with its amount, or a unit price and a quantity."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    timestamp = models.DateTimeField()
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    quantity = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["timestamp"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=False)
                | Q(unit_price__isnull=False, quantity__isnull=False),
                name="%(class)s_amount_given",
                violation_error_message="Give an amount, or a unit price and a quantity.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d}"

    @property
    def total(self):
        if self.amount is not None:
            return self.amount
        if self.unit_price is None or self.quantity is None:
            return None
        return self.unit_price * self.quantity


class CommitInvoiceItem(ScheduleItem):
    """When and how much a prepaid commit is invoiced."""

    commit = models.ForeignKey(Commit, on_delete=models.CASCADE, related_name="invoice_schedule")

    class Meta(ScheduleItem.Meta):
        pass

    def __str__(self) -> str:
        # Its amount is in its own column, as money (stored, it is in the pricing unit: cents).
        return f"{self.timestamp:%Y-%m-%d}"


class Override(models.Model):
    """A negotiated price change on a contract: OVERWRITE, MULTIPLIER or TIERED multipliers.

    Its target is one of Metronome's two forms. Top level: the product OR a product with any of
    the tags. An override specifier (every field AND-ed): the product, the tags (all of them,
    `tags_match` ALL), pricing and presentation group values, billing frequency, commits. The
    specifier form is the one used as soon as any of its narrowing fields is set.
    """

    class Type(models.TextChoices):
        OVERWRITE = "OVERWRITE", "Overwrite"
        MULTIPLIER = "MULTIPLIER", "Multiplier"
        TIERED = "TIERED", "Tiered multipliers"

    class Target(models.TextChoices):
        LIST_RATE = "LIST_RATE", "List rate"
        COMMIT_RATE = "COMMIT_RATE", "Commit rate"

    class TagsMatch(models.TextChoices):
        """How `applicable_product_tags` pick products. Metronome's top-level tags: a product
        with any of them; an override specifier's `product_tags`: "products with all the
        specified tags"."""

        ANY = "ANY", "Any of the tags"
        ALL = "ALL", "All of the tags"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="overrides")
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.MULTIPLIER)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    applicable_product_tags = models.JSONField(default=list, blank=True)
    tags_match = models.CharField(
        max_length=3,
        choices=TagsMatch.choices,
        default=TagsMatch.ANY,
        verbose_name="products with",
    )
    pricing_group_values = models.JSONField(default=dict, blank=True)
    presentation_group_values = models.JSONField(default=dict, blank=True)
    billing_frequency = models.CharField(
        max_length=10,
        choices=Frequency.choices,
        blank=True,
        help_text="Only the subscription rates billed at this frequency.",
    )
    commit_ids = models.JSONField(default=list, blank=True)
    multiplier = models.DecimalField(**MONEY, null=True, blank=True)
    overwrite_rate_type = models.CharField(
        max_length=8, choices=[("FLAT", "Flat"), ("TIERED", "Tiered")], blank=True
    )
    overwrite_price = models.DecimalField(**MONEY, null=True, blank=True)
    overwrite_credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entitled = models.BooleanField(null=True, blank=True)
    priority = models.DecimalField(**MONEY, null=True, blank=True)
    is_commit_specific = models.BooleanField(default=False)
    target = models.CharField(max_length=12, choices=Target.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starting_at"]
        constraints = [
            start_before_end("override"),
            models.CheckConstraint(
                condition=~Q(type="MULTIPLIER") | Q(multiplier__gte=0),
                name="override_multiplier_given",
                violation_error_message="A multiplier override needs a multiplier of 0 or more.",
            ),
        ]

    def __str__(self) -> str:
        target = self.product or ", ".join(self.applicable_product_tags) or "all products"
        return f"{self.get_type_display()} on {target}"

    @property
    def is_specifier(self) -> bool:
        """Is the target one override specifier (every field AND-ed) rather than the top level
        (the product or any of the tags)?"""
        return bool(
            self.tags_match == self.TagsMatch.ALL
            or self.pricing_group_values
            or self.presentation_group_values
            or self.billing_frequency
            or self.commit_ids
        )

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if self.type == self.Type.MULTIPLIER and self.multiplier is None:
            errors["multiplier"] = "A multiplier override needs a multiplier."
        if self.type == self.Type.OVERWRITE and not self.overwrite_rate_type:
            errors["overwrite_rate_type"] = "An overwrite needs the new rate's type."
        if (
            self.type == self.Type.OVERWRITE
            and self.overwrite_rate_type == "FLAT"
            and self.overwrite_price is None
        ):
            errors["overwrite_price"] = "A flat overwrite needs a price."
        if (
            self.type == self.Type.TIERED
            and self.contract_id
            and (
                self.contract.multiplier_override_prioritization
                != Contract.MultiplierPrioritization.EXPLICIT
            )
        ):
            errors["type"] = "Tiered overrides need the contract's explicit override priority."
        if (
            self.contract_id
            and self.contract.multiplier_override_prioritization
            == Contract.MultiplierPrioritization.EXPLICIT
            and self.type != self.Type.OVERWRITE
            and self.priority is None
        ):
            errors["priority"] = "With explicit prioritization every multiplier needs a priority."
        if errors:
            raise ValidationError(errors)


class OverrideTier(models.Model):
    """A tier of an override: a multiplier (TIERED) or a price (a tiered OVERWRITE)."""

    override = models.ForeignKey(Override, on_delete=models.CASCADE, related_name="tiers")
    level = models.PositiveSmallIntegerField()
    size = models.DecimalField(**MONEY, null=True, blank=True)
    multiplier = models.DecimalField(**MONEY, null=True, blank=True)
    price = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["override", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["override", "level"],
                name="overridetier_unique_level",
                violation_error_message="Each tier level appears once.",
            ),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gt=0),
                name="overridetier_size_positive",
                violation_error_message="A tier size must be positive.",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.level}"


class ScheduledCharge(models.Model):
    """A fixed charge billed on given dates (one-off fees, installments)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="scheduled_charges"
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", limit_choices_to={"type": "FIXED"}
    )
    name = models.CharField(max_length=200, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        if self.product_id and self.product.type != Product.Type.FIXED:
            raise ValidationError({"product": "Scheduled charges use a fixed product."})


class ScheduledChargeItem(ScheduleItem):
    """One date of a scheduled charge, with its amount (or unit price x quantity)."""

    scheduled_charge = models.ForeignKey(
        ScheduledCharge, on_delete=models.CASCADE, related_name="schedule_items"
    )

    class Meta(ScheduleItem.Meta):
        pass


class Subscription(models.Model):
    """A recurring fee on the contract, priced by the rate card's SUBSCRIPTION rate."""

    class CollectionSchedule(models.TextChoices):
        ADVANCE = "ADVANCE", "In advance"
        ARREARS = "ARREARS", "In arrears"

    class QuantityManagementMode(models.TextChoices):
        QUANTITY_ONLY = "QUANTITY_ONLY", "Quantity"
        SEAT_BASED = "SEAT_BASED", "Seats"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"type": "SUBSCRIPTION"},
    )
    name = models.CharField(max_length=200, blank=True)
    billing_frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    collection_schedule = models.CharField(
        max_length=8, choices=CollectionSchedule.choices, default=CollectionSchedule.ADVANCE
    )
    is_prorated = models.BooleanField(default=True)
    initial_quantity = models.DecimalField(**MONEY, default=1)
    quantity_management_mode = models.CharField(
        max_length=14,
        choices=QuantityManagementMode.choices,
        default=QuantityManagementMode.QUANTITY_ONLY,
    )
    seat_group_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="SEAT_BASED: the event property naming the seat a usage event belongs to.",
    )
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starting_at"]
        constraints = [
            start_before_end("subscription"),
            models.CheckConstraint(
                condition=Q(initial_quantity__gte=0),
                name="subscription_quantity_not_negative",
                violation_error_message="The quantity cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if self.product_id and self.product.type != Product.Type.SUBSCRIPTION:
            errors["product"] = "Subscriptions use a subscription product."
        if (
            self.quantity_management_mode == self.QuantityManagementMode.SEAT_BASED
            and not self.seat_group_key
        ):
            errors["seat_group_key"] = "A SEAT_BASED subscription needs its seat group key."
        if errors:
            raise ValidationError(errors)
