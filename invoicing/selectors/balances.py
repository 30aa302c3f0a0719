"""What live drafts draw from commits and credits (not yet in the ledger), and balances net of it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from customers import selectors as customers_selectors
from customers.hierarchy import shared_with_children
from invoicing.models import Invoice
from invoicing.rating import less_taken, rate_invoice

from .hierarchy import children_sharing, in_draw_order
from .preload import RatingPreload, rating_input_for


def balances_now(
    *, balances: Iterable, now: datetime, include_drafts: bool = True, rated: dict | None = None
) -> dict:
    """{balance id: Decimal}: what each commit or credit holds at `now` (Metronome's `balance`):
    `customers.selectors.balances_now` minus what current drafts draw (`draft_balance_draws`)
    when `include_drafts`. `rated`: see `draft_balance_draws`."""
    balances = list(balances)
    draws = draft_balance_draws(balances=balances, now=now, rated=rated) if include_drafts else None
    return customers_selectors.balances_now(balances=balances, now=now, draft_draws=draws)


def draft_balance_draws(
    *, balances: Iterable, now: datetime, rated: dict | None = None
) -> dict[str, Decimal]:
    """{segment id: Decimal}: what the current DRAFT invoices draw from the segments of
    `balances` (Commit / Credit rows), not yet in the ledger (what `balances_now` takes off, so balances burn down in real time). Drafts whose period has started by `now`, of the
    contracts the balances may apply to, rated now (one rating per draft), oldest period first:
    what an older draft draws is taken off what a later one finds available (the ledger only
    knows finalized invoices), so two unfinalized periods never draw the same amount twice.
    `rated` ({invoice id: RatingResult}, drafts rated at this `now`, shared with
    `invoice_views`): a draft found there whose segments no older draft drew from is not rated
    again (its rating would be the same), and a draft rated here on its own terms is added."""
    balances = list(balances)
    if not balances:
        return {}
    contract_ids = {b.contract_id for b in balances if b.contract_id is not None}
    customer_ids = {b.customer_id for b in balances if b.contract_id is None}
    lending = {
        b.contract_id
        for b in balances
        if b.contract_id is not None and shared_with_children(b.child_access)
    }
    if lending:
        contract_ids |= children_sharing(lending)  # a parent's children may draw it
    drafts = list(
        # Scheduled invoices draw nothing (the engine gives them no burn-down).
        in_draw_order(
            Invoice.objects.filter(
                status=Invoice.Status.DRAFT, type=Invoice.Type.USAGE, start_timestamp__lte=now
            ).filter(Q(contract_id__in=contract_ids) | Q(customer_id__in=customer_ids))
        )
    )
    if not drafts:
        return {}
    wanted = {str(b.pk) for b in balances}
    rated = {} if rated is None else rated
    preload = None
    drawn: dict[str, Decimal] = {}
    taken: dict[str, Decimal] = {}  # every segment's draws so far, of any balance

    def untouched(result) -> bool:
        """No older draft drew from the segments this rating drew on."""
        return not any(draw.segment_id in taken for draw in result.balance_draws)

    for invoice in drafts:
        result = rated.get(invoice.pk)
        if result is None or not untouched(result):
            if preload is None:
                preload = RatingPreload.for_invoices(drafts)
            rating_input = rating_input_for(invoice=invoice, now=now, preload=preload)
            result = rate_invoice(less_taken(rating_input, taken))
            if untouched(result):
                rated[invoice.pk] = result
        for draw in result.balance_draws:
            if draw.drawn:
                taken[draw.segment_id] = taken.get(draw.segment_id, Decimal(0)) + draw.drawn
                if draw.balance_id in wanted:
                    drawn[draw.segment_id] = drawn.get(draw.segment_id, Decimal(0)) + draw.drawn
    return drawn
