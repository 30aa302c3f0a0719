"""Custom pricing units (a LINE step): balances in a custom unit burn down its lines, the rest is
converted to the card's fiat unit on `cpu_conversion` lines."""

from __future__ import annotations

from decimal import Decimal

from catalog.money import ZERO

from .balances import application_lines
from .burn_down import allocate_balances
from .inputs import RatingInput
from .outputs import Line
from .shared import money_of
from .vocabulary import BalanceType, LineType


def custom_unit_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: usage priced in a custom unit is first drawn from balances in that unit; what is
    left (and what POSTPAID commits drew: still paid) converts to the invoice's unit at the card's
    conversion rate, on one `cpu_conversion` line per custom unit and product (quantity: custom amount left, unit price: fiat per custom
    unit, starting at the first such line's start and ending at the last one's end)."""
    units = []
    for line in lines:
        if line.credit_type_id is not None and line.credit_type_id not in units:
            units.append(line.credit_type_id)
    if not units:
        return lines
    rates = {c.custom_credit_type_id: c.fiat_per_custom for c in rating_input.conversions}
    postpaid = {b.id: b.type == BalanceType.POSTPAID for b in rating_input.balances}
    work = lines
    conversions = []
    for unit in units:
        if unit not in rates:
            raise ValueError(f"no conversion for custom pricing unit {unit}")
        work, allocations = allocate_balances(rating_input, work, unit)
        # A POSTPAID draw does not relieve the charge (it is still paid): it stays converted.
        drawn: dict[int, Decimal] = {}
        for allocation in allocations:
            if postpaid.get(allocation.balance_id):
                continue
            drawn[allocation.line_index] = (
                drawn.get(allocation.line_index, ZERO) + allocation.amount
            )
        left_by_product: dict[str, list] = {}
        for index, line in enumerate(work):
            if line.credit_type_id != unit or line.type not in LineType.CHARGES:
                continue
            entry = left_by_product.setdefault(
                line.product_id, [line, ZERO, line.starting_at, line.ending_before]
            )
            entry[1] += line.total - drawn.get(index, ZERO)
            entry[2] = min(entry[2], line.starting_at)
            if line.ending_before is not None and (
                entry[3] is None or line.ending_before > entry[3]
            ):
                entry[3] = line.ending_before
        work = (*work, *application_lines(rating_input, allocations, unit))
        for product_id, (first, amount, start, end) in left_by_product.items():
            if amount <= 0:
                continue
            conversions.append(
                Line(
                    name=first.name,
                    type=LineType.CPU_CONVERSION,
                    product_id=product_id,
                    product_type=first.product_type,
                    product_tags=first.product_tags,
                    starting_at=start,
                    ending_before=end,
                    quantity=amount,
                    unit_price=rates[unit],
                    total=money_of(rating_input, amount * rates[unit]),
                )
            )
    return (*work, *conversions)
