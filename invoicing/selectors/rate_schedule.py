"""A contract's effective rates at a moment (getContractRateSchedule): the rate card's rates in
effect then, each with the price the contract's overrides give it, computed by the engine's own
override step so the schedule and the invoices never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog import selectors as catalog_selectors
from catalog.models import Rate as RateModel
from customers import periods
from customers.models import Contract
from invoicing.rating import Rate, RateType, apply_overrides, latest_rate

from .preload import RatingPreload


@dataclass(frozen=True)
class ContractRate:
    """A card rate as the contract pays it at `at`: `override` is the rewritten rate when an
    override changes it (None: the list rate), in its window."""

    model: RateModel
    override: Rate | None
    starting_at: datetime
    ending_before: datetime | None


def _same_class(a: Rate, b: Rate) -> bool:
    usage = (RateType.FLAT, RateType.TIERED)
    if a.rate_type in usage or b.rate_type in usage:
        return a.rate_type in usage and b.rate_type in usage
    return a.rate_type == b.rate_type and a.billing_frequency == b.billing_frequency


def _changed(list_rate: Rate, rewritten: Rate) -> bool:
    return (rewritten.rate_type, rewritten.price, rewritten.tiers, rewritten.credit_type_id) != (
        list_rate.rate_type,
        list_rate.price,
        list_rate.tiers,
        list_rate.credit_type_id,
    )


def contract_rates_at(
    *,
    contract: Contract,
    at: datetime,
    selectors: Sequence[catalog_selectors.RateSelector] = (),
) -> list[ContractRate]:
    """The entitled rates the contract pays at `at` (overrides applied), products in the card's
    order."""
    models = catalog_selectors.rates_at(rate_card=contract.rate_card, at=at, selectors=selectors)
    instant = periods.Period(at, at + timedelta(microseconds=1))
    preload = RatingPreload([(contract, periods.BillingPeriod(period=instant, full=instant))])
    rating_input = preload.rating_input(contract.pk, at, usage=False)
    list_rates = {rate.id: rate for rate in rating_input.rates}
    rewritten = apply_overrides(rating_input).rates
    result = []
    for model in models:
        list_rate = list_rates[str(model.pk)]
        candidates = [
            rate
            for rate in rewritten
            if rate.product_id == list_rate.product_id
            and rate.pricing_group_values == list_rate.pricing_group_values
            and _same_class(rate, list_rate)
        ]
        effective = latest_rate(candidates, at=at)
        # A rate a later one of the same product and group values supersedes is not paid.
        if effective is None or not effective.entitled or effective.id != list_rate.id:
            continue
        override = effective if _changed(list_rate, effective) else None
        result.append(ContractRate(model, override, effective.starting_at, effective.ending_before))
    return result
