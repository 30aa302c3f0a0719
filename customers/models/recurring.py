"""Recurring commits and credits (templates that make a commit or credit each period) and a
subscription's quantity over time (its seats, for a SEAT_BASED one)."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog import money
from catalog.models import MONEY, Frequency, PricingUnit, Product

from ..hierarchy import CHILD_ACCESS_HELP, child_access_errors
from .common import (
    ACCESS_TYPE_HELP,
    SPECIFIERS_HELP,
    AccessType,
    quantity_errors,
    specifier_errors,
    start_before_end,
    window_errors,
)
from .contracts import Contract
from .terms import Subscription


class RecurringBalance(models.Model):
    """A recurring commit or credit: from `starting_at` until `ending_before` (or the contract's
    end), one commit (PREPAID, invoiced `invoice_*` at the start of each period when given) or
    credit per period of `recurrence_frequency` (empty: the contract's usage statement periods),
    each usable for `duration_periods` periods. The first and last may be prorated (`proration`).
    With a subscription, the amounts (access and invoice) are per unit of its quantity: POOLED,
    one balance for all; INDIVIDUAL, one balance per seat of a SEAT_BASED subscription. Seats
    added inside a period top it up (`prorate_seat_increases`: for the part of the period left,
    else in full); seats removed take nothing back, and the next period has fewer. A prorated
    amount is rounded once, on the whole amount, half up to the unit's smallest amount, or as
    `access_rounding_*` / `invoice_rounding_*` say (Metronome's `proration_rounding`: places in
    the stored unit, negative for powers of ten)."""

    class Kind(models.TextChoices):
        COMMIT = "COMMIT", "Recurring commit"
        CREDIT = "CREDIT", "Recurring credit"

    class Proration(models.TextChoices):
        NONE = "NONE", "None"
        FIRST = "FIRST", "First"
        LAST = "LAST", "Last"
        FIRST_AND_LAST = "FIRST_AND_LAST", "First and last"

    class RoundingMethod(models.TextChoices):
        HALF_UP = "HALF_UP", "Half up"
        FLOOR = "FLOOR", "Down (floor)"
        CEILING = "CEILING", "Up (ceiling)"

    class Allocation(models.TextChoices):
        POOLED = "POOLED", "Pooled"
        INDIVIDUAL = "INDIVIDUAL", "Per seat"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="recurring_balances"
    )
    kind = models.CharField(max_length=6, choices=Kind.choices)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", limit_choices_to={"type": "FIXED"}
    )
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    priority = models.DecimalField(**MONEY, default=0)
    rate_type = models.CharField(max_length=12, default="LIST_RATE")
    access_type = models.CharField(
        max_length=8,
        choices=AccessType.choices,
        default=AccessType.SPEND,
        help_text=ACCESS_TYPE_HELP,
    )
    applicable_products = models.ManyToManyField(Product, blank=True, related_name="+")
    applicable_product_tags = models.JSONField(default=list, blank=True)
    specifiers = models.JSONField(
        default=list, blank=True, help_text=SPECIFIERS_HELP + " Each balance made has them."
    )
    credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, default=money.USD_CENTS_ID, related_name="+"
    )
    access_unit_price = models.DecimalField(**MONEY)
    access_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    invoice_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    invoice_quantity = models.DecimalField(**MONEY, null=True, blank=True)
    duration_periods = models.DecimalField(**MONEY, default=1)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    proration = models.CharField(
        max_length=14, choices=Proration.choices, default=Proration.FIRST_AND_LAST
    )
    access_rounding_places = models.SmallIntegerField(
        null=True,
        blank=True,
        help_text="Prorated access amounts: decimal places in the stored unit (cents for USD; "
        "-2 rounds to whole dollars). Empty: half up to the unit's smallest amount.",
    )
    access_rounding_method = models.CharField(
        max_length=7, choices=RoundingMethod.choices, blank=True
    )
    invoice_rounding_places = models.SmallIntegerField(
        null=True, blank=True, help_text="Prorated invoice amounts (commits), as above."
    )
    invoice_rounding_method = models.CharField(
        max_length=7, choices=RoundingMethod.choices, blank=True
    )
    recurrence_frequency = models.CharField(
        max_length=10,
        choices=[*Frequency.choices, ("DAILY", "Daily")],
        blank=True,
        help_text="Empty: the contract's.",
    )
    rollover_fraction = models.DecimalField(**MONEY, null=True, blank=True)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    allocation = models.CharField(
        max_length=10, choices=Allocation.choices, default=Allocation.POOLED
    )
    prorate_seat_increases = models.BooleanField(
        default=True,
        verbose_name="prorate seat increases",
        help_text="Metronome's apply_seat_increase_config.is_prorated. Seats added inside a "
        "period add the per-seat amount times the part of the period left; unticked, the whole "
        "per-seat amount.",
    )
    child_access = models.JSONField(
        null=True, blank=True, help_text=CHILD_ACCESS_HELP + " Each balance made has it."
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starting_at", "created_at"]
        verbose_name = "recurring commit or credit"
        verbose_name_plural = "recurring commits and credits"
        constraints = [
            start_before_end("recurringbalance"),
            models.CheckConstraint(
                condition=Q(access_unit_price__gte=0) & Q(duration_periods__gt=0),
                name="recurringbalance_amounts",
                violation_error_message="The amount cannot be negative and the duration is "
                "positive.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(access_rounding_places__isnull=True, access_rounding_method="")
                    | (Q(access_rounding_places__isnull=False) & ~Q(access_rounding_method=""))
                )
                & (
                    Q(invoice_rounding_places__isnull=True, invoice_rounding_method="")
                    | (Q(invoice_rounding_places__isnull=False) & ~Q(invoice_rounding_method=""))
                ),
                name="recurringbalance_rounding_whole",
                violation_error_message="A proration rounding gives both its decimal places and "
                "its method.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()}: {self.product}"

    def rounding(self, prefix: str) -> tuple[int, str] | None:
        """The `access` or `invoice` proration rounding as (places, method), None when unset."""
        places = getattr(self, f"{prefix}_rounding_places")
        return None if places is None else (places, getattr(self, f"{prefix}_rounding_method"))

    def proration_rounding(self) -> dict[str, tuple[int, str]]:
        """{"access"|"invoice": (places, method)} for the roundings that are set."""
        return {p: r for p in ("access", "invoice") if (r := self.rounding(p)) is not None}

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=True)
        if self.product_id and self.product.type != Product.Type.FIXED:
            errors["product"] = "Recurring commits and credits use a fixed product."
        if self.subscription_id is None and self.access_quantity is None:
            errors["access_quantity"] = "Give a quantity, or attach a subscription."
        if (
            self.allocation == self.Allocation.INDIVIDUAL
            and self.subscription_id
            and self.subscription.quantity_management_mode
            != Subscription.QuantityManagementMode.SEAT_BASED
        ):
            errors["allocation"] = "A per-seat allocation needs a SEAT_BASED subscription."
        if self.kind == self.Kind.CREDIT and self.invoice_unit_price is not None:
            errors["invoice_unit_price"] = "Credits are not invoiced."
        if self.kind == self.Kind.CREDIT and self.invoice_rounding_method:
            errors["invoice_rounding_method"] = "Credits are not invoiced."
        low, high = money.PRORATION_ROUNDING_PLACES
        for prefix in ("access", "invoice"):
            places = getattr(self, f"{prefix}_rounding_places")
            method = getattr(self, f"{prefix}_rounding_method")
            if (places is None) != (not method):
                errors[f"{prefix}_rounding_method"] = (
                    "Give both the decimal places and the method, or neither."
                )
            elif places is not None and not low <= places <= high:
                errors[f"{prefix}_rounding_places"] = f"Between {low} and {high}."
        specifiers = specifier_errors(self.specifiers, tags=self.applicable_product_tags)
        if specifiers:
            errors["specifiers"] = specifiers
        if self.access_type == AccessType.QUANTITY:
            errors.update(
                quantity_errors(
                    rate_type=self.rate_type,
                    tags=self.applicable_product_tags,
                    specifiers=self.specifiers,
                )
            )
        access = child_access_errors(self.child_access)
        if access:
            errors["child_access"] = access
        if errors:
            raise ValidationError(errors)


class SubscriptionQuantity(models.Model):
    """A subscription's quantity from `starting_at` until the next row's start: a number
    (QUANTITY_ONLY) or assigned seat ids plus unassigned seats (SEAT_BASED)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="quantities"
    )
    starting_at = models.DateTimeField()
    quantity = models.DecimalField(**MONEY)
    seat_ids = models.JSONField(default=list, blank=True)
    unassigned_seats = models.DecimalField(**MONEY, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subscription", "starting_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "starting_at"],
                name="subscriptionquantity_one_per_start",
                violation_error_message="The subscription already changes quantity then.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0) & Q(unassigned_seats__gte=0),
                name="subscriptionquantity_not_negative",
                violation_error_message="Quantities cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} from {self.starting_at:%Y-%m-%d %H:%M}"
