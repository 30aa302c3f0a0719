"""How the offering reads in the admin: a rate's price in one line."""

from decimal import Decimal

from .. import money
from ..models import PricingUnit, Rate


def money_display(amount: Decimal | None, unit: PricingUnit | None) -> str:
    """An amount as finance staff read it: 150 in `USD (cents)` is `$1.50`."""
    if amount is None:
        return "—"
    if unit is None:
        return str(money.normalize(amount))
    return unit.format(amount)


def quantity_display(value: Decimal | None) -> str:
    return "—" if value is None else f"{money.normalize(value):,}"


PERIOD_NAMES = {"MONTHLY": "month", "QUARTERLY": "quarter", "ANNUAL": "year", "WEEKLY": "week"}


def rate_price_summary(rate: Rate) -> str:
    """A rate's price in one line: `$1.50`, `first 1 at $1.00, next 1 at $0.80, then $0.60`, ..."""
    unit = rate.credit_type
    if rate.rate_type in Rate.TIERED_TYPES:
        percentage = rate.rate_type == Rate.RateType.TIERED_PERCENTAGE
        tiers = [tier for tier in rate.tiers.all() if not tier.for_commit_rate]
        parts = []
        for index, tier in enumerate(tiers):
            price = _percent(tier.price) if percentage else money_display(tier.price, unit)
            if tier.size is None:
                parts.append(f"then {price}" if index else price)
            else:
                size = money_display(tier.size, unit) if percentage else quantity_display(tier.size)
                parts.append(f"{'next' if index else 'first'} {size} at {price}")
        summary = ", ".join(parts) or "no tiers yet"
        return _composite_terms(rate, f"{summary} of spend" if percentage and parts else summary)
    if rate.price is None:
        return "—"
    if rate.rate_type == Rate.RateType.PERCENTAGE:
        return _composite_terms(rate, f"{_percent(rate.price)} of spend")
    if rate.rate_type == Rate.RateType.SUBSCRIPTION:
        period = PERIOD_NAMES.get(rate.billing_frequency, "period")
        summary = f"{money_display(rate.price, unit)} per {period}"
        if rate.quantity not in (None, Decimal(1)):
            summary += f" x {quantity_display(rate.quantity)}"
        return summary
    return money_display(rate.price, unit)


def tier_size_display(tier) -> str:
    """A tier's size: a quantity, or money for a tiered percentage (its tiers are spend)."""
    if tier.rate.rate_type == Rate.RateType.TIERED_PERCENTAGE:
        return money_display(tier.size, tier.rate.credit_type)
    return "rest" if tier.size is None else quantity_display(tier.size)


def tier_price_display(tier) -> str:
    """A tier's price: money, or a percentage of spend for a tiered percentage."""
    if tier.rate.rate_type == Rate.RateType.TIERED_PERCENTAGE:
        return _percent(tier.price)
    return money_display(tier.price, tier.rate.credit_type)


def _percent(fraction: Decimal) -> str:
    return f"{money.normalize(fraction * 100)}%"


def _composite_terms(rate: Rate, summary: str) -> str:
    """A composite rate's minimum and scope after its percentage."""
    if rate.composite_minimum is not None:
        summary += f", at least {money_display(rate.composite_minimum, rate.credit_type)}"
    if rate.composite_scope == Rate.CompositeScope.CUSTOMER:
        summary += " (the customer's spend on all its contracts)"
    return summary
