"""Invoices broken down by time: what each day (or hour) of a billing period added to its invoice.

One selector for every view of spend over time: Metronome's invoice breakdowns
(`/v1/customers/{id}/invoices/breakdowns`), the legacy daily costs (`/v1/customers/{id}/costs`),
the embeddable usage dashboard and the admin's usage charts.

A window's lines are differences of running totals: the invoice is rated as of the end of each
window (its usage so far, the scheduled items and commit purchases dated before then, its advance
subscriptions from their start and arrears ones at their end; a postpaid true-up only at the
period's end), and each window gets what its end added to its start. So tiers are counted over the
whole period (the first minutes of the month fill tier 1 whatever day they fall on), quantity
rounding and UNIQUE counts apply to the period as they do on the invoice, commits and credits burn
down in order, and the windows of a period add up to its invoice to the cent. Usage is read from
metering's hourly aggregates as running totals: one read per (metric, keys, rate segment) whatever
the number of windows. A finalized invoice is broken down from its frozen rating input (rates,
terms) with today's usage, so events that arrived late show where they happened (as Metronome's
breakdowns do); its windows add up to the invoice unless such events arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import pairwise

from django.db.models import Q

from catalog.models import Product as ProductModel
from catalog.money import ZERO
from customers.models import Customer
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.rating import (
    CollectionSchedule,
    Line,
    LineType,
    ProductType,
    RateType,
    RatingInput,
    rate_invoice,
    rating_input_from_json,
    term_boundaries,
    totals,
)

from .draw_order import draft_turn
from .invoices import invoice_view, line_items_from
from .preload import RatingPreload
from .usage_reads import customer_event_ids, usage_so_far

WINDOW_SIZES = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


@dataclass(frozen=True)
class Breakdown:
    """What one window of an invoice's period added to it: the engine's lines with the window's
    quantities and amounts (`lines`: as unsaved rows, as `InvoiceView` has them), and the
    window's subtotal and total."""

    invoice: Invoice
    starting_at: datetime
    ending_before: datetime
    engine_lines: tuple[Line, ...]
    subtotal: Decimal
    total: Decimal
    # A scheduled invoice's lines as shown (frozen rows, or its draft's): it is one window.
    rows: tuple[InvoiceLineItem, ...] | None = None

    @cached_property
    def lines(self) -> list[InvoiceLineItem]:
        if self.rows is not None:
            return list(self.rows)
        return line_items_from(self.engine_lines, invoice=self.invoice)


def window_start(moment: datetime, size: str) -> datetime:
    """The UTC day or hour `moment` falls in."""
    moment = moment.astimezone(UTC)
    if size == "HOUR":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def window_bounds(starting_at: datetime, ending_before: datetime, size: str) -> list[datetime]:
    """[starting_at, each UTC day or hour boundary inside, ending_before]: a period's windows,
    the first and last cut where the period starts or ends inside a day."""
    step = WINDOW_SIZES[size]
    bounds = [starting_at]
    moment = window_start(starting_at, size) + step
    while moment < ending_before:
        bounds.append(moment)
        moment += step
    bounds.append(ending_before)
    return bounds


def _as_of(rating_input: RatingInput, cutoff: datetime) -> RatingInput:
    """The input without what the invoice charges from `cutoff` on: scheduled charges and
    commit purchases dated then or later, subscriptions collected then or later."""
    period = rating_input.period

    def collected(subscription) -> bool:
        if subscription.collection_schedule == CollectionSchedule.ADVANCE:
            return max(period.starting_at, subscription.starting_at) < cutoff
        end = period.ending_before
        if subscription.ending_before is not None:
            end = min(end, subscription.ending_before)
        return end <= cutoff

    return dataclasses.replace(
        rating_input,
        subscriptions=tuple(s for s in rating_input.subscriptions if collected(s)),
        scheduled_charges=tuple(c for c in rating_input.scheduled_charges if c.timestamp < cutoff),
        balances=tuple(
            dataclasses.replace(
                balance,
                invoice_schedule=tuple(i for i in balance.invoice_schedule if i.timestamp < cutoff),
            )
            for balance in rating_input.balances
        ),
    )


def _snapshot_usage_products(rating_input: RatingInput) -> list[tuple[ProductModel, object]]:
    """A frozen input's USAGE products: those it has usage of and those it prices."""
    ids = {usage.product_id for usage in rating_input.usage} | {
        rate.product_id
        for rate in rating_input.rates
        if rate.entitled and rate.rate_type in (RateType.FLAT, RateType.TIERED)
    }
    products = [p for p in rating_input.products if p.id in ids and p.type == ProductType.USAGE]
    models = ProductModel.objects.select_related("billable_metric").in_bulk(
        [p.id for p in products]
    )
    return sorted(
        ((models[ProductModel._meta.pk.to_python(p.id)], p) for p in products),
        key=lambda pair: (pair[1].name, pair[1].id),
    )


