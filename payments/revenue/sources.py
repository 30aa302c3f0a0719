"""What the revenue schedule reads, as plain values in a few queries: the finalized invoices of a
window, their lines counted in their totals, the usage lines' metrics, and the daily usage of
those metrics per customer and group values. Moments are microseconds since 1970 (UTC) and days
are ordinals (`allocation`)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q

from catalog.models import Product
from customers.models import IngestAlias
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import lines_in_total
from metering.selectors import daily_usage

from .allocation import epoch_us, moment

Type = InvoiceLineItem.Type


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """What the schedule needs of an invoice."""

    id: str
    number: int | None
    customer_id: object
    customer_name: str
    contract_id: str
    unit: str
    places: int
    start_us: int
    end_us: int


class LineFacts(NamedTuple):
    """What the schedule needs of a line."""

    id: object
    invoice_id: object
    type: str
    total: Decimal
    starting_at: datetime | None
    ending_before: datetime | None
    product_id: object
    name: str
    applied_type: str
    pricing_group_values: dict
    presentation_group_values: dict


LINE_VALUES = (
    "pk",
    "invoice_id",
    "type",
    "total",
    "starting_at",
    "ending_before",
    "product_id",
    "name",
    "applied_commit_or_credit_type",
    "pricing_group_values",
    "presentation_group_values",
)


def invoices_overlapping(starting_at: datetime, ending_before: datetime) -> dict:
    """The finalized invoices with a period or a line overlapping the window, by id. A
    consolidated invoice's lines are its constituents' (each recognized once, as the revenue
    of the contract that used it): it is left out."""
    overlapping = Q(start_timestamp__lt=ending_before, end_timestamp__gte=starting_at) | Q(
        line_items__starting_at__lt=ending_before, line_items__ending_before__gt=starting_at
    )
    ids = (
        Invoice.objects.filter(status=Invoice.Status.FINALIZED)
        .exclude(type=Invoice.Type.USAGE_CONSOLIDATED)
        .filter(overlapping)
        .values_list("pk", flat=True)
        .distinct()
    )
    return invoices_by_id(Invoice.objects.filter(pk__in=ids))


def invoices_by_id(queryset) -> dict:
    rows = queryset.values_list(
        "pk",
        "number",
        "customer_id",
        "customer__name",
        "contract_id",
        "credit_type__name",
        "credit_type__decimal_places",
        "start_timestamp",
        "end_timestamp",
    )
    return {
        pk: InvoiceFacts(
            str(pk), number, customer, name, str(contract), unit, places, *map(epoch_us, period)
        )
        for pk, number, customer, name, contract, unit, places, *period in rows
    }


class DailyUsage:
    """Daily usage of the usage lines' metrics and customers, loaded in one query: per metric
    and customer, per group values, the sum and the events of each day."""

    def __init__(self, lines: list[LineFacts], invoices: dict, metrics: dict):
        usage_lines = [line for line in lines if line.product_id in metrics]
        self.groups: dict[tuple, dict[str, tuple]] = defaultdict(dict)
        if not usage_lines:
            return
        customers = {invoices[line.invoice_id].customer_id for line in usage_lines}
        owner = {str(pk): pk for pk in customers}
        for alias, customer_id in IngestAlias.objects.filter(customer_id__in=customers).values_list(
            "alias", "customer_id"
        ):
            owner[alias] = customer_id
        windows = [line_window(line, invoices[line.invoice_id]) for line in usage_lines]
        parsed: dict[str, dict] = {}
        for metric_id, ingest_id, day, text, events, amount in daily_usage(
            metric_ids={metrics[line.product_id][0] for line in usage_lines},
            customer_ids=list(owner),
            starting_at=moment(min(start for start, _ in windows)),
            ending_before=moment(max(end for _, end in windows)),
        ):
            groups = self.groups[(metric_id, owner[ingest_id])]
            group = groups.get(text)
            if group is None:
                values = parsed.get(text)
                if values is None:
                    values = parsed[text] = json.loads(text) if text else {}
                group = groups[text] = (values, {}, {})
            ordinal = day.toordinal()
            sums, counts = group[1], group[2]
            sums[ordinal] = sums.get(ordinal, 0) + (amount or 0)
            counts[ordinal] = counts.get(ordinal, 0) + (events or 0)

    def weights(self, line: LineFacts, customer_id, metric: tuple, first: int, last: int) -> dict:
        """{day: weight} of the line's usage in [first, last]: the metric's sum for SUM, the
        events otherwise."""
        metric_id, aggregation = metric
        wanted = {
            str(k): str(v)
            for k, v in {
                **(line.pricing_group_values or {}),
                **(line.presentation_group_values or {}),
            }.items()
        }
        by_sum = aggregation == "SUM"
        weights: dict = {}
        for values, sums, counts in self.groups.get((metric_id, customer_id), {}).values():
            if all(values.get(k) == v for k, v in wanted.items()):
                for ordinal, weight in (sums if by_sum else counts).items():
                    if first <= ordinal <= last:
                        weights[ordinal] = weights.get(ordinal, 0) + weight
        return weights


def line_window(line: LineFacts, invoice: InvoiceFacts) -> tuple[int, int]:
    """The line's service period in microseconds (the invoice's where the line has none)."""
    start = invoice.start_us if line.starting_at is None else epoch_us(line.starting_at)
    end = invoice.end_us if line.ending_before is None else epoch_us(line.ending_before)
    return start, end


def usage_metrics(lines: list[LineFacts]) -> dict:
    """{product id: (metric id, aggregation)} of the usage lines' products."""
    products = {line.product_id for line in lines if line.type == Type.USAGE and line.product_id}
    return {
        pk: (metric_id, aggregation)
        for pk, metric_id, aggregation in Product.objects.filter(
            pk__in=products, billable_metric__isnull=False
        ).values_list("pk", "billable_metric_id", "billable_metric__aggregation_type")
    }


def lines_of(invoices: dict) -> list[LineFacts]:
    """The lines counted in the totals of these invoices (`invoices_overlapping`)."""
    rows = lines_in_total(invoice_ids=list(invoices)).values_list(*LINE_VALUES)
    return [LineFacts._make(values) for values in rows]
