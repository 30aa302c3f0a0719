"""The admin's charts of a contract: its usage in the current billing period, day by day per
pricing group values in the product's unit, and its spend so far in the period against the
previous period's. Plain dataclasses, shaped as JSON by the admin's chart endpoints.

Both come from the one selector of spend over time (`breakdowns.invoice_breakdowns`, as
`spend.spend_over_time` shapes it), which also serves Metronome's invoice breakdowns and costs and
the embeddable dashboards: a day's usage and spend are what that day added to the invoice (tiers,
rounding and commits as on the invoice), so the last point of a period is its invoice's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from catalog import money
from catalog.models import Product
from catalog.selectors import product_unit_label
from customers.models import Contract
from invoicing.models import Invoice

from .breakdowns import WINDOW_SIZES, invoice_breakdowns, window_start
from .spend import spend_over_time

SERIES_SHOWN = 10


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[Decimal | None, ...]


@dataclass(frozen=True)
class DailyChart:
    """Values per day: `days[i]` is the start of day i (UTC); a series holds one value a day."""

    title: str
    unit: str
    days: tuple[datetime, ...]
    series: tuple[Series, ...]
    stacked: bool = False

    def as_json(self) -> dict:
        """Numbers as decimal strings: exact on the wire, `Number()` in the browser."""
        return {
            "title": self.title,
            "unit": self.unit,
            "stacked": self.stacked,
            "labels": [f"{day:%b %-d}" for day in self.days],
            "datasets": [
                {
                    "label": series.label,
                    "data": [
                        None if v is None else f"{money.normalize(v):f}" for v in series.values
                    ],
                }
                for series in self.series
            ],
        }


def _current_usage_invoice(contract: Contract, now: datetime) -> Invoice | None:
    return (
        Invoice.objects.filter(
            contract=contract,
            type=Invoice.Type.USAGE,
            start_timestamp__lte=now,
            end_timestamp__gt=now,
        )
        .exclude(status=Invoice.Status.VOID)
        .order_by("-start_timestamp")
        .first()
    )


def _through_today(now: datetime) -> datetime:
    return window_start(now, "DAY") + WINDOW_SIZES["DAY"]


def contract_usage_by_day(*, contract: Contract, product: Product, now: datetime) -> DailyChart:
    """The product's usage in the contract's current billing period, per day up to today, one
    series per pricing group values (the largest SERIES_SHOWN, the rest as "Other")."""
    title = f"{product.name}: usage by day"
    unit = product_unit_label(product, at=now)
    invoice = _current_usage_invoice(contract, now)
    if invoice is None:
        return DailyChart(title=title, unit=unit, days=(), series=(), stacked=True)
    over_time = spend_over_time(
        invoice_breakdowns(invoice=invoice, window_size="DAY", ending_before=_through_today(now))
    )
    days = over_time.windows
    by_values: dict[tuple, list[Decimal]] = {}
    for series in over_time.usage:
        if series.product_id != str(product.pk):
            continue
        values = by_values.setdefault(series.pricing_group_values, [Decimal(0)] * len(days))
        for index, quantity in enumerate(series.quantities):
            values[index] += quantity
    totals = {key: sum(values, Decimal(0)) for key, values in by_values.items()}
    ranked = sorted(totals, key=lambda key: (-totals[key], str(key)))
    shown, rest = ranked[:SERIES_SHOWN], ranked[SERIES_SHOWN:]
    series = [
        Series(
            label=", ".join(f"{key}={value}" for key, value in group) or product.name,
            values=tuple(by_values[group]),
        )
        for group in shown
    ]
    if rest:
        series.append(
            Series(
                label=f"Other ({len(rest)} group values)",
                values=tuple(
                    sum((by_values[group][index] for group in rest), Decimal(0))
                    for index in range(len(days))
                ),
            )
        )
    return DailyChart(title=title, unit=unit, days=days, series=tuple(series), stacked=True)


def _period_label(invoice: Invoice) -> str:
    last = invoice.end_timestamp - timedelta(microseconds=1)
    return f"{invoice.start_timestamp:%b %-d} to {last:%b %-d, %Y}"


def contract_spend_to_date(*, contract: Contract, now: datetime) -> DailyChart:
    """The current usage invoice's spend so far, day by day up to today, beside the previous
    period's (its whole period), in the card's display unit."""
    unit_name = contract.rate_card.fiat_credit_type.name
    title = "Spend so far this period"
    label = money.display_unit_label(unit_name)
    current = _current_usage_invoice(contract, now)
    if current is None:
        return DailyChart(title=title, unit=label, days=(), series=())
    previous = (
        Invoice.objects.filter(
            contract=contract,
            type=Invoice.Type.USAGE,
            end_timestamp__lte=current.start_timestamp,
        )
        .exclude(status=Invoice.Status.VOID)
        .order_by("-start_timestamp")
        .first()
    )
    this = spend_over_time(
        invoice_breakdowns(invoice=current, window_size="DAY", ending_before=_through_today(now))
    )
    series = [
        Series(
            label=f"This period ({_period_label(current)})",
            values=tuple(money.to_display_amount(v, unit_name) for v in this.spend_so_far),
        )
    ]
    days = list(this.windows)
    # The labels run over the whole current period; the previous period is laid day by day
    # from its own start (day 1 beside day 1).
    day = days[-1] if days else current.start_timestamp
    while day + WINDOW_SIZES["DAY"] < current.end_timestamp:
        day = window_start(day, "DAY") + WINDOW_SIZES["DAY"]
        days.append(day)
    if previous is not None:
        before = spend_over_time(invoice_breakdowns(invoice=previous, window_size="DAY"))
        series.append(
            Series(
                label=f"Previous period ({_period_label(previous)})",
                values=tuple(money.to_display_amount(v, unit_name) for v in before.spend_so_far),
            )
        )
        while len(days) < len(before.windows):
            days.append(days[-1] + WINDOW_SIZES["DAY"])
    return DailyChart(title=title, unit=label, days=tuple(days), series=tuple(series))
