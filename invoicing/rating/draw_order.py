"""Balances several invoices may draw: an invoice's turn in the draw order.

One access segment may be drawn by several usage invoices: a contract's successive periods, the
contracts of one customer (a customer-level commit or credit), a parent contract and its
children (`child_access`). They draw one after the other in one order (the selectors give it:
period start; in one period, children by contract id, then the others by contract id). An
invoice's turn (`in_turn`):

- each segment holds what the ledger left (every finalized invoice's draws, whichever was
  finalized first: a finalized invoice never changes);
- less what the unfinalized invoices before it draw, rated one after the other, each after what
  the ones before it took (`hierarchy.rate_in_order`);
- a segment ending in its period that an unfinalized invoice after it may still draw (or,
  a POSTPAID commit's, before it: late usage, `postpaid_expiring_here`) is not expired by it
  (`left_for_later`): the last one expires what is left;
- a POSTPAID commit it trues up counts what the unfinalized invoices after it draw
  (`with_later_draws`): the true-up is what nobody draws. Finalization freezes it only with
  (in one transaction) or after those invoices (`selectors.draw_order.DraftsInOrder.waits_for`):
  their draws are estimates until then.

Rated this way the drafts show the split finalization makes, and finalizing the invoices in any
order makes that split (for the same usage): an invoice finalized before one that draws ahead of
it leaves what that one draws, and the one after it finds the ledger holding exactly that."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal

from catalog.money import ZERO

from .balances import trued_up_here
from .hierarchy import less_taken
from .inputs import RatingInput
from .shared import overlaps
from .vocabulary import BalanceType


def in_turn(
    rating_input: RatingInput,
    *,
    taken: Mapping[str, Decimal],
    drawn_later: Iterable[str] = (),
) -> RatingInput:
    """The input as its turn finds it: what the unfinalized invoices before it draw (`taken`,
    {segment id: amount}: `hierarchy.rate_in_order` of their inputs, in the draw order) taken
    off its segments, and the segments an unfinalized invoice after it may still draw
    (`drawn_later`: the union of their `may_draw`) left for later (`left_for_later`)."""
    return left_for_later(less_taken(rating_input, dict(taken)), drawn_later)


def expiring_here(rating_input: RatingInput) -> set[str]:
    """The ids of the segments this invoice would expire: ending in its period."""
    period = rating_input.period
    return {
        segment.id
        for balance in rating_input.balances
        for segment in balance.access_schedule
        if period.starting_at < segment.ending_before <= period.ending_before
    }


def may_draw(rating_input: RatingInput) -> set[str]:
    """The ids of the segments an invoice may draw: its balances' segments overlapping its
    period."""
    return {
        segment.id
        for balance in rating_input.balances
        for segment in balance.access_schedule
        if overlaps(segment, rating_input.period)
    }


def left_for_later(rating_input: RatingInput, drawn_later: Iterable[str]) -> RatingInput:
    """The input with `drawn_later` set on each of its segments ending in its period that an
    invoice after it may still draw (`drawn_later`: segment ids, the `may_draw` of those
    invoices): the ledger learns what is left of it from the last one (this invoice's expiry
    would take what they draw)."""
    later = expiring_here(rating_input) & set(drawn_later)
    if not later:
        return rating_input
    return dataclasses.replace(
        rating_input,
        balances=tuple(
            dataclasses.replace(
                balance,
                access_schedule=tuple(
                    dataclasses.replace(segment, drawn_later=True)
                    if segment.id in later
                    else segment
                    for segment in balance.access_schedule
                ),
            )
            for balance in rating_input.balances
        ),
    )


def postpaid_expiring_here(rating_input: RatingInput) -> set[str]:
    """The segments of POSTPAID commits this invoice would end (`expiring_here`): their end is
    the true-up's (the commitment less ALL draws), so one an open draft before it may still
    draw (late usage) is left to the last invoice finalized, whatever the order (a PREPAID
    commit or a credit is expired on the drafts' estimates: see the module)."""
    expiring = expiring_here(rating_input)
    return {
        segment.id
        for balance in rating_input.balances
        if balance.type == BalanceType.POSTPAID
        for segment in balance.access_schedule
        if segment.id in expiring
    }


def trued_up_segments(rating_input: RatingInput) -> set[str]:
    """The segments of the POSTPAID commits this invoice trues up (`balances.trued_up_here`)."""
    return {
        segment.id
        for balance in rating_input.balances
        if trued_up_here(balance, rating_input.period)
        for segment in balance.access_schedule
    }


def with_later_draws(rating_input: RatingInput, taken_after: Mapping[str, Decimal]) -> RatingInput:
    """The input with what the unfinalized invoices after it in the draw order draw from the
    POSTPAID commits it trues up (`taken_after`, {segment id: amount}) counted in their
    `drawn_before`: the true-up charges only what nobody draws (another contract of the
    customer may draw a customer-level commit in its last period after this one)."""
    trued = trued_up_segments(rating_input)
    if not trued or not any(taken_after.get(segment) for segment in trued):
        return rating_input
    return dataclasses.replace(
        rating_input,
        balances=tuple(
            dataclasses.replace(
                balance,
                drawn_before=balance.drawn_before
                + sum((taken_after.get(s.id, ZERO) for s in balance.access_schedule), start=ZERO),
            )
            if trued_up_here(balance, rating_input.period)
            else balance
            for balance in rating_input.balances
        ),
    )
