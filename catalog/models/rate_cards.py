"""Rate cards, their aliases and unit conversions, rates and tiers."""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from .. import money
from .common import MONEY, ArchivableQuerySet, Frequency, group_values_key, is_hour_aligned
from .products import Product
from .units import PricingUnit


class RateCard(models.Model):
    """A price book in one fiat pricing unit, shared by many contracts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    fiat_credit_type = models.ForeignKey(
        PricingUnit,
        on_delete=models.PROTECT,
        default=money.USD_CENTS_ID,
        related_name="fiat_rate_cards",
        verbose_name="fiat pricing unit",
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    product_order = models.JSONField(
        default=list,
        blank=True,
        help_text="Product ids in the order invoices and the price book list them; products "
        "not listed follow, by name.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def product_position(self, product_id, name: str = "") -> tuple:
        """A sort key: listed products first in the card's order, then the rest by name."""
        order = [str(pk) for pk in self.product_order or []]
        pid = str(product_id)
        return (order.index(pid), "", pid) if pid in order else (len(order), name, pid)

    def clean(self) -> None:
        if self.fiat_credit_type_id and not self.fiat_credit_type.is_currency:
            raise ValidationError(
                {"fiat_credit_type": "A rate card's pricing unit must be a fiat currency."}
            )


class RateCardAlias(models.Model):
    """Another name a contract can use to pick this rate card, optionally time-bounded."""

    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=200)
    starting_at = models.DateTimeField(null=True, blank=True)
    ending_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "rate card aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["name", "starting_at"],
                name="ratecardalias_unique_name_start",
                violation_error_message="This alias is already used from that date.",
            ),
            models.CheckConstraint(
                condition=Q(ending_before__isnull=True)
                | Q(starting_at__isnull=True)
                | Q(ending_before__gt=F("starting_at")),
                name="ratecardalias_start_before_end",
                violation_error_message="The alias must start before it ends.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CreditTypeConversion(models.Model):
    """How many fiat units one custom unit is worth on a rate card (add-only)."""

    rate_card = models.ForeignKey(
        RateCard, on_delete=models.CASCADE, related_name="credit_type_conversions"
    )
    custom_credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, related_name="+", verbose_name="custom pricing unit"
    )
    fiat_per_custom_credit = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rate_card", "custom_credit_type"],
                name="conversion_unique_per_card_unit",
                violation_error_message="This rate card already converts that pricing unit.",
            ),
            models.CheckConstraint(
                condition=Q(fiat_per_custom_credit__gt=0),
                name="conversion_positive",
                violation_error_message="The conversion rate must be positive.",
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.custom_credit_type} = {self.fiat_per_custom_credit}"

    def clean(self) -> None:
        if self.custom_credit_type_id and self.custom_credit_type.is_currency:
            raise ValidationError(
                {"custom_credit_type": "Conversions are from a custom (non-fiat) pricing unit."}
            )


