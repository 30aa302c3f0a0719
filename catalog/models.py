"""The offering: pricing units, billable metrics, products, rate cards and rates, packages.

Field names follow Metronome's API (reference section 3) so that the API maps 1:1 onto the models.
"""

import json
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from . import money

MONEY = {"max_digits": money.MAX_DIGITS, "decimal_places": money.DECIMAL_PLACES}


def group_values_key(values: dict | None) -> str:
    """A canonical text form of a {key: value} dict, so it can be compared and indexed."""
    return json.dumps(values or {}, sort_keys=True, separators=(",", ":"))


def is_hour_aligned(moment) -> bool:
    return moment is None or (moment.minute == 0 and moment.second == 0 and moment.microsecond == 0)


class ArchivableQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)


class Frequency(models.TextChoices):
    MONTHLY = "MONTHLY", "Monthly"
    QUARTERLY = "QUARTERLY", "Quarterly"
    ANNUAL = "ANNUAL", "Annual"
    WEEKLY = "WEEKLY", "Weekly"


class PricingUnit(models.Model):
    """A fiat currency or a custom unit ("credits"). `USD (cents)` is built in; its amounts are cents."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    is_currency = models.BooleanField(default=False)
    decimal_places = models.PositiveSmallIntegerField(
        default=2,
        help_text="Precision of the smallest amount: 0 for USD (cents), whose smallest amount is a cent.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(archived_at__isnull=True),
                name="pricingunit_unique_active_name",
                violation_error_message="An active pricing unit with this name already exists.",
            ),
            models.CheckConstraint(
                condition=Q(decimal_places__lte=12),
                name="pricingunit_decimal_places_lte_12",
                violation_error_message="A pricing unit has at most 12 decimal places.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def format(self, amount: Decimal | None) -> str:
        return money.format_money(amount, self.name)

    @classmethod
    def usd_cents(cls) -> "PricingUnit":
        return cls.objects.get(pk=money.USD_CENTS_ID)


class BillableMetric(models.Model):
    """Turns usage events into a quantity: filters, an aggregation over one property, group keys.

    Only the name may change after creation; a metric is archived, never deleted.
    """

    class AggregationType(models.TextChoices):
        COUNT = "COUNT", "Count"
        SUM = "SUM", "Sum"
        MAX = "MAX", "Max"
        UNIQUE = "UNIQUE", "Unique (distinct values)"
        LATEST = "LATEST", "Latest"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    aggregation_type = models.CharField(max_length=10, choices=AggregationType.choices)
    aggregation_key = models.CharField(
        max_length=200, blank=True, help_text="The property aggregated (not used by COUNT)."
    )
    event_type_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"in_values": [...]} or {"not_in_values": [...]}; empty matches every type.',
    )
    property_filters = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"name": ..., "exists": true, "in_values": [...], "not_in_values": [...]}]',
    )
    group_keys = models.JSONField(
        default=list,
        blank=True,
        help_text='Key sets, e.g. [["model_name"], ["model_name", "user_id"]].',
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(aggregation_type="COUNT") | ~Q(aggregation_key=""),
                name="billablemetric_key_unless_count",
                violation_error_message="An aggregation key is required unless the aggregation is COUNT.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.aggregation_type != self.AggregationType.COUNT and not self.aggregation_key:
            errors["aggregation_key"] = (
                "An aggregation key is required unless the aggregation is COUNT."
            )
        etf = self.event_type_filter or {}
        if not isinstance(etf, dict) or set(etf) - {"in_values", "not_in_values"}:
            errors["event_type_filter"] = (
                "Use in_values and/or not_in_values, each a list of event types."
            )
        elif any(
            not isinstance(etf.get(k, []), list)
            or not all(isinstance(v, str) and v for v in etf.get(k, []))
            for k in etf
        ):
            errors["event_type_filter"] = "Event types must be non-empty strings."
        problem = _property_filters_problem(self.property_filters)
        if problem:
            errors["property_filters"] = problem
        problem = _group_keys_problem(self.group_keys)
        if problem:
            errors["group_keys"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def event_types_in(self) -> list[str]:
        return list((self.event_type_filter or {}).get("in_values") or [])

    @property
    def event_types_not_in(self) -> list[str]:
        return list((self.event_type_filter or {}).get("not_in_values") or [])

    @property
    def all_group_keys(self) -> list[str]:
        """Every property named by any key set, in first-seen order."""
        seen: list[str] = []
        for key_set in self.group_keys or []:
            for key in key_set:
                if key not in seen:
                    seen.append(key)
        return seen

    def has_key_set(self, keys: list[str]) -> bool:
        wanted = set(keys)
        return any(set(key_set) == wanted for key_set in self.group_keys or [])

    def example_event(self) -> dict:
        """An event payload this metric would match (the admin's "Example event payload" box)."""
        properties: dict[str, str] = {}
        if self.aggregation_key:
            properties[self.aggregation_key] = (
                "user-123" if self.aggregation_type == self.AggregationType.UNIQUE else "100"
            )
        for key in self.all_group_keys:
            properties.setdefault(key, f"{key}-value")
        for rule in self.property_filters or []:
            name = rule.get("name")
            if not name:
                continue
            if rule.get("in_values"):
                properties[name] = rule["in_values"][0]
            elif rule.get("exists") is not False:
                excluded = set(rule.get("not_in_values") or [])
                value = properties.get(name, f"{name}-value")
                if value in excluded:
                    value = f"{name}-other"
                properties[name] = value
            else:
                properties.pop(name, None)
        event_type = (self.event_types_in or ["your_event_type"])[0]
        if event_type in self.event_types_not_in:
            event_type = f"not_{event_type}"
        return {
            "transaction_id": "2c5ee6e3-unique-per-event",
            "customer_id": "your-customer-id-or-alias",
            "event_type": event_type,
            "timestamp": "2026-01-01T00:00:00Z",
            "properties": properties,
        }


def _property_filters_problem(value) -> str | None:
    if not isinstance(value, list):
        return "Property filters must be a list."
    for index, rule in enumerate(value):
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str) or not rule["name"]:
            return f"Property filter {index + 1} needs a property name."
        unknown = set(rule) - {"name", "exists", "in_values", "not_in_values"}
        if unknown:
            return f"Property filter {index + 1} has unknown fields: {', '.join(sorted(unknown))}."
        if "exists" in rule and rule["exists"] is not None and not isinstance(rule["exists"], bool):
            return f"Property filter {index + 1}: exists must be true or false."
        for key in ("in_values", "not_in_values"):
            if (
                key in rule
                and rule[key] is not None
                and (
                    not isinstance(rule[key], list)
                    or not all(isinstance(v, str) for v in rule[key])
                )
            ):
                return f"Property filter {index + 1}: {key} must be a list of strings."
    return None


