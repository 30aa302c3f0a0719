"""The daily revenue schedule of the finalized invoices' lines.

Each line's total is spread over days (to the cent, `allocation.split`) and given a category:
- `usage`: recognized on the days its usage happened (the metric's hourly pre-aggregates for the
  line's customer and group values, summed per UTC day); custom-unit conversions and anything
  without usage data ratably over the line's service period;
- `subscription`: ratably over its service period;
- `scheduled_charge`, `trueup`: on their date (a true-up: the last day of its period);
- `deferred_revenue`: a prepaid commit purchase, booked on its invoice date;
- `deferred_revenue_drawdown` (applied prepaid commits) and `contra_revenue` (applied credits):
  negative, on the days of the invoice's usage revenue they paid for;
- `tax`: a precalculated tax on a gated commit purchase, on its invoice date (collected, not
  revenue: kept apart so the schedule still adds up to the invoices' totals).
The parts of a line add up to its total, so the schedule over the invoices' whole periods adds up
to the invoices' totals, to the cent.

Breakage (an unused prepaid commit): when a prepaid commit's access segment ends with a balance
left, the ledger records a `PREPAID_COMMIT_EXPIRATION` as the usage invoice covering that end is
finalized. What was paid for that balance will never be drawn down, so it leaves deferred revenue
and becomes revenue on the last day of the segment's access, as a pair of rows of that invoice:
`breakage` (positive: revenue) and `deferred_revenue_expiration` (the same amount, negative:
deferred revenue released). The amount is the expired balance at the price the commit was paid
for: its invoice schedule's total over its access schedule's total (1 for a commit bought at face
value; 0 for a commit given for free, which deferred nothing; a rollover commit, never invoiced
itself, at the price of the commit it rolled over from), rounded once to the invoice's smallest
amount. The pair adds nothing to what was invoiced (the schedule still adds up to the invoices'
totals); deferred revenue (`deferred_revenue` + `deferred_revenue_drawdown` +
`deferred_revenue_expiration`) falls back to zero once a commit bought at face value has been
used or has expired. An expiration written by an invoice that was later voided is left out (the
regenerated invoice, once finalized, writes its own). Free credits that expire deferred nothing:
they have no breakage.

Speed: lines, invoices and usage are read as plain values in a few queries (`sources`); amounts
are counts of the smallest amount and days are ordinals, so a line's split is integer arithmetic;
rows are tuples, written in their final order (no sort of the rows)."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

from catalog.money import round_amount
from customers.selectors import prepaid_commit_expirations
from invoicing.models import Invoice, InvoiceLineItem

from .allocation import (
    day_of,
    epoch_us,
    integer_weights,
    minor_units,
    ratable,
    split,
    window_days,
)
from .sources import (
    DailyUsage,
    InvoiceFacts,
    LineFacts,
    invoices_by_id,
    invoices_overlapping,
    line_window,
    lines_of,
    usage_metrics,
)

CATEGORIES = (
    "usage",
    "subscription",
    "scheduled_charge",
    "trueup",
    "deferred_revenue",
    "deferred_revenue_drawdown",
    "contra_revenue",
    "breakage",
    "deferred_revenue_expiration",
    "tax",
)
EXPIRATION_LINE_TYPE = "prepaid_commit_expiration"
Type = InvoiceLineItem.Type


class RevenueRow(NamedTuple):
    """One day of one line (a tuple: 575,000 of them are made in seconds)."""

    day: date
    amount: Decimal
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


def _spread(count: int, days: list[int], weights: list) -> dict[int, int]:
    return dict(zip(days, split(count, integer_weights(weights)), strict=True))


def _ratably(count: int, start_us: int, end_us: int) -> dict[int, int]:
    first, weights = ratable(start_us, end_us)
    parts = split(count, weights)
    return {first + offset: part for offset, part in enumerate(parts)}


def _line_schedule(
    line: LineFacts,
    invoice: InvoiceFacts,
    count: int,
    usage: DailyUsage,
    metrics: dict,
    drawn: dict,
) -> tuple[str, dict[int, int]]:
    """(category, {day: smallest amounts}) of one line; `drawn`: its invoice's usage revenue
    per day."""
    start, end = line_window(line, invoice)
    kind = line.type
    if kind == Type.USAGE:
        metric = metrics.get(line.product_id)
        if metric is not None:
            first, last = window_days(start, end)
            weights = usage.weights(line, invoice.customer_id, metric, first, last)
            if any(weights.values()):
                days = sorted(weights)
                return "usage", _spread(count, days, [weights[d] for d in days])
        return "usage", _ratably(count, start, end)
    if kind == Type.SUBSCRIPTION:
        return "subscription", _ratably(count, start, end)
    if kind in (Type.SCHEDULED, Type.COMMIT_PURCHASE):
        category = "scheduled_charge" if kind == Type.SCHEDULED else "deferred_revenue"
        return category, {day_of(start): count}
    if kind == Type.TAX:
        # Collected for the tax authority, not earned: on the day it is invoiced.
        return "tax", {day_of(start): count}
    if kind == Type.POSTPAID_TRUEUP:
        return "trueup", {window_days(start, end)[1]: count}
    if kind == Type.APPLIED_COMMIT_OR_CREDIT:
        category = (
            "contra_revenue" if line.applied_type == "CREDIT" else "deferred_revenue_drawdown"
        )
        if any(drawn.values()):
            days = sorted(drawn)
            return category, _spread(count, days, [abs(drawn[d]) for d in days])
        return category, _ratably(count, start, end)
    return "usage", _ratably(count, start, end)


class _Piece(NamedTuple):
    """What every row of one line repeats, and its amounts on the window's days."""

    order: tuple
    head: tuple
    places: int
    parts: dict[int, int]


