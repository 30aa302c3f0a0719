"""Burn-down: the order in which balance segments draw, and `allocate_balances`, which draws them
line by line (commit rates and commit-specific overrides included)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from catalog.money import ZERO, round_stored

from .hierarchy import parent_last
from .inputs import AccessSegment, Balance, RatingInput
from .outputs import Line
from .overrides import override_targets, winning_override
from .shared import (
    balance_draws_line,
    balance_scope,
    latest_rate,
    money_of,
    overlaps,
    rates_for_presentation,
    unit_of,
)
from .vocabulary import (
    BalanceAccessType,
    BalanceRateType,
    BalanceType,
    Checked,
    LineType,
    OverrideType,
    ProductType,
    RateType,
)


def burn_down_order(
    rating_input: RatingInput, credit_type_id: str | None = None
) -> list[tuple[Balance, AccessSegment]]:
    """The access segments (of the given unit) overlapping the period, in drawing order.

    Rollover balances (`is_rollover`) come first, before every other balance whatever its
    priority: postpaid before prepaid (then rolled-over credits), then lower priority, fewer
    applicable products, earlier end (then earlier start). Then every other balance: lower
    priority; credits (free) before commits (paid); fewer applicable products; earlier end;
    earlier start. Ties: contract-level before customer-level; then balance and segment ids.
    An ancestor contract's balance a child may draw comes after all of the child's own, a
    parent's before a grandparent's (`hierarchy.parent_last`), in the same order among those
    of one level.
    """
    # Rollover balances among themselves: postpaid before prepaid (Metronome's prioritization
    # rules); a rolled-over credit, which those rules do not name, after both.
    rollover_rank = {BalanceType.POSTPAID: 0, BalanceType.PREPAID: 1, BalanceType.CREDIT: 2}
    items = []
    for balance in rating_input.balances:
        if unit_of(rating_input, balance.credit_type_id) != credit_type_id:
            continue
        scope = len(balance_scope(rating_input, balance))
        priority = (
            balance.priority is None,
            balance.priority if balance.priority is not None else ZERO,
        )
        if balance.is_rollover:
            rank = (0, rollover_rank[balance.type], *priority)
        else:
            rank = (1, 0, *priority)
        for segment in balance.access_schedule:
            if not overlaps(segment, rating_input.period):
                continue
            paid = not balance.is_rollover and balance.type != BalanceType.CREDIT
            key = (
                parent_last(balance),
                *rank,
                paid,
                scope,
                segment.ending_before,
                segment.starting_at,
                balance.is_customer_level,
                balance.id,
                segment.id,
            )
            items.append((key, balance, segment))
    items.sort(key=lambda item: item[0])
    return [(balance, segment) for _, balance, segment in items]


def _drawable(
    rating_input: RatingInput,
    balance: Balance,
    segment: AccessSegment,
    scope: frozenset[str],
    line: Line,
) -> bool:
    if line.type not in LineType.DRAWABLE or line.total <= 0:
        return False
    if unit_of(rating_input, line.credit_type_id) != unit_of(rating_input, balance.credit_type_id):
        return False
    if balance.specifiers:
        if not balance_draws_line(
            rating_input,
            balance,
            line.product_id,
            line.pricing_group_values,
            line.presentation_group_values,
        ):
            return False
    elif line.product_id not in scope:
        return False
    if balance.seat and not set(balance.seat) <= {
        *line.pricing_group_values,
        *line.presentation_group_values,
    }:
        return False  # a per-seat balance draws only the usage of its seat
    if line.ending_before is None:  # an instant
        return segment.starting_at <= line.starting_at < segment.ending_before
    return segment.starting_at <= line.starting_at and line.ending_before <= segment.ending_before


def _commit_price(rating_input: RatingInput, balance: Balance, line: Line) -> Decimal | None:
    """The unit price a usage line is drawn at from this balance, None for its list price.

    A commit-specific override naming the balance wins (OVERWRITE: its FLAT price; MULTIPLIER:
    the line's list price times the multiplier); else a COMMIT_RATE commit draws at the line's
    rate's commit rate (the commit tier of the line's tier level, else `commit_price`).
    """
    if line.type != LineType.USAGE or line.product_type != ProductType.USAGE:
        return None
    if line.unit_price is None or line.quantity is None or line.quantity <= 0:
        return None
    product = rating_input.product(line.product_id)
    specific = [
        override
        for override in rating_input.overrides
        if override.is_for_commits
        and (
            balance.id in override.commit_specific_ids
            or (not override.commit_specific_ids and balance.type != BalanceType.CREDIT)
        )
        and override.in_effect_at(line.starting_at)
        and (
            override_targets(
                override, product, line.pricing_group_values, line.presentation_group_values
            )
            or (
                not override.product_id
                and not override.applicable_product_tags
                and not override.specifiers
            )
        )
    ]
    chosen = winning_override(rating_input, specific)
    if chosen is not None:
        if chosen.type == OverrideType.OVERWRITE:
            return chosen.overwrite_rate.price
        if chosen.type == OverrideType.MULTIPLIER:
            return line.unit_price * chosen.multiplier
        return line.unit_price * chosen.tiers[0].multiplier
    if balance.rate_type != BalanceRateType.COMMIT_RATE:
        return None
    rates = [
        rate
        for rate in rating_input.rates
        if rate.product_id == line.product_id
        and rate.pricing_group_values == line.pricing_group_values
        and rate.entitled
        and rate.rate_type in (RateType.FLAT, RateType.TIERED)
    ]
    rate = latest_rate(
        rates_for_presentation(rates, line.presentation_group_values), at=line.starting_at
    )
    if rate is None:
        return None
    if line.tier is not None and len(rate.commit_tiers) >= line.tier.level:
        return rate.commit_tiers[line.tier.level - 1].price
    return rate.commit_price


@dataclass(frozen=True)
class Allocation(Checked):
    """`amount` of the charge line at `line_index` (of the lines `allocate_balances` returns)
    drawn from a balance's access segment."""

    line_index: int
    balance_id: str
    segment_id: str
    amount: Decimal
    # A QUANTITY balance's draw: the units of the line it covers (`amount` is their cost).
    units: Decimal | None = None


