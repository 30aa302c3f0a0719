"""Chart data: a contract's usage in its current billing period, day by day per pricing group
values in the product's unit; and its spend so far in the period against the previous period's,
day by day. Plain dataclasses, shaped as JSON by whoever draws them (the admin's chart endpoints,
the customer-facing dashboards).

Spend so far on day N is the draft rated with the events before the end of day N (the same
engine and rates as the invoice, so tiers, commits and credits apply as they would): the last
point of a period is its invoice's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from catalog import money
from catalog.models import Product
from catalog.selectors import product_quantity, product_state_at, product_unit_label
from customers import periods
from customers.models import Contract
from invoicing.models import Invoice
from invoicing.rating import rate_invoice
from metering.selectors import customer_ingest_ids, usage_by_segment

from .preload import RatingPreload

SERIES_SHOWN = 10
DAY = timedelta(days=1)


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


def _day_boundaries(start: datetime, end: datetime) -> list[datetime]:
    """start, each UTC midnight after it, end."""
    bounds = [start]
    midnight = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    while midnight < end:
        bounds.append(midnight)
        midnight += DAY
    bounds.append(end)
    return bounds


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(moment: datetime) -> datetime:
    floor = _hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def contract_current_period(*, contract: Contract, now: datetime) -> periods.BillingPeriod | None:
    return periods.period_containing(periods.schedule_for(contract), now)


def contract_usage_by_day(*, contract: Contract, product: Product, now: datetime) -> DailyChart:
    """The product's usage in the contract's current billing period, per day up to today, one
    series per pricing group values (the largest SERIES_SHOWN, the rest as "Other")."""
    billing = contract_current_period(contract=contract, now=now)
    title = f"{product.name}: usage by day"
    unit = product_unit_label(product, at=now)
    if billing is None or product.billable_metric_id is None:
        return DailyChart(title=title, unit=unit, days=(), series=(), stacked=True)
    start = _hour_floor(billing.starting_at)
    end = min(_hour_ceil(billing.ending_before), _hour_ceil(now))
    if end <= start:
        return DailyChart(title=title, unit=unit, days=(), series=(), stacked=True)
    bounds = _day_boundaries(start, end)
    keys = list(product_state_at(product=product, at=now).pricing_group_key)
    segments = usage_by_segment(
        metric=product.billable_metric,
        customer_ids=customer_ingest_ids(customer=contract.customer),
        boundaries=bounds,
        group_keys=keys,
    )
    totals: dict[tuple, Decimal] = {}
    for segment in segments:
        for group, quantity in segment.items():
            totals[group] = totals.get(group, Decimal(0)) + quantity
    ranked = sorted(totals, key=lambda group: (-totals[group], [str(v) for v in group]))
    shown, rest = ranked[:SERIES_SHOWN], ranked[SERIES_SHOWN:]
    series = []
    for group in shown:
        label = ", ".join(
            f"{key}={'(none)' if value is None else value}"
            for key, value in zip(keys, group, strict=True)
        )
        values = tuple(
            product_quantity(product, segment.get(group, Decimal(0)), at=now)
            for segment in segments
        )
        series.append(Series(label=label or product.name, values=values))
    if rest:
        values = tuple(
            product_quantity(
                product, sum((segment.get(g, Decimal(0)) for g in rest), Decimal(0)), at=now
            )
            for segment in segments
        )
        series.append(Series(label=f"Other ({len(rest)} group values)", values=values))
    return DailyChart(
        title=title, unit=unit, days=tuple(bounds[:-1]), series=tuple(series), stacked=True
    )


def _spend_so_far(invoice: Invoice, *, until: datetime | None) -> list[Decimal]:
    """The invoice's total rated with the events before the end of each of its days."""
    preload = RatingPreload.for_invoices([invoice])
    bounds = _day_boundaries(invoice.start_timestamp, invoice.end_timestamp)[1:]
    if until is not None:
        bounds = [b for b in bounds if b < until] + [min(until, invoice.end_timestamp)]
        bounds = sorted(set(bounds))
    totals = []
    for cutoff in bounds:
        rating_input = preload.rating_input(
            invoice.contract_id, invoice.start_timestamp, usage_until=cutoff
        )
        totals.append(rate_invoice(rating_input).total)
    return totals


def _period_label(invoice: Invoice) -> str:
    last = invoice.end_timestamp - timedelta(microseconds=1)
    return f"{invoice.start_timestamp:%b %-d} to {last:%b %-d, %Y}"


def contract_spend_to_date(*, contract: Contract, now: datetime) -> DailyChart:
    """The current usage invoice's spend so far, day by day, beside the previous period's."""
    invoices = Invoice.objects.filter(
        contract=contract, type=Invoice.Type.USAGE, start_timestamp__lte=now
    ).exclude(status=Invoice.Status.VOID)
    current = invoices.filter(end_timestamp__gt=now).order_by("-start_timestamp").first()
    unit = contract.rate_card.fiat_credit_type
    title = "Spend so far this period"
    label = money.display_unit_label(unit.name)
    if current is None:
        return DailyChart(title=title, unit=label, days=(), series=())
    previous = (
        invoices.filter(end_timestamp__lte=current.start_timestamp)
        .order_by("-start_timestamp")
        .first()
    )
    series = [
        Series(
            label=f"This period ({_period_label(current)})",
            values=tuple(
                money.to_display_amount(total, unit.name)
                for total in _spend_so_far(current, until=_hour_ceil(now))
            ),
        )
    ]
    days = _day_boundaries(current.start_timestamp, current.end_timestamp)[:-1]
    if previous is not None:
        earlier = [
            money.to_display_amount(total, unit.name)
            for total in _spend_so_far(previous, until=None)
        ]
        series.append(
            Series(label=f"Previous period ({_period_label(previous)})", values=tuple(earlier))
        )
        if len(earlier) > len(days):
            last = days[-1] if days else current.start_timestamp - DAY
            days += [last + DAY * (i + 1) for i in range(len(earlier) - len(days))]
    return DailyChart(title=title, unit=label, days=tuple(days), series=tuple(series))
