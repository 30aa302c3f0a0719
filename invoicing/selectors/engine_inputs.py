"""Catalog models as the engine's dataclasses (products, rates), and the windows of a period inside
which a product's rates do not change."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from catalog.models import Product as ProductModel
from catalog.models import Rate as RateModel
from invoicing.rating import (
    Period,
    Product,
    QuantityConversion,
    QuantityRounding,
    Rate,
    RateType,
    Tier,
    group_values,
)
from invoicing.terms import rate_fields


def product_from(model: ProductModel) -> Product:
    conversion = None
    if model.quantity_conversion_factor is not None and model.quantity_conversion_operation:
        conversion = QuantityConversion(
            factor=model.quantity_conversion_factor,
            operation=model.quantity_conversion_operation,
            name=model.quantity_conversion_name,
        )
    rounding = None
    if model.quantity_rounding_decimal_places is not None and model.quantity_rounding_method:
        rounding = QuantityRounding(
            decimal_places=model.quantity_rounding_decimal_places,
            method=model.quantity_rounding_method,
        )
    composites = getattr(model, "composite_ids", None)  # preloaded (`preload._products`)
    if composites is None:
        composites = [product.id for product in model.composite_products.all()]
    return Product(
        id=str(model.id),
        name=model.name,
        type=model.type,
        tags=tuple(model.tags or ()),
        pricing_group_keys=tuple(model.pricing_group_key or ()),
        presentation_group_keys=tuple(model.presentation_group_key or ()),
        quantity_conversion=conversion,
        quantity_rounding=rounding,
        composite_product_ids=tuple(str(pk) for pk in composites),
        composite_tags=tuple(model.composite_tags or ()),
    )


def rate_from(model: RateModel) -> Rate:
    return Rate(
        id=str(model.id),
        product_id=str(model.product_id),
        rate_type=model.rate_type,
        starting_at=model.starting_at,
        ending_before=model.ending_before,
        price=model.price,
        tiers=tuple(Tier(price=tier.price, size=tier.size) for tier in model.list_tiers),
        pricing_group_values=group_values(model.pricing_group_values),
        entitled=model.entitled,
        billing_frequency=model.billing_frequency or None,
        composite_minimum=model.composite_minimum,
        composite_scope=model.composite_scope,
        **rate_fields(model),
    )


def overlapping(queryset, period: Period, *, start: str = "starting_at", end="ending_before"):
    return queryset.filter(**{f"{start}__lt": period.ending_before}).filter(
        Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gt": period.starting_at})
    )


def rate_windows(rates: Iterable[Rate], period: Period) -> list[Period]:
    """The period cut into maximal windows over which the usage rate in effect does not change.

    The engine prices a `Usage` by the rate in effect at its start (the latest-started entitled FLAT
    or TIERED rate with its pricing group values), so usage must be aggregated per such window.
    """
    rates = [r for r in rates if r.entitled and r.rate_type in (RateType.FLAT, RateType.TIERED)]
    cuts = {period.starting_at, period.ending_before}
    for rate in rates:
        for moment in (rate.starting_at, rate.ending_before):
            if moment is not None and period.starting_at < moment < period.ending_before:
                cuts.add(moment)
    ordered = sorted(cuts)

    def in_effect(moment: datetime) -> Rate | None:
        live = [rate for rate in rates if rate.in_effect_at(moment)]
        return max(live, key=lambda rate: rate.starting_at, default=None)

    windows: list[tuple[datetime, datetime, Rate | None]] = []
    for start, end in itertools.pairwise(ordered):
        rate = in_effect(start)
        if windows and windows[-1][2] is rate:
            windows[-1] = (windows[-1][0], end, rate)
        else:
            windows.append((start, end, rate))
    return [Period(start, end) for start, end, _ in windows]
