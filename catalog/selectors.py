"""Reads of the offering: product state at a time, rates in effect, lists for the API and admin."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from . import money
from .models import (
    BillableMetric,
    Package,
    PricingUnit,
    Product,
    ProductUpdate,
    Rate,
    RateCard,
    RateCardAlias,
    group_values_key,
)


@dataclass(frozen=True)
class ProductState:
    """What a product is at one moment: its creation state with the updates started by then."""

    product_id: uuid.UUID
    type: str
    name: str
    billable_metric_id: uuid.UUID | None
    pricing_group_key: tuple[str, ...]
    presentation_group_key: tuple[str, ...]
    quantity_conversion_factor: Decimal | None
    quantity_conversion_operation: str
    quantity_conversion_name: str
    quantity_rounding_decimal_places: int | None
    quantity_rounding_method: str
    composite_product_ids: tuple[uuid.UUID, ...]
    composite_tags: tuple[str, ...]
    exclude_free_usage: bool
    is_refundable: bool
    tags: tuple[str, ...]
    applied_updates: tuple[uuid.UUID, ...] = field(default=())


def product_initial_state(*, product: Product) -> ProductState:
    composite_ids: tuple[uuid.UUID, ...] = ()
    if product.pk is not None and product.type == Product.Type.COMPOSITE:
        composite_ids = tuple(p.pk for p in product.composite_products.all())
    return ProductState(
        product_id=product.pk,
        type=product.type,
        name=product.name,
        billable_metric_id=product.billable_metric_id,
        pricing_group_key=tuple(product.pricing_group_key or ()),
        presentation_group_key=tuple(product.presentation_group_key or ()),
        quantity_conversion_factor=product.quantity_conversion_factor,
        quantity_conversion_operation=product.quantity_conversion_operation,
        quantity_conversion_name=product.quantity_conversion_name,
        quantity_rounding_decimal_places=product.quantity_rounding_decimal_places,
        quantity_rounding_method=product.quantity_rounding_method,
        composite_product_ids=composite_ids,
        composite_tags=tuple(product.composite_tags or ()),
        exclude_free_usage=product.exclude_free_usage,
        is_refundable=product.is_refundable,
        tags=tuple(product.tags or ()),
    )


def _apply(state: ProductState, update: ProductUpdate) -> ProductState:
    changes = update.changes or {}
    values = dict(state.__dict__)
    for key, value in changes.items():
        if key == "billable_metric_id":
            values[key] = uuid.UUID(str(value)) if value else None
        elif key in ("pricing_group_key", "presentation_group_key", "composite_tags", "tags"):
            values[key] = tuple(value or ())
        elif key == "composite_product_ids":
            values[key] = tuple(uuid.UUID(str(v)) for v in value or ())
        elif key == "quantity_conversion":
            values["quantity_conversion_factor"] = (
                Decimal(str(value["conversion_factor"])) if value else None
            )
            values["quantity_conversion_operation"] = value["operation"] if value else ""
            values["quantity_conversion_name"] = (value.get("name") or "") if value else ""
        elif key == "quantity_rounding":
            values["quantity_rounding_decimal_places"] = (
                int(value["decimal_places"]) if value else None
            )
            values["quantity_rounding_method"] = value["rounding_method"] if value else ""
        else:
            values[key] = value
    values["applied_updates"] = (*state.applied_updates, update.pk)
    return ProductState(**values)


def product_updates(*, product: Product) -> list[ProductUpdate]:
    """Updates in the order they apply (start, then the order they were made)."""
    return sorted(
        product.updates.all(), key=lambda u: (u.starting_at, u.created_at or u.starting_at)
    )


def product_state_at(
    *, product: Product, at: datetime, extra_update: ProductUpdate | None = None
) -> ProductState:
    """The product as it is at `at`: every update with `starting_at <= at` applied in order.

    The rating code uses this for the name, metric, group keys, conversion and rounding in effect
    at a time. `extra_update` is an unsaved update to include (to validate it before saving).
    """
    state = product_initial_state(product=product)
    updates = product_updates(product=product) if product.pk is not None else []
    if extra_update is not None:
        updates = [*updates, extra_update]
        updates.sort(key=lambda u: (u.starting_at, u.created_at is None, u.created_at))
    for update in updates:
        if update.starting_at <= at:
            state = _apply(state, update)
    return state


# --- Lists -------------------------------------------------------------------------------------------


ARCHIVE_FILTERS = ("ARCHIVED", "NOT_ARCHIVED", "ALL")


def _archive_filtered(queryset: QuerySet, archive_filter: str) -> QuerySet:
    if archive_filter == "ARCHIVED":
        return queryset.filter(archived_at__isnull=False)
    if archive_filter == "ALL":
        return queryset
    return queryset.filter(archived_at__isnull=True)


def pricing_units_list() -> QuerySet[PricingUnit]:
    return PricingUnit.objects.active()


def billable_metrics_list(*, include_archived: bool = False) -> QuerySet[BillableMetric]:
    queryset = BillableMetric.objects.all()
    return queryset if include_archived else queryset.active()


def products_list(*, archive_filter: str = "NOT_ARCHIVED") -> QuerySet[Product]:
    queryset = Product.objects.prefetch_related("updates", "composite_products")
    return _archive_filtered(queryset, archive_filter)


def rate_cards_list() -> QuerySet[RateCard]:
    return (
        RateCard.objects.active()
        .select_related("fiat_credit_type")
        .prefetch_related("aliases", "credit_type_conversions__custom_credit_type")
    )


def packages_list(*, archive_filter: str = "NOT_ARCHIVED") -> QuerySet[Package]:
    return _archive_filtered(Package.objects.select_related("rate_card"), archive_filter)


def rate_card_by_alias(*, alias: str, at: datetime) -> RateCard | None:
    """The rate card an alias names at `at` (aliases may be time-bounded)."""
    match = (
        RateCardAlias.objects.filter(name=alias)
        .filter(Q(starting_at__isnull=True) | Q(starting_at__lte=at))
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=at))
        .select_related("rate_card")
        .first()
    )
    return match.rate_card if match else None


# --- Rates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateSelector:
    """One OR-ed selector of getRates / getRateSchedule; its own conditions are AND-ed."""

    product_id: uuid.UUID | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: dict | None = None
    partial_pricing_group_values: dict | None = None
    billing_frequency: str = ""


def _matches(rate: Rate, selector: RateSelector, tags: Sequence[str]) -> bool:
    if selector.product_id is not None and rate.product_id != selector.product_id:
        return False
    if selector.product_tags and not set(selector.product_tags) & set(tags):
        return False
    values = rate.pricing_group_values or {}
    if selector.pricing_group_values is not None and values != selector.pricing_group_values:
        return False
    if selector.partial_pricing_group_values and any(
        values.get(k) != v for k, v in selector.partial_pricing_group_values.items()
    ):
        return False
    return not (selector.billing_frequency and rate.billing_frequency != selector.billing_frequency)


def _select(rates: list[Rate], selectors: Sequence[RateSelector], at: datetime) -> list[Rate]:
    """The rates any selector matches, products in their card's order (`product_order`)."""
    chosen = []
    for rate in rates:
        tags = product_state_at(product=rate.product, at=at).tags if selectors else ()
        if not selectors or any(_matches(rate, selector, tags) for selector in selectors):
            chosen.append(rate)
    return sorted(
        chosen, key=lambda rate: rate.rate_card.product_position(rate.product_id, rate.product.name)
    )


