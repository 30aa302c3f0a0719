"""What live drafts draw from commits and credits (not yet in the ledger), and balances net of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from customers import selectors as customers_selectors
from invoicing.models import Invoice
from invoicing.rating import (
    rate_invoice,
)

from .preload import RatingPreload, rating_input_for


def balances_now(*, balances: Iterable, now: datetime, include_drafts: bool = True) -> dict:
    """{balance id: Decimal}: what each commit or credit holds at `now` (Metronome's `balance`):
    `customers.selectors.balances_now` minus what current drafts draw (`draft_balance_draws`)
    when `include_drafts`."""
    balances = list(balances)
    draws = draft_balance_draws(balances=balances, now=now) if include_drafts else None
    return customers_selectors.balances_now(balances=balances, now=now, draft_draws=draws)


def draft_balance_draws(*, balances: Iterable, now: datetime) -> dict[str, Decimal]:
    """{segment id: Decimal}: what the current DRAFT invoices draw from the segments of
    `balances` (Commit / Credit rows), not yet in the ledger (what `balances_now` takes off, so balances burn down in real time). Drafts whose period has started by `now`, of the
    contracts the balances may apply to, rated now (one rating per draft), oldest period first:
    what an older draft draws is taken off what a later one finds available (the ledger only
    knows finalized invoices), so two unfinalized periods never draw the same amount twice."""
    balances = list(balances)
    if not balances:
        return {}
    contract_ids = {b.contract_id for b in balances if b.contract_id is not None}
    customer_ids = {b.customer_id for b in balances if b.contract_id is None}
    drafts = list(
        # Scheduled invoices draw nothing (the engine gives them no burn-down).
        Invoice.objects.filter(
            status=Invoice.Status.DRAFT, type=Invoice.Type.USAGE, start_timestamp__lte=now
        )
        .filter(Q(contract_id__in=contract_ids) | Q(customer_id__in=customer_ids))
        .order_by("start_timestamp", "id")
    )
    if not drafts:
        return {}
    wanted = {str(b.pk) for b in balances}
    preload = RatingPreload.for_invoices(drafts)
    drawn: dict[str, Decimal] = {}
    taken: dict[str, Decimal] = {}  # every segment's draws so far, of any balance
    for invoice in drafts:
        rating_input = rating_input_for(invoice=invoice, now=now, preload=preload)
        if taken:
            rating_input = dataclasses.replace(
                rating_input,
                balances=tuple(
                    dataclasses.replace(
                        balance,
                        access_schedule=tuple(
                            dataclasses.replace(
                                segment,
                                available=max(
                                    segment.available_at_start - taken.get(segment.id, 0),
                                    Decimal(0),
                                ),
                            )
                            for segment in balance.access_schedule
                        ),
                    )
                    for balance in rating_input.balances
                ),
            )
        for draw in rate_invoice(rating_input).balance_draws:
            if draw.drawn:
                taken[draw.segment_id] = taken.get(draw.segment_id, Decimal(0)) + draw.drawn
                if draw.balance_id in wanted:
                    drawn[draw.segment_id] = drawn.get(draw.segment_id, Decimal(0)) + draw.drawn
    return drawn
