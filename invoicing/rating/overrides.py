"""Overrides (the PREPARE step): rates rewritten into windows priced by the winning override, and
the boundaries at which a selector must split usage."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from catalog.money import ZERO

from .inputs import Override, OverrideSpecifier, OverrideTier, Product, Rate, RatingInput, Tier
from .shared import balance_scope, latest_rate
from .vocabulary import (
    BalanceRateType,
    GroupValues,
    MultiplierPrioritization,
    OverrideType,
    RateType,
)


def _rate_class(rate: Rate) -> tuple[str, str | None]:
    """Rates that compete for the same lines: usage (FLAT/TIERED), subscription per billing
    frequency, percentage."""
    if rate.rate_type in (RateType.FLAT, RateType.TIERED):
        return ("usage", None)
    if rate.rate_type == RateType.SUBSCRIPTION:
        return ("subscription", rate.billing_frequency)
    return ("percentage", None)


def override_targets(
    override: Override,
    product: Product | None,
    pricing: GroupValues,
    presentation: GroupValues = (),
    billing_frequency: str | None = None,
) -> bool:
    """Does the override name this product, pricing group values, presentation group values (of
    the usage priced) and billing frequency (of the rate priced)? Top-level product id or any of
    the top-level tags; else any specifier whose every field matches (`OverrideSpecifier`)."""
    if product is None:
        return False
    if override.product_id == product.id:
        return True
    if set(override.applicable_product_tags) & set(product.tags):
        return True
    return any(
        _specifier_matches(specifier, product)
        and set(specifier.pricing_group_values) <= set(pricing)
        and set(specifier.presentation_group_values) <= set(presentation)
        and specifier.billing_frequency in (None, billing_frequency)
        for specifier in override.specifiers
    )


def _specifier_matches(specifier: OverrideSpecifier, product: Product) -> bool:
    """The specifier's product fields: its product id, and ALL of its tags."""
    if specifier.product_id is not None and specifier.product_id != product.id:
        return False
    return set(specifier.product_tags) <= set(product.tags)


def _presentation_conditions(overrides: Iterable[Override]) -> bool:
    return any(s.presentation_group_values for o in overrides for s in o.specifiers)


def _override_order(rating_input: RatingInput) -> Callable[[Override], tuple]:
    explicit = rating_input.multiplier_override_prioritization == MultiplierPrioritization.EXPLICIT

    def key(override: Override) -> tuple:
        priority = override.priority
        by_priority = (priority is None, priority if priority is not None else ZERO)
        if override.type == OverrideType.OVERWRITE:
            return (0, *by_priority, -override.starting_at.timestamp(), override.id)
        if explicit:
            return (1, *by_priority, override.id)
        lowest = (
            override.multiplier
            if override.type == OverrideType.MULTIPLIER
            else min(tier.multiplier for tier in override.tiers)
        )
        return (1, lowest if lowest is not None else Decimal(1), *by_priority, override.id)

    return key


def winning_override(rating_input: RatingInput, overrides: Iterable[Override]) -> Override | None:
    """OVERWRITE beats MULTIPLIER/TIERED (several overwrites: lowest priority, then the latest
    start); among multipliers the LOWEST multiplier wins, or with EXPLICIT prioritization the
    lowest `priority` number (no priority: last). Overrides without a price effect (pure
    entitlement overrides) never win."""
    priced = [
        override
        for override in overrides
        if override.type != OverrideType.MULTIPLIER or override.multiplier is not None
    ]
    return min(priced, key=_override_order(rating_input), default=None)


def _multiplied_tiers(tiers: tuple[Tier, ...], bands: tuple[OverrideTier, ...]) -> tuple[Tier, ...]:
    """Graduated list tiers times graduated multiplier bands: cut at both sets of boundaries."""
    cuts: set[Decimal] = set()
    for sizes in ([tier.size for tier in tiers[:-1]], [band.size for band in bands[:-1]]):
        position = ZERO
        for size in sizes:
            position += size
            cuts.add(position)
    ordered = sorted(cuts)

    def at(position: Decimal, items: list[tuple[Decimal | None, Decimal]]) -> Decimal:
        start = ZERO
        for index, (size, value) in enumerate(items):
            if index == len(items) - 1 or position < start + size:
                return value
            start += size
        raise AssertionError

    list_items = [(tier.size, tier.price) for tier in tiers]
    band_items = [(band.size, band.multiplier) for band in bands]
    result = []
    start = ZERO
    for end in [*ordered, None]:
        price = at(start, list_items) * at(start, band_items)
        result.append(Tier(price=price, size=None if end is None else end - start))
        if end is not None:
            start = end
    return tuple(result)


