"""Discounts (a LINE step, the last of a USAGE invoice): each discount item dated inside the
period takes its amount off what the invoice asks for, never below zero.

It runs after commits and credits have drawn (they draw at list price, so a discount never
changes what a balance pays for) and after true-ups, on the total as `totals` computes it (fiat
lines; postpaid applications shown, not subtracted). Items in date order (then discount id); an
item that finds nothing left to take off still shows, at zero, so staff see why. Fiat only.
"""

from __future__ import annotations

from decimal import Decimal

from catalog.money import ZERO

from .inputs import RatingInput
from .outputs import Line
from .shared import money_of, product_type_of
from .vocabulary import BalanceType, LineType


def _owed(lines: tuple[Line, ...]) -> Decimal:
    return sum(
        (
            line.total
            for line in lines
            if line.credit_type_id is None
            and line.applied_commit_or_credit_type != BalanceType.POSTPAID
        ),
        ZERO,
    )


def _product_name(rating_input: RatingInput, product_id: str) -> str:
    for product in rating_input.products:
        if product.id == product_id:
            return product.name
    return product_id


def discount_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: one negative `discount` line per discount item due in [period start, end)."""
    due = sorted(
        (d for d in rating_input.discounts if rating_input.period.contains(d.timestamp)),
        key=lambda item: (item.timestamp, item.id),
    )
    new_lines: list[Line] = []
    owed = _owed(lines)
    for item in due:
        full = money_of(rating_input, item.quantity * item.unit_price)
        taken = max(ZERO, min(full, owed))
        owed -= taken
        whole = taken == full
        new_lines.append(
            Line(
                name=item.name or _product_name(rating_input, item.product_id),
                type=LineType.DISCOUNT,
                product_id=item.product_id,
                product_type=product_type_of(rating_input, item.product_id),
                starting_at=item.timestamp,
                ending_before=None,
                quantity=item.quantity if whole else Decimal(1),
                unit_price=-item.unit_price if whole else -taken,
                total=-taken,
                discount_id=item.id,
            )
        )
    return (*lines, *new_lines)
