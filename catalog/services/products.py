"""Products: create, update (now or scheduled), archive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    BillableMetric,
    Product,
    ProductUpdate,
)
from ..selectors import product_state_at
from .common import already_archived, save_clean


@dataclass(frozen=True)
class QuantityConversion:
    conversion_factor: Decimal
    operation: str
    name: str = ""


@dataclass(frozen=True)
class QuantityRounding:
    decimal_places: int
    rounding_method: str


def _metric_usable(metric: BillableMetric | None) -> None:
    if metric is not None and metric.archived_at is not None:
        raise ValidationError(
            {"billable_metric": "This billable metric is archived; new products cannot use it."}
        )


@transaction.atomic
def product_create(
    *,
    name: str,
    type: str,
    billable_metric: BillableMetric | None = None,
    pricing_group_key: Sequence[str] = (),
    presentation_group_key: Sequence[str] = (),
    quantity_conversion: QuantityConversion | None = None,
    quantity_rounding: QuantityRounding | None = None,
    composite_products: Sequence[Product] = (),
    composite_tags: Sequence[str] = (),
    exclude_free_usage: bool = False,
    is_refundable: bool = True,
    tags: Sequence[str] = (),
    custom_fields: dict | None = None,
    created_by: str = "admin",
) -> Product:
    _metric_usable(billable_metric)
    product = Product(
        name=name,
        type=type,
        billable_metric=billable_metric,
        pricing_group_key=list(pricing_group_key),
        presentation_group_key=list(presentation_group_key),
        composite_tags=list(composite_tags),
        exclude_free_usage=exclude_free_usage,
        is_refundable=is_refundable,
        tags=list(tags),
        custom_fields=custom_fields or {},
        created_by=created_by,
    )
    _apply_conversion(product, quantity_conversion)
    _apply_rounding(product, quantity_rounding)
    if composite_products and type != Product.Type.COMPOSITE:
        raise ValidationError(
            {"composite_products": "Only composite products name other products."}
        )
    save_clean(product)
    product.composite_products.set(composite_products)
    return product


def _apply_conversion(product: Product, conversion: QuantityConversion | None) -> None:
    product.quantity_conversion_factor = conversion.conversion_factor if conversion else None
    product.quantity_conversion_operation = conversion.operation if conversion else ""
    product.quantity_conversion_name = (conversion.name or "") if conversion else ""


def _apply_rounding(product: Product, rounding: QuantityRounding | None) -> None:
    product.quantity_rounding_decimal_places = rounding.decimal_places if rounding else None
    product.quantity_rounding_method = rounding.rounding_method if rounding else ""


def product_update(
    *, product: Product, starting_at: datetime, changes: dict, created_by: str = "admin"
) -> ProductUpdate:
    """Record a change that takes effect at `starting_at` (in the past it applies retroactively).

    `changes` uses ProductUpdate.UPDATABLE_FIELDS; ids and numbers are stored as strings. The
    product as it would be from `starting_at` must still pass the product's own rules.
    """
    if product.archived_at is not None:
        raise ValidationError("This product is archived; it cannot be updated.")
    update = ProductUpdate(
        product=product, starting_at=starting_at, changes=changes, created_by=created_by
    )
    update.full_clean(exclude=["product"])
    if "billable_metric_id" in changes and changes["billable_metric_id"] is not None:
        metric = BillableMetric.objects.filter(pk=changes["billable_metric_id"]).first()
        if metric is None:
            raise ValidationError({"billable_metric": "No billable metric has this id."})
        _metric_usable(metric)
    if "composite_product_ids" in changes:
        found = Product.objects.filter(pk__in=changes["composite_product_ids"]).count()
        if found != len(set(changes["composite_product_ids"])):
            raise ValidationError({"composite_products": "Some composite products do not exist."})
    state = product_state_at(product=product, at=starting_at, extra_update=update)
    candidate = Product(
        pk=product.pk,
        name=state.name,
        type=product.type,
        billable_metric_id=state.billable_metric_id,
        pricing_group_key=list(state.pricing_group_key),
        presentation_group_key=list(state.presentation_group_key),
        quantity_conversion_factor=state.quantity_conversion_factor,
        quantity_conversion_operation=state.quantity_conversion_operation,
        quantity_conversion_name=state.quantity_conversion_name,
        quantity_rounding_decimal_places=state.quantity_rounding_decimal_places,
        quantity_rounding_method=state.quantity_rounding_method,
        composite_tags=list(state.composite_tags),
        tags=list(state.tags),
    )
    candidate.clean_fields(exclude=["id"])
    candidate.clean()
    update.save()
    return update


def product_archive(*, product: Product, now: datetime) -> Product:
    already_archived(product, "product")
    product.archived_at = now
    product.save(update_fields=["archived_at"])
    return product