class Rate(models.Model):
    """The price of one product (and one set of pricing group values) on a rate card, over time."""

    class RateType(models.TextChoices):
        FLAT = "FLAT", "Flat"
        TIERED = "TIERED", "Tiered"
        PERCENTAGE = "PERCENTAGE", "Percentage"
        TIERED_PERCENTAGE = "TIERED_PERCENTAGE", "Tiered percentage"
        SUBSCRIPTION = "SUBSCRIPTION", "Subscription"

    class CompositeScope(models.TextChoices):
        """Whose spend a composite (PERCENTAGE) rate counts (Metronome's composite charges)."""

        CONTRACT = "CONTRACT", "This contract's spend"
        CUSTOMER = "CUSTOMER", "The customer's spend on all its contracts"

    TIERED_TYPES = (RateType.TIERED, RateType.TIERED_PERCENTAGE)
    COMPOSITE_TYPES = (RateType.PERCENTAGE, RateType.TIERED_PERCENTAGE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="rates")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="rates")
    entitled = models.BooleanField(default=True)
    rate_type = models.CharField(max_length=20, choices=RateType.choices, default=RateType.FLAT)
    starting_at = models.DateTimeField(help_text="Inclusive, on an hour boundary (UTC).")
    ending_before = models.DateTimeField(
        null=True, blank=True, help_text="Exclusive, on an hour boundary (UTC)."
    )
    price = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Per unit (FLAT), per period (SUBSCRIPTION) or a 0-1 fraction (PERCENTAGE).",
    )
    pricing_group_values = models.JSONField(default=dict, blank=True)
    pricing_group_values_key = models.CharField(max_length=1000, editable=False, default="{}")
    credit_type = models.ForeignKey(
        PricingUnit,
        on_delete=models.PROTECT,
        default=money.USD_CENTS_ID,
        related_name="+",
        verbose_name="pricing unit",
    )
    billing_frequency = models.CharField(max_length=10, choices=Frequency.choices, blank=True)
    quantity = models.DecimalField(**MONEY, null=True, blank=True)
    is_prorated = models.BooleanField(default=False)
    commit_rate_type = models.CharField(
        max_length=16,
        choices=[("FLAT", "Flat"), ("TIERED", "Tiered")],
        blank=True,
        help_text="Price used while drawing down a commit with rate type COMMIT_RATE.",
    )
    commit_rate_price = models.DecimalField(**MONEY, null=True, blank=True)
    composite_minimum = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text=(
            "Composite rates: the least charged per billing period (the greater of the "
            "percentage and this), in the rate's pricing unit; prorated over a part period."
        ),
    )
    composite_scope = models.CharField(
        max_length=8,
        choices=CompositeScope.choices,
        default=CompositeScope.CONTRACT,
        help_text="Composite rates: the spend counted; customer-wide spend is billed on one contract.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product__name", "pricing_group_values_key", "starting_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ending_before__isnull=True) | Q(ending_before__gt=F("starting_at")),
                name="rate_start_before_end",
                violation_error_message="A rate must start before it ends.",
            ),
            models.UniqueConstraint(
                fields=[
                    "rate_card",
                    "product",
                    "pricing_group_values_key",
                    "billing_frequency",
                    "starting_at",
                ],
                name="rate_unique_start",
                violation_error_message=(
                    "This product already has a rate starting at that time for these pricing group values."
                ),
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0),
                name="rate_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(rate_type="PERCENTAGE") | Q(price__gte=0, price__lte=1),
                name="rate_percentage_fraction",
                violation_error_message="A percentage rate is a fraction between 0 and 1.",
            ),
            models.CheckConstraint(
                condition=Q(composite_minimum__isnull=True) | Q(composite_minimum__gte=0),
                name="rate_composite_minimum_not_negative",
                violation_error_message="A composite minimum cannot be negative.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["rate_card", "product", "starting_at"], name="rate_card_product_start"
            )
        ]

    def __str__(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in sorted((self.pricing_group_values or {}).items()))
        return f"{self.product} {values}".strip() + f" from {self.starting_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        self.pricing_group_values_key = group_values_key(self.pricing_group_values)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.clean_rules()
        self.validate_no_overlap()

    def clean_rules(self) -> None:
        """Every rule of a rate on its own (not its neighbours: see `validate_no_overlap`)."""
        # The key is derived on save; refresh it here too so that full_clean()'s unique check
        # compares this rate's real group values, not the default "{}".
        if isinstance(self.pricing_group_values, dict):
            self.pricing_group_values_key = group_values_key(self.pricing_group_values)
        errors: dict[str, str] = {}
        for field in ("starting_at", "ending_before"):
            if not is_hour_aligned(getattr(self, field)):
                errors[field] = "Must be on an hour boundary (minutes and seconds zero, UTC)."
        if self.starting_at and self.ending_before and self.ending_before <= self.starting_at:
            errors["ending_before"] = "A rate must start before it ends."
        pgv = self.pricing_group_values
        if not isinstance(pgv, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pgv.items()
        ):
            errors["pricing_group_values"] = "Pricing group values map each key to a text value."
        elif self.product_id:
            expected = set(self.product.pricing_group_key or [])
            if set(pgv) != expected and (pgv or expected):
                errors["pricing_group_values"] = (
                    "Give a value for each pricing group key of the product "
                    f"({', '.join(sorted(expected)) or 'none'})."
                )
        if (
            self.rate_type
            in (
                self.RateType.FLAT,
                self.RateType.SUBSCRIPTION,
                self.RateType.PERCENTAGE,
            )
            and self.price is None
        ):
            errors["price"] = f"A {self.get_rate_type_display().lower()} rate needs a price."
        if (
            self.rate_type == self.RateType.PERCENTAGE
            and self.price is not None
            and not (0 <= self.price <= 1)
        ):
            errors["price"] = "A percentage rate is a fraction between 0 and 1."
        if self.price is not None and self.price < 0:
            errors["price"] = "A price cannot be negative."
        if self.product_id:
            allowed = {
                Product.Type.USAGE: {self.RateType.FLAT, self.RateType.TIERED},
                Product.Type.SUBSCRIPTION: {self.RateType.SUBSCRIPTION},
                Product.Type.COMPOSITE: {self.RateType.PERCENTAGE, self.RateType.TIERED_PERCENTAGE},
                Product.Type.FIXED: {self.RateType.FLAT},
                Product.Type.PRO_SERVICE: {self.RateType.FLAT},
            }[self.product.type]
            if self.rate_type not in allowed:
                errors["rate_type"] = (
                    f"A {self.product.get_type_display().lower()} product takes a "
                    f"{' or '.join(sorted(a.label.lower() for a in allowed))} rate."
                )
        if self.rate_type == self.RateType.SUBSCRIPTION and not self.billing_frequency:
            errors["billing_frequency"] = "A subscription rate needs a billing frequency."
        if self.rate_type == self.RateType.TIERED_PERCENTAGE and self.price is not None:
            errors["price"] = "A tiered percentage rate is priced by its tiers, not by a price."
        if self.rate_type not in self.COMPOSITE_TYPES:
            if self.composite_minimum is not None:
                errors["composite_minimum"] = "Only a composite (percentage) rate has a minimum."
            if self.composite_scope == self.CompositeScope.CUSTOMER:
                errors["composite_scope"] = "Only a composite (percentage) rate has a scope."
        if self.composite_minimum is not None and self.composite_minimum < 0:
            errors["composite_minimum"] = "A composite minimum cannot be negative."
        if errors:
            raise ValidationError(errors)

    def overlapping(self):
        """Rates of the same card, product, pricing group values and frequency that share time."""
        others = Rate.objects.filter(
            rate_card_id=self.rate_card_id,
            product_id=self.product_id,
            pricing_group_values_key=group_values_key(self.pricing_group_values),
            billing_frequency=self.billing_frequency,
        ).exclude(pk=self.pk)
        others = others.filter(
            Q(ending_before__isnull=True) | Q(ending_before__gt=self.starting_at)
        )
        if self.ending_before is not None:
            others = others.filter(starting_at__lt=self.ending_before)
        return others

    def validate_no_overlap(self) -> None:
        if not (self.rate_card_id and self.product_id and self.starting_at):
            return
        clash = self.overlapping().first()
        if clash is not None:
            end = f"{clash.ending_before:%Y-%m-%d %H:%M}" if clash.ending_before else "open-ended"
            raise ValidationError(
                {
                    "starting_at": (
                        "Overlaps another rate for the same product and pricing group values "
                        f"({clash.starting_at:%Y-%m-%d %H:%M} to {end}). End that rate first."
                    )
                }
            )