def _group_keys_problem(value) -> str | None:
    if not isinstance(value, list):
        return "Group keys must be a list of key sets."
    for index, key_set in enumerate(value):
        if (
            not isinstance(key_set, list)
            or not key_set
            or not all(isinstance(k, str) and k for k in key_set)
        ):
            return f"Group key set {index + 1} must be a non-empty list of property names."
        if len(set(key_set)) != len(key_set):
            return f"Group key set {index + 1} names a property twice."
    return None


class Product(models.Model):
    """A named invoice line: USAGE (priced from a metric), SUBSCRIPTION, COMPOSITE or FIXED."""

    class Type(models.TextChoices):
        USAGE = "USAGE", "Usage"
        SUBSCRIPTION = "SUBSCRIPTION", "Subscription"
        COMPOSITE = "COMPOSITE", "Composite"
        FIXED = "FIXED", "Fixed"
        PRO_SERVICE = "PRO_SERVICE", "Professional service"

    class ConversionOperation(models.TextChoices):
        MULTIPLY = "MULTIPLY", "Multiply"
        DIVIDE = "DIVIDE", "Divide"

    class RoundingMethod(models.TextChoices):
        ROUND_UP = "ROUND_UP", "Round up"
        ROUND_DOWN = "ROUND_DOWN", "Round down"
        ROUND_HALF_UP = "ROUND_HALF_UP", "Round half up"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    billable_metric = models.ForeignKey(
        BillableMetric, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    pricing_group_key = models.JSONField(default=list, blank=True)
    presentation_group_key = models.JSONField(default=list, blank=True)
    quantity_conversion_factor = models.DecimalField(**MONEY, null=True, blank=True)
    quantity_conversion_operation = models.CharField(
        max_length=8, choices=ConversionOperation.choices, blank=True
    )
    quantity_conversion_name = models.CharField(max_length=200, blank=True)
    quantity_rounding_decimal_places = models.PositiveSmallIntegerField(null=True, blank=True)
    quantity_rounding_method = models.CharField(
        max_length=16, choices=RoundingMethod.choices, blank=True
    )
    composite_products = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="+"
    )
    composite_tags = models.JSONField(default=list, blank=True)
    exclude_free_usage = models.BooleanField(default=False)
    is_refundable = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(type="USAGE") & Q(billable_metric__isnull=False))
                | (~Q(type="USAGE") & Q(billable_metric__isnull=True)),
                name="product_metric_iff_usage",
                violation_error_message=(
                    "A usage product needs a billable metric; other product types must not have one."
                ),
            ),
            models.CheckConstraint(
                condition=(
                    Q(quantity_conversion_factor__isnull=True, quantity_conversion_operation="")
                    | Q(quantity_conversion_factor__gt=0) & ~Q(quantity_conversion_operation="")
                ),
                name="product_conversion_complete",
                violation_error_message=(
                    "A quantity conversion needs both a positive factor and an operation."
                ),
            ),
            models.CheckConstraint(
                condition=(
                    Q(quantity_rounding_decimal_places__isnull=True, quantity_rounding_method="")
                    | Q(quantity_rounding_decimal_places__isnull=False)
                    & ~Q(quantity_rounding_method="")
                ),
                name="product_rounding_complete",
                violation_error_message="Quantity rounding needs both decimal places and a method.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        metric = self.billable_metric if self.billable_metric_id else None
        if self.type == self.Type.USAGE:
            if metric is None:
                errors["billable_metric"] = "A usage product needs a billable metric."
        elif metric is not None:
            errors["billable_metric"] = (
                f"Only usage products have a billable metric; a {self.get_type_display().lower()} "
                "product must not have one."
            )
        for field in ("pricing_group_key", "presentation_group_key", "tags", "composite_tags"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                errors[field] = "Must be a list of names."
        if (
            metric is not None
            and "pricing_group_key" not in errors
            and "presentation_group_key" not in errors
        ):
            keys = list(self.pricing_group_key) + list(self.presentation_group_key)
            if len(set(keys)) != len(keys):
                errors["presentation_group_key"] = (
                    "A key cannot be both a pricing and a presentation group key."
                )
            elif keys and not metric.has_key_set(keys):
                sets = "; ".join(", ".join(s) for s in metric.group_keys) or "none"
                errors["pricing_group_key"] = (
                    "Pricing and presentation group keys together must equal one of the metric's "
                    f"group key sets ({sets})."
                )
        elif self.type != self.Type.USAGE and (
            self.pricing_group_key or self.presentation_group_key
        ):
            errors["pricing_group_key"] = "Only usage products have group keys."
        if (self.quantity_conversion_factor is None) != (not self.quantity_conversion_operation):
            errors["quantity_conversion_factor"] = (
                "A quantity conversion needs both a factor and an operation."
            )
        elif self.quantity_conversion_factor is not None and self.quantity_conversion_factor <= 0:
            errors["quantity_conversion_factor"] = "The conversion factor must be positive."
        if (self.quantity_rounding_decimal_places is None) != (not self.quantity_rounding_method):
            errors["quantity_rounding_method"] = (
                "Quantity rounding needs both decimal places and a method."
            )
        if errors:
            raise ValidationError(errors)


class ProductUpdate(models.Model):
    """A change to a product that takes effect at `starting_at` (hour-aligned; past = retroactive).

    The product row keeps the state it was created with; `catalog.selectors.product_state_at`
    applies the updates that have started by a given time, in order, to get the state then.
    `changes` holds only the fields the update sets, under the API's names (UPDATABLE_FIELDS).
    """

    UPDATABLE_FIELDS = (
        "name",
        "billable_metric_id",
        "pricing_group_key",
        "presentation_group_key",
        "quantity_conversion",
        "quantity_rounding",
        "composite_product_ids",
        "composite_tags",
        "exclude_free_usage",
        "is_refundable",
        "tags",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="updates")
    starting_at = models.DateTimeField(help_text="On an hour boundary (UTC).")
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")

    class Meta:
        ordering = ["starting_at", "created_at"]

    def __str__(self) -> str:
        return f"{self.product} from {self.starting_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not is_hour_aligned(self.starting_at):
            errors["starting_at"] = "Must be on an hour boundary (minutes and seconds zero, UTC)."
        if not isinstance(self.changes, dict):
            errors["changes"] = "Changes must be an object."
        elif set(self.changes) - set(self.UPDATABLE_FIELDS):
            unknown = ", ".join(sorted(set(self.changes) - set(self.UPDATABLE_FIELDS)))
            errors["changes"] = f"These fields cannot be updated: {unknown}."
        elif not self.changes:
            errors["changes"] = "An update must change at least one field."
        if errors:
            raise ValidationError(errors)


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
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

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
        SUBSCRIPTION = "SUBSCRIPTION", "Subscription"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="rates")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="rates")
    entitled = models.BooleanField(default=True)
    rate_type = models.CharField(max_length=16, choices=RateType.choices, default=RateType.FLAT)
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
                Product.Type.COMPOSITE: {self.RateType.PERCENTAGE},
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
        if errors:
            raise ValidationError(errors)
        self.validate_no_overlap()

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
    """One graduated tier of a TIERED rate (or of its commit rate); the last has no size."""

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
        return f"Tier {self.level}: {self.size or 'rest'} at {self.price}"


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
        choices=[("FIRST_OF_MONTH", "First of month"), ("CONTRACT_START", "Contract start")],
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
