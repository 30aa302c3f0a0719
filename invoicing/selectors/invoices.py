"""Invoices as shown: a draft rated on read, a finalized one from its frozen lines; the invoice
lists of a contract and of a customer; the scheduled dates of contracts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.base import ModelState

from customers.models import (
    Commit,
    CommitInvoiceItem,
    Contract,
    Customer,
    ProServiceItem,
    ScheduledChargeItem,
)
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.rating import (
    Line,
    RatingResult,
    rate_invoice,
)

from .consolidated import consolidated_members
from .contract_flags import any_holds
from .draw_order import DraftsInOrder, draft_turn
from .preload import RatingPreload, rating_input_for


def line_item_from(line: Line, *, invoice: Invoice, position: int) -> InvoiceLineItem:
    """An engine line as an (unsaved) line item row of `invoice`."""
    return _unsaved_line_item(_line_item_values(line, invoice, position, uuid.uuid4()), invoice)


def line_items_from(lines: Sequence[Line], *, invoice: Invoice) -> list[InvoiceLineItem]:
    """The engine's lines as (unsaved) line item rows of `invoice`, `position` their index.
    Their random (version 4) ids come from one read of the system's random source."""
    random = os.urandom(16 * len(lines))
    return [
        _unsaved_line_item(
            _line_item_values(
                line,
                invoice,
                position,
                uuid.UUID(bytes=random[16 * position : 16 * position + 16], version=4),
            ),
            invoice,
        )
        for position, line in enumerate(lines)
    ]


def _line_item_values(line: Line, invoice: Invoice, position: int, pk: uuid.UUID) -> dict:
    """Every concrete field of the line item row, by attribute name."""
    tier = line.tier
    return {
        "id": pk,
        "invoice_id": invoice.pk,
        "position": position,
        "name": line.name,
        "type": line.type,
        "product_id": line.product_id,
        "product_type": line.product_type,
        "credit_type_id": line.credit_type_id or invoice.credit_type_id,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "total": line.total,
        "starting_at": line.starting_at,
        "ending_before": line.ending_before,
        "group_key": line.group_key or "",
        "group_value": line.group_value or "",
        "pricing_group_values": dict(line.pricing_group_values),
        "presentation_group_values": dict(line.presentation_group_values),
        "tier_level": tier.level if tier else None,
        "tier_starting_at": tier.starting_at if tier else None,
        "tier_size": tier.size if tier else None,
        "is_prorated": line.is_prorated,
        "is_unpriced": line.is_unpriced,
        "commit_id": line.commit_id,
        "commit_segment_id": line.commit_segment_id,
        "applied_commit_or_credit_id": line.applied_commit_or_credit_id,
        "applied_commit_or_credit_type": line.applied_commit_or_credit_type or "",
        "subscription_id": line.subscription_id,
        "scheduled_charge_id": line.scheduled_charge_id,
        "balance_remaining": line.balance_remaining,
        "discount_id": line.discount_id,
        "professional_service_id": line.professional_service_id,
        "origin_invoice_id": None,
        "origin_line_item_id": None,
    }


_LINE_FIELDS = tuple(field.attname for field in InvoiceLineItem._meta.concrete_fields)


def line_item_copy(
    line: InvoiceLineItem, *, invoice: Invoice, position: int, origin: Invoice
) -> InvoiceLineItem:
    """An (unsaved) copy of `origin`'s line on `invoice` (a consolidated invoice), naming where
    it was copied from (`origin_invoice`, `origin_line_item_id`)."""
    values = {name: getattr(line, name) for name in _LINE_FIELDS}
    values.update(
        id=uuid.uuid4(),
        invoice_id=invoice.pk,
        position=position,
        origin_invoice_id=origin.pk,
        origin_line_item_id=line.pk,
    )
    return _unsaved_line_item(values, invoice)


