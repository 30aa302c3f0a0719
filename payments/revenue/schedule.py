"""The daily revenue schedule of the finalized invoices' lines.

Each line's total is spread over days (to the cent, `allocation.allocate`) and given a category:
- `usage`: recognized on the days its usage happened (the metric's hourly pre-aggregates for the
  line's customer and group values, summed per UTC day); custom-unit conversions and anything
  without usage data ratably over the line's service period;
- `subscription`: ratably over its service period;
- `scheduled_charge`, `trueup`: on their date (a true-up: the last day of its period);
- `deferred_revenue`: a prepaid commit purchase, booked on its invoice date;
- `deferred_revenue_drawdown` (applied prepaid commits) and `contra_revenue` (applied credits):
  negative, on the days of the invoice's usage revenue they paid for.
The parts of a line add up to its total, so the schedule over the invoices' whole periods adds up
to the invoices' totals, to the cent."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import Q

from customers.models import IngestAlias
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import lines_in_total
from metering.selectors import daily_usage

from .allocation import allocate, days_of, ratable_weights

CATEGORIES = (
    "usage",
    "subscription",
    "scheduled_charge",
    "trueup",
    "deferred_revenue",
    "deferred_revenue_drawdown",
    "contra_revenue",
)
Type = InvoiceLineItem.Type


@dataclass(frozen=True)
class RevenueRow:
    day: date
    invoice_id: str
    invoice_number: int | None
    customer_id: str
    customer_name: str
    contract_id: str
    line_id: str
    line_name: str
    line_type: str
    product_id: str
    category: str
    amount: Decimal
    pricing_unit: str


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """ "2026-11" -> [2026-11-01, 2026-12-01) in UTC."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"'{month}' is not a month as YYYY-MM") from None
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _window(line: InvoiceLineItem) -> tuple[datetime, datetime]:
    invoice = line.invoice
    return (
        line.starting_at or invoice.start_timestamp,
        line.ending_before or invoice.end_timestamp,
    )


def _lines(starting_at: datetime, ending_before: datetime) -> list[InvoiceLineItem]:
    overlapping = Q(start_timestamp__lt=ending_before, end_timestamp__gte=starting_at) | Q(
        line_items__starting_at__lt=ending_before, line_items__ending_before__gt=starting_at
    )
    ids = (
        Invoice.objects.filter(status=Invoice.Status.FINALIZED)
        .filter(overlapping)
        .values_list("pk", flat=True)
        .distinct()
    )
    return list(
        lines_in_total(invoice_ids=list(ids)).select_related(
            "invoice__customer", "invoice__credit_type", "product__billable_metric"
        )
    )


class _Usage:
    """Daily usage of the usage lines' metrics and customers, loaded in one query."""

    def __init__(self, lines: list[InvoiceLineItem]):
        usage_lines = [line for line in lines if _metric(line) is not None]
        self.rows: dict[tuple, list] = defaultdict(list)
        if not usage_lines:
            return
        customers = {line.invoice.customer_id for line in usage_lines}
        owner = {str(pk): pk for pk in customers}
        for alias, customer_id in IngestAlias.objects.filter(customer_id__in=customers).values_list(
            "alias", "customer_id"
        ):
            owner[alias] = customer_id
        windows = [_window(line) for line in usage_lines]
        groups: dict[str, dict] = {}
        for metric_id, ingest_id, day, text, events, amount in daily_usage(
            metric_ids={_metric(line).pk for line in usage_lines},
            customer_ids=list(owner),
            starting_at=min(start for start, _ in windows),
            ending_before=max(end for _, end in windows),
        ):
            values = groups.get(text)
            if values is None:
                values = groups[text] = json.loads(text) if text else {}
            self.rows[(metric_id, owner[ingest_id])].append((day, values, events, amount))

    def weights(self, line: InvoiceLineItem) -> dict[date, Decimal]:
        metric = _metric(line)
        start, end = _window(line)
        days = set(days_of(start, end))
        wanted = {
            str(k): str(v)
            for k, v in {
                **(line.pricing_group_values or {}),
                **(line.presentation_group_values or {}),
            }.items()
        }
        by_sum = metric.aggregation_type == "SUM"
        weights: dict[date, Decimal] = defaultdict(Decimal)
        for day, values, events, amount in self.rows.get((metric.pk, line.invoice.customer_id), ()):
            if day in days and all(values.get(k) == v for k, v in wanted.items()):
                weights[day] += Decimal(amount or 0) if by_sum else Decimal(events or 0)
        return dict(weights)