def _inputs_so_far(
    invoice: Invoice, cutoffs: list[datetime], preload: RatingPreload | None
) -> list[RatingInput]:
    if invoice.status == Invoice.Status.DRAFT or not invoice.rating_snapshot:
        preload = preload or RatingPreload.for_invoices([invoice])
        base = draft_turn(
            invoice=invoice,
            rating_input=preload.rating_input(
                invoice.contract_id, invoice.start_timestamp, usage=False
            ),
            contract=preload.contract(invoice.contract_id, invoice.start_timestamp, invoice.type),
            now=None,
        )
        usage_products = preload.usage_products(invoice.contract_id, invoice.start_timestamp, base)
        customer_ids = preload.customer_ids(invoice.contract_id, invoice.start_timestamp)
    else:
        base = rating_input_from_json(invoice.rating_snapshot)
        usage_products = _snapshot_usage_products(base)
        customer_ids = customer_event_ids(customer=invoice.customer)
    usage = usage_so_far(
        customer=invoice.customer,
        customer_ids=customer_ids,
        usage_products=usage_products,
        rates=base.rates,
        period=base.period,
        cuts={product.id: term_boundaries(base, product.id) for _, product in usage_products},
        cutoffs=cutoffs,
    )
    return [
        _as_of(dataclasses.replace(base, usage=records), cutoff)
        for records, cutoff in zip(usage, cutoffs, strict=True)
    ]


@dataclass(frozen=True)
class _SoFar:
    lines: tuple[Line, ...] = ()
    subtotal: Decimal = ZERO
    total: Decimal = ZERO


def _rated(rating_input: RatingInput, *, final: bool) -> _SoFar:
    result = rate_invoice(rating_input)
    if final:
        return _SoFar(result.lines, result.subtotal, result.total)
    # A postpaid commit is trued up when the period ends, not as of a day inside it.
    lines = tuple(line for line in result.lines if line.type != LineType.POSTPAID_TRUEUP)
    if len(lines) == len(result.lines):
        return _SoFar(result.lines, result.subtotal, result.total)
    again = totals(rating_input, lines)
    return _SoFar(lines, again.subtotal, again.total)


def _key(line: Line) -> tuple:
    return (
        line.type,
        line.product_id,
        line.name,
        line.pricing_group_values,
        line.presentation_group_values,
        line.tier.level if line.tier else None,
        line.credit_type_id,
        line.commit_id,
        line.commit_segment_id,
        line.applied_commit_or_credit_id,
        line.subscription_id,
        line.scheduled_charge_id,
        # A usage line per rate segment (a price change inside the period).
        line.starting_at if line.type == LineType.USAGE else None,
    )


def _difference(before: _SoFar, after: _SoFar, start: datetime, end: datetime) -> list[Line]:
    """What `after` added to `before`, as lines of the window [start, end). A usage line that
    had no usage in the window stays, with quantity 0 (of a tiered rate, only the tier the
    period has reached); other lines only where they changed."""
    earlier = {_key(line): line for line in before.lines}
    keyed = [(_key(line), line) for line in after.lines]
    reached: dict[tuple, int] = {}
    for key, line in keyed:
        if line.tier is not None:
            group = key[:5] + key[6:]
            reached[group] = max(reached.get(group, 0), line.tier.level)
    lines = []
    for key, line in keyed:
        previous = earlier.pop(key, None)
        if (
            previous is not None
            and line.tier is not None
            and line.quantity == previous.quantity
            and line.tier.level < reached[key[:5] + key[6:]]
        ):
            continue
        quantity = line.quantity
        total = line.total
        if previous is not None:
            total -= previous.total
            if quantity is not None and previous.quantity is not None:
                quantity -= previous.quantity
        if total == 0 and not quantity and line.type != LineType.USAGE:
            continue
        lines.append(
            dataclasses.replace(
                line, quantity=quantity, total=total, starting_at=start, ending_before=end
            )
        )
    for previous in earlier.values():  # what a later moment no longer has (moved elsewhere)
        lines.append(
            dataclasses.replace(
                previous,
                quantity=None if previous.quantity is None else -previous.quantity,
                total=-previous.total,
                starting_at=start,
                ending_before=end,
            )
        )
    return lines