def _unsaved_line_item(values: dict, invoice: Invoice) -> InvoiceLineItem:
    """A new row from every field's value, as `InvoiceLineItem(**fields)` makes it (the invoice
    cached on it), without Model.__init__'s per-field work: a 10,000-line draft spent more time
    there than in rating. The model has no init signal receivers to skip (a test checks)."""
    item = InvoiceLineItem.__new__(InvoiceLineItem)
    state = ModelState()
    state.fields_cache = {"invoice": invoice}
    item._state = state
    item.__dict__.update(values)
    return item


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as finance staff and the API see it: frozen lines, or a draft rated on read.
    A draft's `rated` result holds its engine lines; `lines` makes them unsaved rows when first
    read (the API writes a draft from the engine lines: a 10,000-line draft's rows cost as
    much as its serialization). A consolidated invoice's `constituents`: the invoices its lines
    were copied from."""

    invoice: Invoice
    rows: list[InvoiceLineItem] | None
    subtotal: Decimal
    total: Decimal
    rated: RatingResult | None = None
    constituents: tuple[Invoice, ...] = ()

    @cached_property
    def lines(self) -> list[InvoiceLineItem]:
        if self.rows is not None:
            return self.rows
        return line_items_from(self.rated.lines if self.rated else (), invoice=self.invoice)


def invoice_rate(
    *,
    invoice: Invoice,
    now: datetime | None = None,
    preload: RatingPreload | None = None,
    drafts: DraftsInOrder | None = None,
) -> RatingResult:
    """The invoice rated now; a usage draft in its turn: after what the drafts that draw before
    it take from the balances they share (`draw_order`). `drafts`: those of a page of
    invoices, loaded once (`invoice_views`)."""
    preload = preload or RatingPreload.for_invoices([invoice])
    rating_input = draft_turn(
        invoice=invoice,
        rating_input=rating_input_for(invoice=invoice, now=now, preload=preload),
        contract=preload.contract(invoice.contract_id, invoice.start_timestamp, invoice.type),
        now=now,
        drafts=drafts,
    )
    return rate_invoice(rating_input)


def invoice_view(
    *, invoice: Invoice, now: datetime | None = None, preload: RatingPreload | None = None
) -> InvoiceView:
    """A draft is rated now from the current aggregates (read-your-writes); others are frozen.
    A `preload` made for a page of invoices saves each draft's rate card and terms queries."""
    if invoice.is_consolidated:
        return invoice_views(invoices=[invoice], now=now)[0]
    if invoice.status == Invoice.Status.DRAFT:
        return _draft_view(invoice, invoice_rate(invoice=invoice, now=now, preload=preload))
    lines = list(invoice.line_items.order_by("position"))
    return InvoiceView(invoice, lines, invoice.subtotal, invoice.total)


def sql_metric_drafts_read(*, now: datetime, contract_ids: list | None = None) -> int:
    """Read every current usage draft whose rate card prices a product by a SQL metric (of
    `contract_ids` only, when given), as a person would, and return how many. Metering keeps a SQL metric's result per window and corrects it
    by the hours that gained events since; reading each such draft regularly (the
    `invoicing.read_sql_metric_drafts` schedule) keeps that correction to a few hours, so the
    first read by a person, even late in a period of a million events, is a corrected one."""
    # Periods under way, and those ended but still in their finalization grace period.
    drafts = (
        Invoice.objects.filter(
            type=Invoice.Type.USAGE,
            status=Invoice.Status.DRAFT,
            start_timestamp__lte=now,
            end_timestamp__gt=now - settings.BILLING_FINALIZATION_GRACE,
        )
        .filter(contract__rate_card__rates__product__billable_metric__sql__gt="")
        .filter(**({"contract_id__in": contract_ids} if contract_ids is not None else {}))
        .distinct()
        .select_related("contract", "credit_type")
    )
    read = 0
    for draft in drafts.iterator(chunk_size=100):
        invoice_view(invoice=draft, now=now)
        read += 1
    return read


def _draft_view(invoice: Invoice, result: RatingResult) -> InvoiceView:
    return InvoiceView(invoice, None, result.subtotal, result.total, rated=result)