def _metric(line: InvoiceLineItem):
    if line.type != Type.USAGE or line.product is None:
        return None
    return line.product.billable_metric


def _spread(line: InvoiceLineItem, weights: dict[date, Decimal]) -> dict[date, Decimal]:
    days = sorted(weights)
    parts = allocate(
        line.total, [weights[d] for d in days], line.invoice.credit_type.decimal_places
    )
    return dict(zip(days, parts, strict=True))


def line_schedule(line: InvoiceLineItem, usage: _Usage, drawn: dict) -> tuple[str, dict]:
    """(category, {day: amount}) of one line; `drawn`: its invoice's usage revenue per day."""
    start, end = _window(line)
    on_date = {start.astimezone(UTC).date(): Decimal(1)}
    if line.type == Type.USAGE:
        weights = usage.weights(line) if _metric(line) is not None else {}
        if not any(weights.values()):
            weights = ratable_weights(start, end)
        return "usage", _spread(line, weights)
    if line.type == Type.CPU_CONVERSION:
        return "usage", _spread(line, ratable_weights(start, end))
    if line.type == Type.SUBSCRIPTION:
        return "subscription", _spread(line, ratable_weights(start, end))
    if line.type == Type.SCHEDULED:
        return "scheduled_charge", _spread(line, on_date)
    if line.type == Type.COMMIT_PURCHASE:
        return "deferred_revenue", _spread(line, on_date)
    if line.type == Type.POSTPAID_TRUEUP:
        last = max(days_of(start, end))
        return "trueup", _spread(line, {last: Decimal(1)})
    if line.type == Type.APPLIED_COMMIT_OR_CREDIT:
        category = (
            "contra_revenue"
            if line.applied_commit_or_credit_type == "CREDIT"
            else "deferred_revenue_drawdown"
        )
        weights = {day: abs(amount) for day, amount in drawn.items()}
        if not any(weights.values()):
            weights = ratable_weights(start, end)
        return category, _spread(line, weights)
    return "usage", _spread(line, ratable_weights(start, end))


def revenue_schedule(*, starting_at: datetime, ending_before: datetime) -> list[RevenueRow]:
    """The schedule's rows whose UTC day falls in [starting_at, ending_before) (midnights),
    by day, then invoice, then line."""
    lines = _lines(starting_at, ending_before)
    usage = _Usage(lines)
    first, last = starting_at.astimezone(UTC).date(), ending_before.astimezone(UTC).date()
    by_invoice: dict = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_id].append(line)
    rows = []
    for invoice_lines in by_invoice.values():
        drawn: dict[date, Decimal] = defaultdict(Decimal)
        schedules = []
        # Usage first: what commits and credits paid for is spread like the usage it paid.
        for line in sorted(invoice_lines, key=lambda line: line.type != Type.USAGE):
            category, parts = line_schedule(line, usage, drawn)
            if line.type == Type.USAGE:
                for day, amount in parts.items():
                    drawn[day] += amount
            schedules.append((line, category, parts))
        for line, category, parts in schedules:
            fields = None
            for day, amount in parts.items():
                if first <= day < last and amount != 0:
                    fields = fields or _line_fields(line, category)
                    rows.append(RevenueRow(day=day, amount=amount, **fields))
    rows.sort(key=lambda row: (row.day, row.invoice_number or 0, row.invoice_id, row.line_id))
    return rows


def _line_fields(line: InvoiceLineItem, category: str) -> dict:
    """What every row of one line repeats (computed once per line, not per day)."""
    invoice = line.invoice
    return {
        "invoice_id": str(invoice.pk),
        "invoice_number": invoice.number,
        "customer_id": str(invoice.customer_id),
        "customer_name": invoice.customer.name,
        "contract_id": str(invoice.contract_id),
        "line_id": str(line.pk),
        "line_name": line.name,
        "line_type": line.type,
        "product_id": str(line.product_id or ""),
        "category": category,
        "pricing_unit": invoice.credit_type.name,
    }