def invoice_breakdowns(
    *,
    invoice: Invoice,
    window_size: str = "DAY",
    starting_on: datetime | None = None,
    ending_before: datetime | None = None,
    preload: RatingPreload | None = None,
) -> list[Breakdown]:
    """The invoice's windows that start on or after `starting_on` and end by `ending_before`,
    oldest first. A SCHEDULED invoice is one window, the day (or hour) of its date."""
    size = window_size
    if invoice.type == Invoice.Type.SCHEDULED:
        start = window_start(invoice.start_timestamp, size)
        end = start + WINDOW_SIZES[size]
        if (starting_on and start < starting_on) or (ending_before and end > ending_before):
            return []
        view = invoice_view(invoice=invoice, preload=preload)
        return [Breakdown(invoice, start, end, (), view.subtotal, view.total, tuple(view.lines))]
    bounds = window_bounds(invoice.start_timestamp, invoice.end_timestamp, size)
    windows = [
        (start, end)
        for start, end in pairwise(bounds)
        if (starting_on is None or start >= starting_on)
        and (ending_before is None or end <= ending_before)
    ]
    if not windows:
        return []
    period_start, period_end = invoice.start_timestamp, invoice.end_timestamp
    cutoffs = sorted({end for _, end in windows} | {s for s, _ in windows if s > period_start})
    so_far = {period_start: _SoFar()}
    for cutoff, rating_input in zip(
        cutoffs, _inputs_so_far(invoice, cutoffs, preload), strict=True
    ):
        so_far[cutoff] = _rated(rating_input, final=cutoff == period_end)
    breakdowns = []
    for start, end in windows:
        before, after = so_far[start], so_far[end]
        lines = _difference(before, after, start, end)
        breakdowns.append(
            Breakdown(
                invoice=invoice,
                starting_at=start,
                ending_before=end,
                engine_lines=tuple(lines),
                subtotal=after.subtotal - before.subtotal,
                total=after.total - before.total,
            )
        )
    return breakdowns


def customer_breakdown_invoices(
    *,
    customer: Customer,
    starting_on: datetime,
    ending_before: datetime,
    statuses: Iterable[str] | None = None,
    credit_type_id=None,
    contract_id=None,
):
    """The customer's invoices with a window in [starting_on, ending_before): usage invoices
    whose period overlaps it, scheduled invoices dated in it; live ones (not VOID) unless
    `statuses` says otherwise."""
    queryset = Invoice.objects.filter(customer=customer).filter(
        Q(type=Invoice.Type.USAGE, start_timestamp__lt=ending_before, end_timestamp__gt=starting_on)
        # A scheduled invoice's window is the day (at most) around its date.
        | Q(
            type=Invoice.Type.SCHEDULED,
            start_timestamp__gte=starting_on - timedelta(days=1),
            start_timestamp__lt=ending_before,
        )
    )
    queryset = queryset.filter(
        status__in=list(statuses or (Invoice.Status.DRAFT, Invoice.Status.FINALIZED))
    )
    if credit_type_id is not None:
        queryset = queryset.filter(credit_type_id=credit_type_id)
    if contract_id is not None:
        queryset = queryset.filter(contract_id=contract_id)
    return queryset.select_related("customer", "contract", "credit_type").order_by(
        "start_timestamp", "id"
    )


def customer_breakdowns(
    *,
    customer: Customer,
    starting_on: datetime,
    ending_before: datetime,
    window_size: str = "DAY",
    statuses: Iterable[str] | None = None,
    credit_type_id=None,
    contract_id=None,
) -> list[Breakdown]:
    """Every window of the customer's invoices in [starting_on, ending_before), by window then
    invoice; the drafts share one preload."""
    invoices = list(
        customer_breakdown_invoices(
            customer=customer,
            starting_on=starting_on,
            ending_before=ending_before,
            statuses=statuses,
            credit_type_id=credit_type_id,
            contract_id=contract_id,
        )
    )
    drafts = [i for i in invoices if i.status == Invoice.Status.DRAFT]
    preload = RatingPreload.for_invoices(drafts) if drafts else None
    found = [
        breakdown
        for invoice in invoices
        for breakdown in invoice_breakdowns(
            invoice=invoice,
            window_size=window_size,
            starting_on=starting_on,
            ending_before=ending_before,
            preload=preload if invoice.status == Invoice.Status.DRAFT else None,
        )
    ]
    return sorted(
        found, key=lambda b: (b.starting_at, b.invoice.start_timestamp, str(b.invoice.pk))
    )