def price_with_override(rate: Rate, override: Override | None) -> Rate:
    """The rate as the override prices it (`target` COMMIT_RATE: the commit rate instead)."""
    if override is None:
        return rate
    commit = override.target == BalanceRateType.COMMIT_RATE
    if override.type == OverrideType.OVERWRITE:
        new = override.overwrite_rate
        if commit:
            return dataclasses.replace(rate, commit_price=new.price, commit_tiers=new.tiers)
        rate_type = new.rate_type
        if rate.rate_type == RateType.SUBSCRIPTION:
            # A subscription keeps its kind; only the price changes.
            rate_type = rate.rate_type
        elif rate.rate_type in RateType.COMPOSITE:
            # A composite stays a percentage: flat or tiered as the overwrite is.
            rate_type = (
                RateType.TIERED_PERCENTAGE
                if new.rate_type == RateType.TIERED
                else RateType.PERCENTAGE
            )
        return dataclasses.replace(
            rate,
            rate_type=rate_type,
            price=new.price,
            tiers=new.tiers,
            credit_type_id=new.credit_type_id or rate.credit_type_id,
        )
    if commit:
        price = rate.commit_price if rate.commit_price is not None else rate.price
        tiers = rate.commit_tiers
    else:
        price, tiers = rate.price, rate.tiers
    if override.type == OverrideType.MULTIPLIER:
        m = override.multiplier
        new_price = None if price is None else price * m
        new_tiers = tuple(dataclasses.replace(tier, price=tier.price * m) for tier in tiers)
        if commit:
            return dataclasses.replace(rate, commit_price=new_price, commit_tiers=new_tiers)
        return dataclasses.replace(rate, price=new_price, tiers=new_tiers)
    # TIERED multipliers: per quantity band of the period (usage list rates); anything else
    # (a subscription, a percentage, the commit rate) takes the first band's multiplier.
    first = override.tiers[0].multiplier
    if commit:
        return dataclasses.replace(
            rate,
            commit_price=None if price is None else price * first,
            commit_tiers=tuple(dataclasses.replace(t, price=t.price * first) for t in tiers),
        )
    if rate.rate_type not in (RateType.FLAT, RateType.TIERED):
        return dataclasses.replace(
            rate,
            price=None if price is None else price * first,
            tiers=tuple(dataclasses.replace(t, price=t.price * first) for t in tiers),
        )
    base = tiers if rate.rate_type == RateType.TIERED else (Tier(price=price),)
    return dataclasses.replace(
        rate, rate_type=RateType.TIERED, price=None, tiers=_multiplied_tiers(base, override.tiers)
    )


def apply_overrides(rating_input: RatingInput) -> RatingInput:
    """PREPARE step: the contract's overrides rewrite the rates.

    For each product and pricing group values that an override (not commit-specific) targets,
    the rates are laid out as a timeline of disjoint windows, cut at every rate and override
    boundary; each window carries the rate in effect there (the latest-started entitled one, with
    entitlement overrides applied) priced by the winning override in effect there. A MULTIPLIER
    thus multiplies whichever list rate is in effect, and follows later list price changes.
    Inputs without overrides come back unchanged. Usage must be split at these boundaries
    (`segment_boundaries`): a usage record is priced by the rate at its start.

    An override whose specifier names presentation group values applies only to the usage with
    those values: for each presentation group values of the usage that a different set of
    overrides targets, the timeline is laid out again, its rates carrying those values
    (`Rate.presentation_group_values`); the rates with () price every other usage.
    """
    overrides = [o for o in rating_input.overrides if not o.is_for_commits]
    if not overrides:
        return rating_input
    products = {product.id: product for product in rating_input.products}
    groups: dict[tuple, list[Rate]] = {}
    for rate in rating_input.rates:
        key = (rate.product_id, rate.pricing_group_values, _rate_class(rate))
        groups.setdefault(key, []).append(rate)
    presentations: dict[tuple[str, GroupValues], set[GroupValues]] = {}
    if _presentation_conditions(overrides):
        for usage in rating_input.usage:
            key = (usage.product_id, usage.pricing_group_values)
            presentations.setdefault(key, set()).add(usage.presentation_group_values)
    new_rates: list[Rate] = []
    for (product_id, pricing, (kind, frequency)), rates in groups.items():
        product = products.get(product_id)
        target = (product, pricing, frequency)
        everyone = _targeting(overrides, target, ())
        new_rates.extend(_timeline(rating_input, rates, everyone) if everyone else rates)
        if kind != "usage":
            continue
        for presentation in sorted(presentations.get((product_id, pricing), ())):
            own = _targeting(overrides, target, presentation)
            if presentation and own != everyone:
                new_rates.extend(
                    dataclasses.replace(rate, presentation_group_values=presentation)
                    for rate in _timeline(rating_input, rates, own)
                )
    return dataclasses.replace(rating_input, rates=tuple(new_rates))