def invoice_views(
    *, invoices: Iterable[Invoice], now: datetime | None = None, rated: dict | None = None
) -> list[InvoiceView]:
    """Many invoices as shown (an API page): drafts share one preload, frozen lines one query.
    `rated` ({invoice id: RatingResult}, drafts rated at this `now`, shared with
    `balances_now`): a draft found there is not rated again, one rated here is added."""
    invoices = list(invoices)
    rated = {} if rated is None else rated
    members = consolidated_members(invoices)
    member_views = _member_views(invoices, members, now, rated)
    drafts = [
        i
        for i in invoices
        if i.status == Invoice.Status.DRAFT and i.pk not in rated and not i.is_consolidated
    ]
    preload = RatingPreload.for_invoices(drafts) if drafts else None
    usage = [
        i
        for i in drafts
        if i.type == Invoice.Type.USAGE
        and any_holds([preload.contract(i.contract_id, i.start_timestamp, i.type)], "shared_drafts")
    ]
    in_order = None
    if usage:
        # One load of the drafts sharing their balances (those after them too: a POSTPAID
        # true-up counts what they draw), as a single draft's read and finalization load them;
        # each rated once, in its turn.
        in_order = DraftsInOrder(
            customer_ids={i.customer_id for i in usage}, until=None, now=now, rated=rated
        )
    frozen: dict = {}
    for line in InvoiceLineItem.objects.filter(
        invoice_id__in=[i.pk for i in invoices if i.status != Invoice.Status.DRAFT]
    ).order_by("invoice_id", "position"):
        frozen.setdefault(line.invoice_id, []).append(line)
    views = []
    for invoice in invoices:
        if invoice.is_consolidated:
            views.append(
                consolidated_view(
                    invoice,
                    members=members[invoice.pk],
                    views=member_views,
                    frozen=frozen.get(invoice.pk, []),
                )
            )
        elif invoice.status == Invoice.Status.DRAFT:
            if invoice.pk not in rated:
                rated[invoice.pk] = invoice_rate(
                    invoice=invoice, now=now, preload=preload, drafts=in_order
                )
            views.append(_draft_view(invoice, rated[invoice.pk]))
        else:
            views.append(
                InvoiceView(invoice, frozen.get(invoice.pk, []), invoice.subtotal, invoice.total)
            )
    return views


def consolidated_view(
    invoice: Invoice, *, members: list[Invoice], views: dict, frozen: list[InvoiceLineItem]
) -> InvoiceView:
    """A consolidated invoice as shown: a draft is its constituents as they are now (`views`,
    `consolidated_copy`); a finalized one shows the copies frozen with it."""
    if invoice.status != Invoice.Status.DRAFT:
        return InvoiceView(
            invoice, frozen, invoice.subtotal, invoice.total, constituents=tuple(members)
        )
    return consolidated_copy(invoice, [views[member.pk] for member in members])


def consolidated_copy(invoice: Invoice, shown: Sequence[InvoiceView]) -> InvoiceView:
    """`invoice` holding the constituents `shown`: their lines copied in order (each naming
    its origin), its totals their sums, exactly (nothing is rounded again)."""
    lines = [
        line_item_copy(line, invoice=invoice, position=position, origin=view.invoice)
        for position, (view, line) in enumerate(
            (view, line) for view in shown for line in view.lines
        )
    ]
    return InvoiceView(
        invoice,
        lines,
        sum((view.subtotal for view in shown), Decimal(0)),
        sum((view.total for view in shown), Decimal(0)),
        constituents=tuple(view.invoice for view in shown),
    )


def _member_views(invoices: list, members: dict, now, rated: dict) -> dict:
    """{invoice pk: InvoiceView} of the constituents of the consolidated drafts among
    `invoices` (a finalized consolidated invoice shows its own frozen copies). The drafts of
    one lot are rated in their turns of one draw order (`invoice_views`' `DraftsInOrder`),
    each once."""
    wanted = []
    for invoice in invoices:
        if invoice.is_consolidated and invoice.status == Invoice.Status.DRAFT:
            wanted += members[invoice.pk]
    if not wanted:
        return {}
    return {view.invoice.pk: view for view in invoice_views(invoices=wanted, now=now, rated=rated)}


def drafts_preload(invoices: Iterable[Invoice]) -> RatingPreload | None:
    """A preload for the drafts among `invoices` (an admin list page), or None if there is none."""
    drafts = [i for i in invoices if i.status == Invoice.Status.DRAFT]
    return RatingPreload.for_invoices(drafts) if drafts else None