def _rates(rate_card: RateCard) -> QuerySet[Rate]:
    return (
        Rate.objects.filter(rate_card=rate_card)
        .select_related("product", "credit_type", "rate_card")
        .prefetch_related("tiers", "product__updates", "product__composite_products")
        .order_by("product__name", "product_id", "pricing_group_values_key", "starting_at")
    )


def rates_at(
    *, rate_card: RateCard, at: datetime, selectors: Sequence[RateSelector] = ()
) -> list[Rate]:
    """The rates in effect at `at` (start inclusive, end exclusive), filtered by OR-ed selectors."""
    rates = list(
        _rates(rate_card)
        .filter(starting_at__lte=at)
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=at))
    )
    return _select(rates, selectors, at)


def rate_schedule(
    *,
    rate_card: RateCard,
    starting_at: datetime,
    ending_before: datetime | None = None,
    selectors: Sequence[RateSelector] = (),
) -> list[Rate]:
    """Every rate segment in effect at some point of [starting_at, ending_before)."""
    rates = _rates(rate_card).filter(
        Q(ending_before__isnull=True) | Q(ending_before__gt=starting_at)
    )
    if ending_before is not None:
        rates = rates.filter(starting_at__lt=ending_before)
    return _select(list(rates), selectors, starting_at)


def rate_current(
    *, rate_card: RateCard, product: Product, pricing_group_values: dict, at: datetime
) -> Rate | None:
    """The product's rate for these pricing group values in effect at `at`, else the one that
    starts next, else the last that ended (what "the current price" means to someone editing)."""
    rates = Rate.objects.filter(
        rate_card=rate_card,
        product=product,
        pricing_group_values_key=group_values_key(pricing_group_values or {}),
    ).select_related("credit_type")
    in_effect = (
        rates.filter(starting_at__lte=at)
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=at))
        .order_by("-starting_at")
        .first()
    )
    return (
        in_effect
        or rates.filter(starting_at__gt=at).order_by("starting_at").first()
        or rates.order_by("-starting_at").first()
    )


@dataclass(frozen=True)
class PriceBookRow:
    rate: Rate
    product: Product
    group_values: str
    is_current: bool


def rate_card_price_book(*, rate_card: RateCard, at: datetime) -> list[PriceBookRow]:
    """Every rate of the card, by product, group values and start: the compact price book."""
    rows = []
    for rate in _rates(rate_card):
        in_effect = rate.starting_at <= at and (
            rate.ending_before is None or at < rate.ending_before
        )
        rows.append(
            PriceBookRow(
                rate=rate,
                product=rate.product,
                group_values=", ".join(
                    f"{k}={v}" for k, v in sorted((rate.pricing_group_values or {}).items())
                ),
                is_current=in_effect,
            )
        )
    return rows


def product_unit_label(product: Product, *, at: datetime) -> str:
    """What a product's quantity counts: its display unit (`minutes`), else its conversion's
    name (`million tokens`) as of `at`, else what its metric aggregates."""
    state = product_state_at(product=product, at=at)
    if product.display_unit or state.quantity_conversion_name:
        return product.display_unit or state.quantity_conversion_name
    metric = product.billable_metric
    if metric is None:
        return "units"
    if metric.aggregation_type == "COUNT":
        return "events"
    return f"{metric.get_aggregation_type_display().lower()} of {metric.aggregation_key}"


def product_quantity(product: Product, quantity: Decimal, *, at: datetime) -> Decimal:
    """A metric's quantity in the product's unit (its conversion, not its rounding: rounding is
    per invoice line, not per day)."""
    state = product_state_at(product=product, at=at)
    if state.quantity_conversion_factor is None or not state.quantity_conversion_operation:
        return quantity
    with money.full_precision():
        return money.convert_quantity(
            quantity, state.quantity_conversion_factor, state.quantity_conversion_operation
        )
