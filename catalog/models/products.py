"""Products (the invoice lines) and their scheduled updates."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .common import MONEY, ArchivableQuerySet, is_hour_aligned
from .metrics import BillableMetric


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
    display_unit = models.CharField(
        max_length=60,
        blank=True,
        help_text=(
            'What one unit of the billed quantity is, as invoices print it ("minutes", '
            '"1M tokens"); else the quantity conversion\'s name.'
        ),
    )
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

    @property
    def unit_label(self) -> str:
        """The unit invoices print beside a quantity of this product ("" when none is named)."""
        return self.display_unit or self.quantity_conversion_name

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
            elif keys and not metric.has_key_subset(keys):
                sets = "; ".join(", ".join(s) for s in metric.group_keys) or "none"
                errors["pricing_group_key"] = (
                    "Pricing and presentation group keys together must be a subset of one of the "
                    f"metric's group key sets ({sets})."
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
