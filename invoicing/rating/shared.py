"""Small pieces every step uses: rounding to the invoice's (or a custom) unit, the rate in effect at
an instant, a product's type, a balance's scope, whether a segment overlaps the period."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from catalog.money import round_amount

from .inputs import AccessSegment, Balance, BalanceSpecifier, Period, Product, Rate, RatingInput
from .vocabulary import GroupValues, LineType, ProductType


def money_of(
    rating_input: RatingInput, amount: Decimal, credit_type_id: str | None = None
) -> Decimal:
    """Round to the smallest amount of the invoice's unit, or of custom unit `credit_type_id`
    (a custom unit not listed in `custom_units` rounds like the invoice's unit)."""
    return round_amount(amount, places_of(rating_input, credit_type_id))


def places_of(rating_input: RatingInput, credit_type_id: str | None = None) -> int:
    """The decimal places amounts in the invoice's unit, or custom unit `credit_type_id`, round to."""
    places = rating_input.pricing_unit.decimal_places
    if credit_type_id is not None:
        for unit in rating_input.custom_units:
            if unit.id == credit_type_id:
                places = unit.decimal_places
    return places


def unit_of(rating_input: RatingInput, credit_type_id: str | None) -> str | None:
    """None for the invoice's own unit, else the custom unit's id."""
    if credit_type_id is None or credit_type_id == rating_input.pricing_unit.id:
        return None
    return credit_type_id


def latest_rate(rates: Iterable[Rate], *, at: datetime, at_end: bool = False) -> Rate | None:
    """The rate in effect at `at` (or, with `at_end`, in the instant just before `at`) that
    started last. Later input order breaks a tie in start."""
    if at_end:
        candidates = [
            rate
            for rate in rates
            if rate.starting_at < at and (rate.ending_before is None or at <= rate.ending_before)
        ]
    else:
        candidates = [rate for rate in rates if rate.in_effect_at(at)]
    best = None
    for rate in candidates:
        if best is None or rate.starting_at >= best.starting_at:
            best = rate
    return best


def rates_for_presentation(rates: list[Rate], presentation: GroupValues) -> list[Rate]:
    """The rates that price usage with these presentation group values: the ones an override
    laid out for exactly them (see `apply_overrides`), else the ones for every usage."""
    own = [rate for rate in rates if rate.presentation_group_values == presentation]
    if presentation and own:
        return own
    return [rate for rate in rates if not rate.presentation_group_values]


def line_fields(product: Product, starting_at: datetime, ending_before: datetime | None) -> dict:
    """The fields every line of a product's charge carries (usage and composite lines)."""
    return {
        "name": product.name,
        "type": LineType.USAGE,
        "product_id": product.id,
        "product_type": product.type,
        "product_tags": product.tags,
        "starting_at": starting_at,
        "ending_before": ending_before,
    }


def microseconds(delta: timedelta) -> Decimal:
    """A duration in microseconds, the unit proration is counted in."""
    return Decimal(delta // timedelta(microseconds=1))


def product_type_of(rating_input: RatingInput, product_id: str) -> str:
    for product in rating_input.products:
        if product.id == product_id:
            return product.type
    return ProductType.FIXED


def balance_scope(rating_input: RatingInput, balance: Balance) -> frozenset[str]:
    """The ids of the input's products a balance applies to (empty scope: all of them); with
    `specifiers`, the products some usage of which may meet one of them."""
    if balance.specifiers:
        return frozenset(
            product.id
            for product in rating_input.products
            if any(specifier_names(specifier, product) for specifier in balance.specifiers)
        ) | frozenset(s.product_id for s in balance.specifiers if s.product_id is not None)
    ids = set(balance.applicable_product_ids)
    tags = set(balance.applicable_product_tags)
    if not ids and not tags:
        return frozenset(product.id for product in rating_input.products)
    return frozenset(
        product.id
        for product in rating_input.products
        if product.id in ids or set(product.tags) & tags
    ) | frozenset(ids)


def overlaps(segment: AccessSegment, period: Period) -> bool:
    return segment.starting_at < period.ending_before and period.starting_at < segment.ending_before


def specifier_names(specifier: BalanceSpecifier, product: Product) -> bool:
    """The specifier's product fields: its product id, and ALL of its tags."""
    if specifier.product_id is not None and specifier.product_id != product.id:
        return False
    return set(specifier.product_tags) <= set(product.tags)


def balance_draws_line(
    rating_input: RatingInput,
    balance: Balance,
    product_id: str,
    pricing: GroupValues,
    presentation: GroupValues,
) -> bool:
    """May this usage (a product's, with these group values) draw the balance? Without
    specifiers: its product is in the balance's scope. With them: it meets ANY specifier, each
    one's given fields ALL matching (`BalanceSpecifier`)."""
    if not balance.specifiers:
        return product_id in balance_scope(rating_input, balance)
    product = next((p for p in rating_input.products if p.id == product_id), None)
    return any(
        (
            specifier_names(specifier, product)
            if product is not None
            else specifier.product_id == product_id and not specifier.product_tags
        )
        and set(specifier.pricing_group_values) <= set(pricing)
        and set(specifier.presentation_group_values) <= set(presentation)
        for specifier in balance.specifiers
    )
