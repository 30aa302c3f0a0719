"""Account hierarchies: a child contract's usage draws its ancestors' shared commits and credits.

A child's invoice sees the balances of its parent, grandparent... it may draw as
`Balance(from_parent=True, ancestor_level=1, 2, ...)`; they burn down after the child's own, the
parent's before the grandparent's (`parent_last`, the first key of `burn_down_order`), in the
same priority rules among those of one level. Several invoices may draw one segment (an
ancestor's and each descendant's): they are rated one after the other (`rate_in_order`; the
selectors' one draw order, `invoicing.selectors.hierarchy.in_draw_order`: period start, then
the deepest contracts first, each depth's children by contract id, then the others by contract
id), each finding what the ones before it took already gone (`less_taken`), so the same dollar
is never spent twice and what all of them draw is exactly what the segment loses, never more
than it holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal

from catalog.money import ZERO

from .inputs import Balance, RatingInput
from .outputs import RatingResult
from .vocabulary import BalanceType


def parent_last(balance: Balance) -> int:
    """`burn_down_order`'s first key: a contract's own balances (0), then its parent's (1), its
    grandparent's (2)..."""
    if not balance.from_parent:
        return 0
    return max(balance.ancestor_level, 1)


def less_taken(rating_input: RatingInput, taken: dict[str, Decimal]) -> RatingInput:
    """The input with what invoices rated before it drew (`taken`, {segment id: amount}) taken
    off each segment's availability (never below zero), and added to a POSTPAID commit's
    `drawn_before` (its true-up counts what they drew)."""
    if not taken:
        return rating_input

    def before(balance: Balance) -> Decimal:
        if balance.type != BalanceType.POSTPAID:
            return balance.drawn_before
        return balance.drawn_before + sum(
            (taken.get(segment.id, ZERO) for segment in balance.access_schedule), start=ZERO
        )

    return dataclasses.replace(
        rating_input,
        balances=tuple(
            dataclasses.replace(
                balance,
                drawn_before=before(balance),
                access_schedule=tuple(
                    dataclasses.replace(
                        segment,
                        available=max(
                            segment.available_at_start - taken.get(segment.id, ZERO), ZERO
                        ),
                    )
                    for segment in balance.access_schedule
                ),
            )
            for balance in rating_input.balances
        ),
    )


def add_taken(taken: dict[str, Decimal], result: RatingResult) -> dict[str, Decimal]:
    """`taken` plus what this invoice drew from each segment (in place; returned)."""
    for draw in result.balance_draws:
        if draw.drawn:
            taken[draw.segment_id] = taken.get(draw.segment_id, ZERO) + draw.drawn
    return taken


def rate_in_order(
    rating_inputs: Iterable[RatingInput], rate
) -> tuple[tuple[RatingResult, ...], dict[str, Decimal]]:
    """Rate invoices that may share segments, in the given order, each after what the earlier
    ones drew (`rate`: `rate_invoice`). Returns the results and what was taken per segment."""
    taken: dict[str, Decimal] = {}
    results = []
    for rating_input in rating_inputs:
        result = rate(less_taken(rating_input, taken))
        add_taken(taken, result)
        results.append(result)
    return tuple(results), taken
