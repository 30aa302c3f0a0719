"""Spend over time as charts draw it: usage per product and group values and the spend so far,
window by window, from invoice breakdowns (`breakdowns.customer_breakdowns`). What the embedded
usage dashboard draws, and what the admin's usage charts can draw."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from catalog.models import PricingUnit
from catalog.money import ZERO
from invoicing.rating import LineType, ProductType

from .breakdowns import Breakdown


@dataclass(frozen=True)
class UsageSeries:
    """One product's usage per window for one set of group values (in the product's unit:
    conversion and rounding applied as on the invoice)."""

    product_id: str
    pricing_group_values: tuple
    presentation_group_values: tuple
    quantities: tuple[Decimal, ...]


@dataclass(frozen=True)
class SpendOverTime:
    """Breakdowns as charts draw them: the windows, each usage series, what each window added
    to the invoices (after commits and credits) and the spend so far at each window's end."""

    windows: tuple[datetime, ...]
    usage: tuple[UsageSeries, ...]
    spend: tuple[Decimal, ...]
    spend_so_far: tuple[Decimal, ...]
    credit_type: PricingUnit | None


def spend_over_time(breakdowns: Iterable[Breakdown]) -> SpendOverTime:
    """Usage and spend per window of `breakdowns` (a customer's or an invoice's): the usage
    lines of USAGE products summed per product and group values, the windows' totals summed."""
    breakdowns = list(breakdowns)
    windows = sorted({b.starting_at for b in breakdowns})
    index = {moment: n for n, moment in enumerate(windows)}
    spend = [ZERO] * len(windows)
    series: dict[tuple, list[Decimal]] = {}
    credit_type = None
    for breakdown in breakdowns:
        at = index[breakdown.starting_at]
        credit_type = credit_type or breakdown.invoice.credit_type
        spend[at] += breakdown.total
        for line in breakdown.engine_lines:
            if line.type != LineType.USAGE or line.product_type != ProductType.USAGE:
                continue
            key = (line.product_id, line.pricing_group_values, line.presentation_group_values)
            values = series.setdefault(key, [ZERO] * len(windows))
            if line.quantity:
                values[at] += line.quantity
    so_far, running = [], ZERO
    for amount in spend:
        running += amount
        so_far.append(running)
    return SpendOverTime(
        windows=tuple(windows),
        usage=tuple(
            UsageSeries(product_id, pricing, presentation, tuple(values))
            for (product_id, pricing, presentation), values in series.items()
        ),
        spend=tuple(spend),
        spend_so_far=tuple(so_far),
        credit_type=credit_type,
    )