def _targeting(
    overrides: list[Override], target: tuple, presentation: GroupValues
) -> list[Override]:
    product, pricing, frequency = target
    return [o for o in overrides if override_targets(o, product, pricing, presentation, frequency)]


def _timeline(
    rating_input: RatingInput, rates: list[Rate], targeting: list[Override]
) -> list[Rate]:
    """The rates of one product, pricing group values and rate class as disjoint windows, each
    priced by the winning override of `targeting` in effect there."""
    cuts = set()
    for item in (*rates, *targeting):
        cuts.add(item.starting_at)
        if item.ending_before is not None:
            cuts.add(item.ending_before)
    ordered = sorted(cuts)
    windows = []
    for index, start in enumerate(ordered):
        end = ordered[index + 1] if index + 1 < len(ordered) else None
        live = [o for o in targeting if o.in_effect_at(start)]
        entitlement = None
        for override in sorted(live, key=lambda o: (o.starting_at, o.id)):
            if override.entitled is not None:
                entitlement = override.entitled
        candidates = [
            rate
            for rate in rates
            if rate.in_effect_at(start) and (rate.entitled if entitlement is None else entitlement)
        ]
        rate = latest_rate(candidates, at=start)
        if rate is None:
            continue
        priced = price_with_override(rate, winning_override(rating_input, live))
        windows.append(
            dataclasses.replace(priced, starting_at=start, ending_before=end, entitled=True)
        )
    return windows


def override_may_target(override: Override, product: Product) -> bool:
    """Could the override apply to some usage of the product (any pricing or presentation
    group values, any billing frequency)?"""
    if override.product_id == product.id or set(override.applicable_product_tags) & set(
        product.tags
    ):
        return True
    if any(_specifier_matches(specifier, product) for specifier in override.specifiers):
        return True
    return (
        override.is_for_commits
        and not override.product_id
        and not override.applicable_product_tags
        and not override.specifiers
    )


def term_boundaries(rating_input: RatingInput, product_id: str) -> tuple[datetime, ...]:
    """The moments strictly inside the period where the terms change for a product: the starts
    and ends of the overrides that may target it and of the access segments of the balances whose
    scope includes it."""
    product = rating_input.product(product_id)
    moments: set[datetime] = set()
    for override in rating_input.overrides:
        if override_may_target(override, product):
            moments.add(override.starting_at)
            if override.ending_before is not None:
                moments.add(override.ending_before)
    for balance in rating_input.balances:
        if product_id in balance_scope(rating_input, balance):
            for segment in balance.access_schedule:
                moments.update((segment.starting_at, segment.ending_before))
    period = rating_input.period
    return tuple(sorted(m for m in moments if period.starting_at < m < period.ending_before))


def segment_boundaries(
    rating_input: RatingInput, product_id: str | None = None
) -> tuple[datetime, ...]:
    """The moments strictly inside the period where the selector must split a product's usage.

    A usage record is priced by the rate in effect at its start and is drawn by an access segment
    only when it lies wholly inside it. So the selector cuts each product's usage (per pricing
    and presentation group values) at the starts and ends of the product's own rates (the rate
    windows it already cuts) AND at `term_boundaries` (overrides that may target the product,
    access segments of balances whose scope includes it). Without `product_id`: the union over
    every product. Cutting where nothing changes keeps the money right but adds lines (and
    roundings), so a selector should cut at these moments and no others.
    """
    period = rating_input.period
    ids = [product_id] if product_id is not None else [p.id for p in rating_input.products]
    moments: set[datetime] = set()
    for pid in ids:
        for rate in rating_input.rates:
            if rate.product_id == pid:
                moments.add(rate.starting_at)
                if rate.ending_before is not None:
                    moments.add(rate.ending_before)
        moments.update(term_boundaries(rating_input, pid))
    return tuple(sorted(m for m in moments if period.starting_at < m < period.ending_before))
