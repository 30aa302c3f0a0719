"""What live drafts draw from commits and credits (not yet in the ledger), and balances net of it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from customers import selectors as customers_selectors
from customers.hierarchy import shared_with_children
from customers.models import Contract

from .draw_order import DraftsInOrder


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
    `balances` (Commit / Credit rows), not yet in the ledger (what `balances_now` takes off, so
    balances burn down in real time). The drafts whose period has started by `now` of every
    contract that may draw them (`draw_order.DraftsInOrder`: their customers', with account
    hierarchies), each rated in its turn, the same rating a read of that draft shows: so two
    drafts never draw the same amount twice. `rated` ({invoice id: RatingResult}, drafts rated
    in their turn at this `now`, shared with `invoice_views`): a draft found there is not rated
    again, one rated here is added."""
    balances = list(balances)
    if not balances:
        return {}
    customer_ids = {b.customer_id for b in balances}
    lending = [
        b.contract_id
        for b in balances
        if b.contract_id is not None and shared_with_children(b.child_access)
    ]
    if lending:  # a parent's children may draw it, whoever their customer
        customer_ids |= set(
            Contract.objects.filter(parent_contract_id__in=lending).values_list(
                "customer_id", flat=True
            )
        )
    wanted = {str(b.pk) for b in balances}
    drawn: dict[str, Decimal] = {}
    drafts = DraftsInOrder(customer_ids=customer_ids, until=now, now=now, rated=rated)
    for _, result in drafts.rated_in_order():
        for draw in result.balance_draws:
            if draw.drawn and draw.balance_id in wanted:
                drawn[draw.segment_id] = drawn.get(draw.segment_id, Decimal(0)) + draw.drawn
    return drawn