def _insert_after(
    work: list[Line], left: list[Decimal], allocations: list[Allocation], index: int, rest: Line
) -> None:
    """Put `rest` (the undrawn part of the line at `index`) right after it; draws on later
    lines move down one."""
    work.insert(index + 1, rest)
    left.insert(index + 1, rest.total)
    allocations[:] = [
        a if a.line_index <= index else dataclasses.replace(a, line_index=a.line_index + 1)
        for a in allocations
    ]


def draw_units(
    rating_input: RatingInput,
    work: list[Line],
    left: list[Decimal],
    allocations: list[Allocation],
    index: int,
    drawer: tuple[Balance, AccessSegment],
    available: Decimal,
) -> Decimal:
    """A QUANTITY balance's segment (`drawer`) holding `available` units covers units of the
    usage line at `index` (of `allocate_balances`' work); returns the units taken.

    Only priced usage lines hold units. On a line nothing has drawn yet, the covered units
    become their own line (total: units x the line's unit price, rounded once like every line)
    and the rest a line after it at the same price, which later segments may draw; a tiered
    product's lines come tier by tier, so the covered units are the period's first ones. On a
    line a SPEND balance already drew part of, the units its money left (at the line's price)
    are covered, without a split. The draw's `amount` is the cost of the covered units."""
    line = work[index]
    if line.type != LineType.USAGE or not line.quantity or not line.unit_price:
        return ZERO
    balance, segment = drawer
    unit = unit_of(rating_input, line.credit_type_id)
    if left[index] < line.total:
        units_left = round_stored(left[index] / line.unit_price)
        units = min(available, units_left)
        cost = money_of(rating_input, units * line.unit_price, unit)
        draw = left[index] if units == units_left else min(left[index], cost)
    else:
        units = min(available, line.quantity)
        if units < line.quantity:
            rest_units = line.quantity - units
            work[index] = dataclasses.replace(
                line, quantity=units, total=money_of(rating_input, units * line.unit_price, unit)
            )
            left[index] = work[index].total
            rest = dataclasses.replace(
                line,
                quantity=rest_units,
                total=money_of(rating_input, rest_units * line.unit_price, unit),
            )
            _insert_after(work, left, allocations, index, rest)
        draw = left[index]
    left[index] -= draw
    allocations.append(Allocation(index, balance.id, segment.id, draw, units))
    return units