def _head(invoice: InvoiceFacts, line_id: str, name: str, kind: str, product_id, category: str):
    return (
        invoice.id,
        invoice.number,
        str(invoice.customer_id),
        invoice.customer_name,
        invoice.contract_id,
        line_id,
        name,
        kind,
        "" if product_id is None else str(product_id),
        category,
        invoice.unit,
    )


def _line_pieces(starting_at, ending_before, first: int, last: int) -> list[_Piece]:
    invoices = invoices_overlapping(starting_at, ending_before)
    lines = lines_of(invoices)
    metrics = usage_metrics(lines)
    usage = DailyUsage(lines, invoices, metrics)
    by_invoice: dict = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_id].append(line)
    pieces = []
    for invoice_id, invoice_lines in by_invoice.items():
        invoice = invoices[invoice_id]
        drawn: dict[int, int] = defaultdict(int)
        # Usage first: what commits and credits paid for is spread like the usage it paid.
        for line in sorted(invoice_lines, key=lambda line: line.type != Type.USAGE):
            count = minor_units(line.total, invoice.places)
            category, parts = _line_schedule(line, invoice, count, usage, metrics, drawn)
            if line.type == Type.USAGE:
                for day, amount in parts.items():
                    drawn[day] += amount
            kept = {day: amount for day, amount in parts.items() if first <= day < last and amount}
            if kept:
                line_id = str(line.id)
                pieces.append(
                    _Piece(
                        (invoice.number or 0, invoice.id, line_id),
                        _head(invoice, line_id, line.name, line.type, line.product_id, category),
                        invoice.places,
                        kept,
                    )
                )
    return pieces


def _breakage_pieces(starting_at, ending_before, first: int, last: int) -> list[_Piece]:
    """Breakage and the deferred revenue it releases, on the last day of the expired access."""
    expirations = prepaid_commit_expirations(after=starting_at, until=ending_before)
    invoices = invoices_by_id(
        Invoice.objects.filter(
            pk__in={e.invoice_id for e in expirations}, status=Invoice.Status.FINALIZED
        )
    )
    pieces = []
    for expiration in expirations:
        invoice = invoices.get(expiration.invoice_id)
        day = day_of(epoch_us(expiration.expired_at) - 1)
        if invoice is None or not first <= day < last or not expiration.granted:
            continue
        amount = round_amount(
            expiration.expired * expiration.paid / expiration.granted, invoice.places
        )
        count = minor_units(amount, invoice.places)
        if not count:
            continue
        for category, signed in (("breakage", count), ("deferred_revenue_expiration", -count)):
            head = _head(
                invoice, "", expiration.name, EXPIRATION_LINE_TYPE, expiration.product_id, category
            )
            pieces.append(
                _Piece((invoice.number or 0, invoice.id, ""), head, invoice.places, {day: signed})
            )
    return pieces


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Hundreds of thousands of rows, none in a reference cycle: the cycle collector, left on,
    walks every one of them again and again while they are made (half the schedule's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def revenue_schedule(*, starting_at: datetime, ending_before: datetime) -> list[RevenueRow]:
    """The schedule's rows whose UTC day falls in [starting_at, ending_before) (midnights),
    by day, then invoice (number, id), then line (breakage rows before the invoice's lines)."""
    with _without_cycle_collection():
        return _schedule(starting_at, ending_before)


def _schedule(starting_at: datetime, ending_before: datetime) -> list[RevenueRow]:
    first = starting_at.astimezone(UTC).date().toordinal()
    last = ending_before.astimezone(UTC).date().toordinal()
    pieces = _line_pieces(starting_at, ending_before, first, last)
    pieces += _breakage_pieces(starting_at, ending_before, first, last)
    pieces.sort(key=lambda piece: piece.order)
    days = [date.fromordinal(ordinal) for ordinal in range(first, last)]
    by_day: list[list[RevenueRow]] = [[] for _ in days]
    amounts: dict[tuple[int, int], Decimal] = {}
    make = RevenueRow._make
    for piece in pieces:
        for ordinal, count in piece.parts.items():
            amount = amounts.get((count, piece.places))
            if amount is None:
                amount = amounts[(count, piece.places)] = Decimal(count).scaleb(-piece.places)
            index = ordinal - first
            by_day[index].append(make((days[index], amount, *piece.head)))
    return [row for rows in by_day for row in rows]