class RateTier(models.Model):
    """One graduated tier of a TIERED rate (or of its commit rate), or of a TIERED_PERCENTAGE
    composite rate (size: spend in the rate's pricing unit; price: a 0-1 fraction); the last has
    no size."""

    rate = models.ForeignKey(Rate, on_delete=models.CASCADE, related_name="tiers")
    for_commit_rate = models.BooleanField(default=False)
    level = models.PositiveSmallIntegerField(help_text="1 for the first tier.")
    size = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Units in this tier; empty for the last, open-ended tier.",
    )
    price = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["rate", "for_commit_rate", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate", "for_commit_rate", "level"],
                name="ratetier_unique_level",
                violation_error_message="Each tier level appears once.",
            ),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gt=0),
                name="ratetier_size_positive",
                violation_error_message="A tier size must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="ratetier_price_not_negative",
                violation_error_message="A tier price cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        # Its size and price are in their own columns, as money where they are money (a stored
        # price is in the pricing unit itself: cents for USD).
        return f"Tier {self.level}" + (" of the commit rate" if self.for_commit_rate else "")


def tiers_problem(tiers: list[tuple[Decimal | None, Decimal | None]]) -> str | None:
    """Check (size, price) pairs in order: positive sizes, only the last open-ended."""
    if not tiers:
        return "A tiered rate needs at least one tier."
    for index, (size, price) in enumerate(tiers, start=1):
        last = index == len(tiers)
        if price is None:
            return f"Tier {index} needs a price."
        if price < 0:
            return f"Tier {index}: a price cannot be negative."
        if size is not None and size <= 0:
            return f"Tier {index}: a tier size must be positive."
        if size is None and not last:
            return f"Tier {index} has no size, but only the last tier may be open-ended."
        if size is not None and last:
            return "The last tier must be open-ended (leave its size empty)."
    return None
