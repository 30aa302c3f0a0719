"""What-ifs that never change anything: a customer's drafts as they would be with some more (or
only some) events (previewEvents), and usage invoices of past periods rated from given
quantities (createHistoricalInvoices, with `preview`; without it, they are stored, finalized).

A preview ingests its events through metering's own ingestion into a what-if scope of the event
store (`metering.services.usage_preview`: temporary tables and views on PostgreSQL, a savepoint on
SQLite, a database of the preview's own on ClickHouse), rates the drafts exactly as a read would,
and ends the scope: the
same rules, the same numbers on both stores, and nothing left behind."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from customers import periods
from customers.models import Contract, Customer
from invoicing.models import Invoice
from invoicing.rating import Usage, group_values
from invoicing.selectors import RatingPreload, customer_event_ids, invoice_view
from metering.services import (
    IngestError,
    usage_events_ingest,
    usage_events_validate,
    usage_preview,
)

from .services import _freeze, balance_segments_lock


class _Undo(Exception):
    """Raised to roll a preview's savepoint back."""


def _ingestible(events: Sequence[dict], customer: Customer, now: datetime) -> list[dict]:
    """Preview events as ingest takes them: their own transaction ids (fresh when absent) and
    the customer's id."""
    return [
        {
            "transaction_id": event.get("transaction_id") or f"preview-{uuid.uuid4()}",
            "customer_id": event.get("customer_id") or str(customer.pk),
            "event_type": event["event_type"],
            "timestamp": event.get("timestamp") or now.isoformat(),
            "properties": event.get("properties") or {},
        }
        for event in events
    ]


def _periods_of(customer: Customer, moments: Sequence[datetime]) -> list[Invoice]:
    """The customer's USAGE drafts whose period holds one of `moments`."""
    drafts = Invoice.objects.filter(
        customer=customer, type=Invoice.Type.USAGE, status=Invoice.Status.DRAFT
    ).select_related("credit_type", "contract")
    return [
        draft
        for draft in drafts.order_by("start_timestamp", "contract_id")
        if any(draft.start_timestamp <= m < draft.end_timestamp for m in moments)
    ]


def customer_events_preview(
    *,
    customer: Customer,
    events: Sequence[dict],
    now: datetime,
    mode: str = "replace",
    present,
) -> list:
    """The customer's drafts holding the events, rated as if the events were stored: `merge`
    adds them to what is stored (an event whose transaction id is already stored counts once),
    `replace` rates them alone (the stored usage of those periods left out). `present(view)`
    turns each draft's view into the answer (called while the preview lasts). Bad events: an
    IngestError naming index and field."""
    if not events:
        raise ValidationError({"events": "Give at least one event."})
    batch = _ingestible(events, customer, now)
    answers: list = []
    try:
        with transaction.atomic():
            moments = [event.timestamp for event in usage_events_validate(events=batch, now=now)]
            drafts = _periods_of(customer, moments)
            forget = []
            if mode == "replace":
                forget = [(draft.start_timestamp, draft.end_timestamp) for draft in drafts]
                # Counted whatever is stored under their ids (what is stored there is left out).
                batch = [{**e, "transaction_id": f"{e['transaction_id']}-again"} for e in batch]
            with usage_preview(customer_ids=customer_event_ids(customer=customer), forget=forget):
                usage_events_ingest(events=batch, now=now)
                for draft in drafts:
                    answers.append(present(invoice_view(invoice=draft, now=now)))
            # Whatever rating wrote in the database (caches, marks) goes too.
            raise _Undo
    except _Undo:
        pass
    return answers


# --- Historical invoices ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HistoricalLine:
    product_id: str
    starting_at: datetime
    ending_before: datetime
    quantity: Decimal
    pricing_group_values: dict = dataclasses.field(default_factory=dict)
    presentation_group_values: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class HistoricalInvoice:
    contract: Contract
    starting_at: datetime
    ending_before: datetime
    issued_at: datetime
    lines: Sequence[HistoricalLine]


def _historical_input(item: HistoricalInvoice, where: str):
    contract = item.contract
    billing = periods.period_containing(periods.schedule_for(contract), item.starting_at)
    if billing is None or (billing.starting_at, billing.ending_before) != (
        item.starting_at,
        item.ending_before,
    ):
        raise ValidationError(
            {
                f"{where}.inclusive_start_date": "The dates must be one of the contract's billing "
                "periods (its usage statement schedule)."
            }
        )
    preload = RatingPreload([(contract, billing)])
    rating_input = preload.rating_input(contract.pk, billing.starting_at, usage=False)
    known = {product.id for product in rating_input.products}
    usage = []
    for index, line in enumerate(item.lines):
        at = f"{where}.usage_line_items[{index}]"
        if line.product_id not in known:
            raise ValidationError(
                {
                    f"{at}.product_id": "No rate of the contract's card prices "
                    "this product in that period."
                }
            )
        if not (item.starting_at <= line.starting_at < line.ending_before <= item.ending_before):
            raise ValidationError({f"{at}.inclusive_start_date": "Must be inside the invoice."})
        usage.append(
            Usage(
                product_id=line.product_id,
                starting_at=line.starting_at,
                ending_before=line.ending_before,
                quantity=line.quantity,
                pricing_group_values=group_values(line.pricing_group_values),
                presentation_group_values=group_values(line.presentation_group_values),
            )
        )
    return billing, dataclasses.replace(rating_input, usage=tuple(usage))


def historical_invoices_create(
    *, invoices: Sequence[HistoricalInvoice], preview: bool, now: datetime, present
) -> list:
    """Usage invoices of past billing periods rated from the given quantities (the contract's
    terms apply as on any invoice). `preview`: answered, nothing stored. Otherwise each is
    stored FINALIZED, issued on its issue date, in place of that period's draft; a period that
    already has a finalized invoice is refused."""
    answers: list = []
    try:
        with transaction.atomic():
            # Locked before the ledger is read for the inputs (`_freeze` rates them as given).
            balance_segments_lock(
                contract_ids={item.contract.pk for item in invoices},
                depth=max(item.contract.hierarchy_depth for item in invoices),
            )
            made = []
            for index, item in enumerate(invoices):
                where = f"invoices[{index}]"
                billing, rating_input = _historical_input(item, where)
                existing = Invoice.objects.select_for_update().filter(
                    contract=item.contract,
                    type=Invoice.Type.USAGE,
                    start_timestamp=billing.starting_at,
                    status__in=[Invoice.Status.DRAFT, Invoice.Status.FINALIZED],
                )
                if existing.filter(status=Invoice.Status.FINALIZED).exists():
                    raise ValidationError(
                        {where: "This period already has a finalized invoice; void it first."}
                    )
                existing.delete()
                invoice = Invoice.objects.create(
                    customer=item.contract.customer,
                    contract=item.contract,
                    credit_type=item.contract.rate_card.fiat_credit_type,
                    type=Invoice.Type.USAGE,
                    start_timestamp=billing.starting_at,
                    end_timestamp=billing.ending_before,
                    net_payment_terms_days=item.contract.net_payment_terms_days,
                )
                _freeze(
                    [invoice],
                    now=now,
                    preload=None,
                    inputs={invoice.pk: rating_input},
                    issued_at=item.issued_at,
                )
                made.append(invoice)
            answers = [present(invoice_view(invoice=invoice, now=now)) for invoice in made]
            if preview:
                raise _Undo
    except _Undo:
        pass
    return answers


__all__ = ["IngestError", "customer_events_preview", "historical_invoices_create"]