def allocate_balances(
    rating_input: RatingInput, lines: tuple[Line, ...], credit_type_id: str | None = None
) -> tuple[tuple[Line, ...], tuple[Allocation, ...]]:
    """Burn the balances of one unit down against the invoice's charge lines.

    Segments go in `burn_down_order`; each takes, line by line in invoice order, what is left of
    every charge it may draw (a usage, subscription or cpu_conversion line of its unit, of a
    product in its scope, lying wholly inside the segment's access window), never more than the
    line has left and never more than the segment holds. A draw at a commit price (COMMIT_RATE or
    a commit-specific override) on a line nothing has drawn yet re-prices that line: the part the
    commit covers becomes its own line at the commit price (`commit_id` set; its quantity, the
    segment's amount divided by the commit price, kept at storage precision; its total, that
    amount), the rest stays at the list price as a new line that later segments may draw (a line already drawn from is drawn
    at its list price). Returns the (possibly split) lines and the draws.
    """
    work = list(lines)
    left = [line.total for line in work]
    allocations: list[Allocation] = []
    for balance, segment in burn_down_order(rating_input, credit_type_id):
        available = segment.available_at_start
        scope = balance_scope(rating_input, balance)
        index = 0
        while index < len(work) and available > 0:
            line = work[index]
            if left[index] <= 0 or not _drawable(rating_input, balance, segment, scope, line):
                index += 1
                continue
            if balance.access_type == BalanceAccessType.QUANTITY:
                available -= draw_units(
                    rating_input, work, left, allocations, index, (balance, segment), available
                )
                index += 1
                continue
            price = _commit_price(rating_input, balance, line)
            if price is not None and price != line.unit_price and left[index] == line.total:
                unit = unit_of(rating_input, line.credit_type_id)
                at_commit = money_of(rating_input, line.quantity * price, unit)
                covered_quantity = line.quantity
                if at_commit > available:
                    covered_quantity = min(line.quantity, round_stored(available / price))
                if covered_quantity == line.quantity:
                    # The whole line at the commit price; what the segment cannot pay stays on
                    # the line for later segments.
                    work[index] = dataclasses.replace(
                        line, unit_price=price, total=at_commit, commit_id=balance.id
                    )
                    draw = min(available, at_commit)
                    left[index] = at_commit - draw
                else:
                    rest_quantity = line.quantity - covered_quantity
                    work[index] = dataclasses.replace(
                        line,
                        quantity=covered_quantity,
                        unit_price=price,
                        total=available,
                        commit_id=balance.id,
                    )
                    rest = dataclasses.replace(
                        line,
                        quantity=rest_quantity,
                        total=money_of(rating_input, rest_quantity * line.unit_price, unit),
                    )
                    draw = available
                    left[index] = ZERO
                    _insert_after(work, left, allocations, index, rest)
                if draw > 0:
                    allocations.append(Allocation(index, balance.id, segment.id, draw))
                available -= draw
                index += 1
                continue
            draw = min(available, left[index])
            left[index] -= draw
            available -= draw
            allocations.append(Allocation(index, balance.id, segment.id, draw))
            index += 1
    return tuple(work), tuple(allocations)
