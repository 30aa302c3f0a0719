"""Usage lines (a LINE step): quantity conversion and rounding, FLAT and graduated TIERED pricing
per product and pricing group values, unpriced usage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from catalog.money import ZERO, convert_quantity, round_quantity

from .inputs import Product, Rate, RatingInput, Tier, Usage
from .outputs import Line, LineTier
from .shared import latest_rate, money_of, rates_for_presentation, unit_of
from .vocabulary import GroupValues, LineType, ProductType, RateType


def billable_quantity(product: Product, metered: Decimal) -> Decimal:
    """The product's quantity conversion, then its quantity rounding."""
    quantity = metered
    if product.quantity_conversion is not None:
        conversion = product.quantity_conversion
        quantity = convert_quantity(quantity, conversion.factor, conversion.operation)
    if product.quantity_rounding is not None:
        rounding = product.quantity_rounding
        quantity = round_quantity(quantity, rounding.decimal_places, rounding.method)
    return quantity


@dataclass(frozen=True)
class TierPiece:
    level: int
    tier_starting_at: Decimal
    tier_size: Decimal | None
    quantity: Decimal
    price: Decimal


def tier_pieces(tiers: tuple[Tier, ...], position: Decimal, quantity: Decimal) -> list[TierPiece]:
    """Split `quantity` units, starting at `position` in the period, over graduated tiers.

    The last tier is open-ended whatever its size says. A zero or negative quantity is one piece in
    the tier the position is in.
    """
    bounds = []
    start = ZERO
    for level, tier in enumerate(tiers, start=1):
        size = None if level == len(tiers) else tier.size
        bounds.append((level, start, size, tier.price))
        if size is not None:
            start += size
    if quantity <= 0:
        for level, tier_start, size, price in bounds:
            if size is None or position < tier_start + size:
                return [TierPiece(level, tier_start, size, quantity, price)]
    # Pieces are cut from what remains, never as (position + quantity) - position: that difference
    # rounds at the context's precision, and the tier lines would then not add up to the quantity.
    pieces = []
    remaining = quantity
    for level, tier_start, size, price in bounds:
        if remaining <= 0:
            break
        tier_end = None if size is None else tier_start + size
        if tier_end is not None and position >= tier_end:
            continue
        piece = (
            remaining if tier_end is None else min(remaining, tier_end - max(tier_start, position))
        )
        if piece > 0:
            pieces.append(TierPiece(level, tier_start, size, piece, price))
            remaining -= piece
    return pieces


def usage_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the usage lines, product by product in input order."""
    products = {product.id: product for product in rating_input.products}
    by_product: dict[str, list[Usage]] = {}
    for usage in rating_input.usage:
        product = products.get(usage.product_id) or rating_input.product(usage.product_id)
        if product.type != ProductType.USAGE:
            raise ValueError(f"usage for {product.type} product {product.id}")
        if usage.starting_at < rating_input.period.starting_at or (
            usage.ending_before > rating_input.period.ending_before
        ):
            raise ValueError(f"usage of {product.id} outside the period")
        by_product.setdefault(product.id, []).append(usage)
    usage_rates: dict[tuple[str, GroupValues], list[Rate]] = {}
    for rate in rating_input.rates:
        if rate.entitled and rate.rate_type in (RateType.FLAT, RateType.TIERED):
            key = (rate.product_id, rate.pricing_group_values)
            usage_rates.setdefault(key, []).append(rate)
    new_lines = []
    for product in rating_input.products:
        records = by_product.get(product.id, [])
        by_pricing: dict[GroupValues, list[Usage]] = {}
        for usage in records:
            by_pricing.setdefault(usage.pricing_group_values, []).append(usage)
        for pricing_values in sorted(by_pricing):
            rates = usage_rates.get((product.id, pricing_values), [])
            new_lines.extend(
                _pricing_group_lines(
                    rating_input, product, pricing_values, by_pricing[pricing_values], rates
                )
            )
    return (*lines, *new_lines)


def _pricing_group_lines(
    rating_input: RatingInput,
    product: Product,
    pricing_values: GroupValues,
    records: list[Usage],
    rates: list[Rate],
) -> Iterator[Line]:
    position = ZERO
    ordered = sorted(
        records, key=lambda usage: (usage.starting_at, usage.presentation_group_values)
    )
    for usage in ordered:
        if usage.quantity == 0:
            continue
        quantity = billable_quantity(product, usage.quantity)
        presentation = usage.presentation_group_values
        common = {
            "name": product.name,
            "type": LineType.USAGE,
            "product_id": product.id,
            "product_type": product.type,
            "product_tags": product.tags,
            "starting_at": usage.starting_at,
            "ending_before": usage.ending_before,
            "pricing_group_values": pricing_values,
            "presentation_group_values": presentation,
            **_legacy_group(product, presentation),
        }
        rate = latest_rate(rates_for_presentation(rates, presentation), at=usage.starting_at)
        if rate is None:
            yield Line(**common, quantity=quantity, total=ZERO, is_unpriced=True)
            continue
        unit = unit_of(rating_input, rate.credit_type_id)
        if rate.rate_type == RateType.FLAT:
            amount = quantity * rate.price
            yield Line(
                **common,
                quantity=quantity,
                unit_price=rate.price,
                total=money_of(rating_input, amount, unit),
                credit_type_id=unit,
            )
        else:
            for piece in tier_pieces(rate.tiers, position, quantity):
                yield Line(
                    **common,
                    quantity=piece.quantity,
                    unit_price=piece.price,
                    total=money_of(rating_input, piece.quantity * piece.price, unit),
                    tier=LineTier(piece.level, piece.tier_starting_at, piece.tier_size),
                    credit_type_id=unit,
                )
        position += quantity


def _legacy_group(product: Product, presentation: GroupValues) -> dict[str, str | None]:
    """Metronome's single `group_key`/`group_value`: set when one presentation key breaks down."""
    if len(product.presentation_group_keys) != 1:
        return {"group_key": None, "group_value": None}
    key = product.presentation_group_keys[0]
    return {"group_key": key, "group_value": dict(presentation).get(key)}