def contracts_scheduled_dates(*, contracts: Iterable[Contract]) -> dict:
    """{contract pk: set of datetimes}: the dates on which each contract has scheduled items to
    invoice on SCHEDULED invoices: its live scheduled charges' items and the invoice schedule
    items of the live PREPAID commits it invoices (its own, and customer-level ones naming it as
    `invoice_contract`) and its professional service billings, except dates a finalized usage invoice already billed. Empty for a
    contract that puts them on its usage invoices (`scheduled_charges_on_usage_invoices`).
    Four queries for any number of contracts."""
    contracts = list(contracts)
    result: dict = {c.pk: set() for c in contracts}
    ids = [c.pk for c in contracts if not c.scheduled_charges_on_usage_invoices]
    if not ids:
        return result
    for contract_id, moment in ScheduledChargeItem.objects.filter(
        scheduled_charge__contract_id__in=ids, scheduled_charge__archived_at__isnull=True
    ).values_list("scheduled_charge__contract_id", "timestamp"):
        result[contract_id].add(moment)
    for contract_id, moment in ProServiceItem.objects.filter(
        professional_service__contract_id__in=ids,
        professional_service__archived_at__isnull=True,
    ).values_list("professional_service__contract_id", "timestamp"):
        result[contract_id].add(moment)
    for own, invoicing, moment in (
        CommitInvoiceItem.objects.filter(
            commit__archived_at__isnull=True, commit__type=Commit.Type.PREPAID
        )
        .filter(
            Q(commit__contract_id__in=ids)
            | Q(commit__contract__isnull=True, commit__invoice_contract_id__in=ids)
        )
        .values_list("commit__contract_id", "commit__invoice_contract_id", "timestamp")
    ):
        result[own if own is not None else invoicing].add(moment)
    # Dates a finalized usage invoice already billed: it carried the scheduled items (the flag
    # was set then, or it was finalized before scheduled invoices existed: no flag in its
    # snapshot). Billing them again on a scheduled invoice would bill them twice.
    carried = Q(rating_snapshot__scheduled_charges_on_usage_invoices=True) | Q(
        rating_snapshot__scheduled_charges_on_usage_invoices__isnull=True
    )
    dated = [pk for pk in ids if result[pk]]
    if not dated:
        return result
    billed = Invoice.objects.filter(
        carried,
        contract_id__in=dated,
        type=Invoice.Type.USAGE,
        status=Invoice.Status.FINALIZED,
        start_timestamp__lte=max(max(result[pk]) for pk in dated),
        end_timestamp__gt=min(min(result[pk]) for pk in dated),
    ).values_list("contract_id", "start_timestamp", "end_timestamp")
    for contract_id, start, end in billed:
        result[contract_id] = {m for m in result[contract_id] if not start <= m < end}
    return result


def contract_invoices(*, contract: Contract):
    """The contract's invoices, newest period first (for the contract's admin page)."""
    return (
        Invoice.objects.filter(contract=contract)
        .select_related("credit_type")
        .order_by("-start_timestamp", "-created_at")
    )


def customer_invoices(
    *,
    customer: Customer,
    status: str | None = None,
    contract_id: str | None = None,
    starting_on: datetime | None = None,
    ending_before: datetime | None = None,
    descending: bool = False,
    invoice_type: str | None = None,
):
    """The customer's invoices for the API's list, filtered on the billing period (a scheduled
    invoice's is its date) and type (USAGE, USAGE_CONSOLIDATED: an account hierarchy's parent's
    consolidated invoices, SCHEDULED)."""
    queryset = Invoice.objects.filter(customer=customer).select_related("credit_type")
    if status:
        queryset = queryset.filter(status=status.upper())
    if invoice_type:
        queryset = queryset.filter(type=invoice_type.upper())
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if starting_on is not None:
        queryset = queryset.filter(start_timestamp__gte=starting_on)
    if ending_before is not None:
        # A period ending by then; a scheduled invoice dated before then (its date is both ends).
        queryset = queryset.filter(
            Q(type=Invoice.Type.SCHEDULED, start_timestamp__lt=ending_before)
            | (~Q(type=Invoice.Type.SCHEDULED) & Q(end_timestamp__lte=ending_before))
        )
    order = ("-start_timestamp", "-id") if descending else ("start_timestamp", "id")
    return queryset.order_by(*order)


def lines_in_total(*, invoice_ids: Iterable) -> QuerySet[InvoiceLineItem]:
    """The stored lines a finalized invoice's total is the sum of (the engine's `totals` rule):
    lines in the invoice's pricing unit (a custom unit's are counted through their
    `cpu_conversion` line), except POSTPAID commit applications (shown, not deducted). The unit
    is compared in a correlated subquery, not a join: joined, SQLite searches the lines by their
    (unselective) pricing unit index for each invoice, reading every line of the unit each time."""
    in_invoice_unit = Exists(
        Invoice.objects.filter(pk=OuterRef("invoice_id"), credit_type_id=OuterRef("credit_type_id"))
    )
    return (
        InvoiceLineItem.objects.filter(in_invoice_unit, invoice_id__in=list(invoice_ids))
        .exclude(applied_commit_or_credit_type="POSTPAID")
        .order_by("invoice_id", "position")
    )
