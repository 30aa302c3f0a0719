"""Usage lines (a LINE step): quantity conversion and rounding, FLAT and graduated TIERED pricing
per product and pricing group values, unpriced usage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from catalog.money import ZERO, convert_quantity, round_amount, round_quantity, round_stored

from .inputs import Product, Rate, RatingInput, Tier, Usage
from .outputs import Line, LineTier
from .shared import latest_rate, line_fields, places_of, rates_for_presentation, unit_of
from .vocabulary import GroupValues, ProductType, RateType


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
    """One pricing group's lines on its one tier ladder: windows (rate segments) in time order,
    each window's usage taking the next positions; inside a window, every presentation line
    takes its share of each tier the window's usage spans (see `_share`)."""
    position = ZERO
    windows: dict[tuple, list[Usage]] = {}
    for usage in records:
        if usage.quantity != 0:
            windows.setdefault((usage.starting_at, usage.ending_before), []).append(usage)
    # Unless an override laid rates out for particular presentation values, every line of a
    # window has the same rate (the one in effect at the window's start): looked up once.
    per_presentation = any(rate.presentation_group_values for rate in rates)
    legacy_key = (
        product.presentation_group_keys[0] if len(product.presentation_group_keys) == 1 else None
    )
    for key in sorted(windows):
        usages = sorted(windows[key], key=lambda u: u.presentation_group_values)
        shared_rate = None if per_presentation else latest_rate(rates, at=key[0])
        priced = []
        for usage in usages:
            rate = (
                latest_rate(
                    rates_for_presentation(rates, usage.presentation_group_values),
                    at=usage.starting_at,
                )
                if per_presentation
                else shared_rate
            )
            priced.append((usage, billable_quantity(product, usage.quantity), rate))
        width = sum((q for _, q, rate in priced if rate is not None and q > 0), ZERO)
        before = ZERO  # the window's positive priced usage before this line (`_share`)
        # The window's lines differ from this one only in what the loop gives them (`evolve`).
        window_line = Line(
            **line_fields(product, key[0], key[1]),
            pricing_group_values=pricing_values,
            group_key=legacy_key,
            total=ZERO,
        )
        units: dict[str | None, tuple[str | None, int]] = {}
        for usage, quantity, rate in priced:
            presentation = usage.presentation_group_values
            value = None if legacy_key is None else dict(presentation).get(legacy_key)
            if rate is None:
                yield window_line.evolve(
                    presentation_group_values=presentation,
                    group_value=value,
                    quantity=quantity,
                    is_unpriced=True,
                )
                continue
            if rate.credit_type_id not in units:
                unit = unit_of(rating_input, rate.credit_type_id)
                units[rate.credit_type_id] = (unit, places_of(rating_input, unit))
            unit, places = units[rate.credit_type_id]
            if rate.rate_type == RateType.FLAT:
                yield window_line.evolve(
                    presentation_group_values=presentation,
                    group_value=value,
                    quantity=quantity,
                    unit_price=rate.price,
                    total=round_amount(quantity * rate.price, places),
                    credit_type_id=unit,
                )
            else:
                if quantity > 0:
                    ladder = tier_pieces(rate.tiers, position, width)
                    pieces = _share(ladder, before, quantity, width)
                else:
                    pieces = tier_pieces(rate.tiers, position, quantity)
                for piece in pieces:
                    yield window_line.evolve(
                        presentation_group_values=presentation,
                        group_value=value,
                        quantity=piece.quantity,
                        unit_price=piece.price,
                        total=round_amount(piece.quantity * piece.price, places),
                        tier=LineTier(piece.level, piece.tier_starting_at, piece.tier_size),
                        credit_type_id=unit,
                    )
            if quantity > 0:
                before += quantity
        position += sum((q for _, q, rate in priced if rate is not None), ZERO)


def _share(
    ladder: list[TierPiece], before: Decimal, quantity: Decimal, width: Decimal
) -> list[TierPiece]:
    """A presentation line's part of its window's tier pieces (`ladder`, `width` units in all):
    the line holds the window's usage (before, before + quantity], so its part of each piece is
    `quantity / width` of it.

    Parts are cut by cumulative rounding at storage precision (`_cumulative`), so they add up
    both ways: a line's parts to its quantity (exactly: its last part is what is left), each
    tier's parts to the tier's quantity (exactly when the quantities have at most 50 digits).

    Why shares: Metronome prices per pricing group ("pricing for this product will be determined
    for each pricing_group_key value, as opposed to the product as a whole", the SDK's
    `pricing_group_key`), while a presentation key only "groups usage line items on invoices"
    (`presentation_group_key`; the quickstart: "Show breakdowns on the invoice (same price)").
    So there is one ladder per pricing group; nothing Metronome publishes says how its tiers are
    split among presentation lines (see `invoicing.rating`). Inside one window the engine cannot
    order the lines in time (usage arrives aggregated per window, and UNIQUE, MAX and LATEST have
    no order within it), so each line pays the same blend of tiers, whatever its name."""
    through = before + quantity
    parts = []
    reached = ZERO
    for piece in ladder:
        after = reached + piece.quantity
        part = (
            _cumulative(through, after, width)
            - _cumulative(before, after, width)
            - _cumulative(through, reached, width)
            + _cumulative(before, reached, width)
        )
        reached = after
        if part != 0:
            parts.append(
                TierPiece(piece.level, piece.tier_starting_at, piece.tier_size, part, piece.price)
            )
    if parts:
        last = parts[-1]
        rest = quantity - sum((part.quantity for part in parts[:-1]), ZERO)
        parts[-1] = TierPiece(last.level, last.tier_starting_at, last.tier_size, rest, last.price)
    return parts


def _cumulative(usage: Decimal, ladder: Decimal, width: Decimal) -> Decimal:
    """How much of the ladder's first `ladder` units the window's first `usage` units hold,
    at storage precision; exact at the edges (none, or the whole of either), which is what makes
    the parts of `_share` add up."""
    if usage == 0 or ladder == 0:
        return ZERO
    if usage == width:
        return ladder
    if ladder == width:
        return usage
    return round_stored(usage * ladder / width)
