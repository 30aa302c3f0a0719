"""Commits and credits (LINE steps): commit purchases, fiat applications, postpaid true-ups, and the
draws the ledger records."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from catalog.money import ZERO

from .burn_down import Allocation, allocate_balances, burn_down_order
from .inputs import Balance, Period, RatingInput
from .outputs import BalanceDraw, Line
from .shared import money_of, overlaps, product_type_of, unit_of
from .vocabulary import BalanceAccessType, BalanceType, InvoiceType, LineType


def commit_purchase_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: PREPAID commits' invoice schedule items due in [period start, period end), by
    timestamp (then commit id)."""
    due = sorted(
        (
            (item.timestamp, balance.id, index, balance, item)
            for balance in rating_input.balances
            if balance.type == BalanceType.PREPAID
            for index, item in enumerate(balance.invoice_schedule)
            if rating_input.period.contains(item.timestamp)
        ),
        key=lambda entry: entry[:3],
    )
    new_lines = []
    for *_, balance, item in due:
        new_lines.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.COMMIT_PURCHASE,
                product_id=balance.product_id,
                product_type=product_type_of(rating_input, balance.product_id),
                starting_at=item.timestamp,
                ending_before=None,
                quantity=item.quantity,
                unit_price=item.unit_price,
                total=money_of(rating_input, item.quantity * item.unit_price),
                commit_id=balance.id,
            )
        )
    return (*lines, *new_lines, *_purchase_tax_lines(rating_input))


def _purchase_tax_lines(rating_input: RatingInput) -> list[Line]:
    """A `tax` line for each commit with a precalculated tax whose purchase is invoiced here
    (on the invoice of its first invoice schedule item: a gated commit is invoiced once)."""
    result = []
    for balance in rating_input.balances:
        if not balance.purchase_tax_amount or not balance.invoice_schedule:
            continue
        first = min(item.timestamp for item in balance.invoice_schedule)
        if balance.type != BalanceType.PREPAID or not rating_input.period.contains(first):
            continue
        result.append(
            Line(
                name=balance.purchase_tax_name or "Tax",
                type=LineType.TAX,
                product_id=balance.product_id,
                product_type=product_type_of(rating_input, balance.product_id),
                starting_at=first,
                ending_before=None,
                total=money_of(rating_input, balance.purchase_tax_amount),
                commit_id=balance.id,
            )
        )
    return result


def application_lines(
    rating_input: RatingInput,
    allocations: Iterable[Allocation],
    credit_type_id: str | None,
) -> list[Line]:
    """One negative `applied_commit_or_credit` line per access segment drawn, in drawing order.
    A QUANTITY balance's line also gives the units it covered (`quantity`) and keeps units
    (`balance_remaining`); its total is what they cost."""
    drawn: dict[tuple[str, str], Decimal] = {}
    units: dict[tuple[str, str], Decimal] = {}
    for allocation in allocations:
        key = (allocation.balance_id, allocation.segment_id)
        drawn[key] = drawn.get(key, ZERO) + allocation.amount
        if allocation.units is not None:
            units[key] = units.get(key, ZERO) + allocation.units
    period = rating_input.period
    result = []
    for balance, segment in burn_down_order(rating_input, credit_type_id):
        amount = drawn.get((balance.id, segment.id), ZERO)
        covered = units.get((balance.id, segment.id))
        if amount <= 0 and not covered:
            continue
        taken = amount if covered is None else covered
        result.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.APPLIED_COMMIT_OR_CREDIT,
                product_id=balance.product_id,
                product_type=product_type_of(rating_input, balance.product_id),
                total=-amount if amount else ZERO,  # units covered at no cost: not "-0"
                quantity=covered,
                starting_at=max(segment.starting_at, period.starting_at),
                ending_before=min(segment.ending_before, period.ending_before),
                credit_type_id=credit_type_id,
                commit_id=None if balance.type == BalanceType.CREDIT else balance.id,
                commit_segment_id=segment.id,
                applied_commit_or_credit_id=balance.id,
                applied_commit_or_credit_type=balance.type,
                balance_remaining=segment.available_at_start - taken,
            )
        )
    return result


def balance_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the commits and credits in the invoice's unit burn down against its charges."""
    if not rating_input.balances:
        return lines
    work, allocations = allocate_balances(rating_input, lines, None)
    return (*work, *application_lines(rating_input, allocations, None))


def trued_up_here(balance: Balance, period: Period) -> bool:
    """Whether this invoice trues up the balance: a POSTPAID commit it invoices (not a parent's
    a child draws, nor a customer-level one another contract invoices) whose access ends in
    (period start, period end]."""
    if balance.type != BalanceType.POSTPAID or not balance.access_schedule:
        return False
    if balance.from_parent or not balance.invoiced_here:
        return False
    end = max(segment.ending_before for segment in balance.access_schedule)
    return period.starting_at < end <= period.ending_before


def postpaid_true_up_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: a POSTPAID commit trued up here (`trued_up_here`): the commitment (its segments'
    amounts) minus what it drew over its life (`drawn_before`, which counts the other invoices'
    draws, plus this invoice's applications), when positive. By commit id."""
    period = rating_input.period
    new_lines = []
    for balance in sorted(rating_input.balances, key=lambda balance: balance.id):
        if not trued_up_here(balance, period):
            continue
        committed = sum((segment.amount for segment in balance.access_schedule), ZERO)
        drawn_now = -sum(
            (line.total for line in lines if line.applied_commit_or_credit_id == balance.id),
            ZERO,
        )
        shortfall = committed - balance.drawn_before - drawn_now
        if shortfall <= 0:
            continue
        new_lines.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.POSTPAID_TRUEUP,
                product_id=balance.product_id,
                product_type=product_type_of(rating_input, balance.product_id),
                starting_at=period.starting_at,
                ending_before=period.ending_before,
                quantity=Decimal(1),
                unit_price=shortfall,
                total=money_of(rating_input, shortfall),
                commit_id=balance.id,
            )
        )
    return (*lines, *new_lines)


def balance_draws(rating_input: RatingInput, lines: Iterable[Line]) -> tuple[BalanceDraw, ...]:
    """What each access segment overlapping the period held, gave to this invoice and keeps: the
    ledger a service writes (draws; at expiry, the remainder). None on a SCHEDULED invoice: its
    balances are only there for their invoice schedules (the usage invoice draws and expires).
    A QUANTITY balance's are units (its application lines' quantities)."""
    if rating_input.invoice_type != InvoiceType.USAGE:
        return ()
    by_units = {
        balance.id
        for balance in rating_input.balances
        if balance.access_type == BalanceAccessType.QUANTITY
    }
    drawn: dict[tuple[str | None, str], Decimal] = {}
    for line in lines:
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT and line.commit_segment_id:
            key = (line.applied_commit_or_credit_id, line.commit_segment_id)
            taken = (line.quantity or ZERO) if key[0] in by_units else -line.total
            drawn[key] = drawn.get(key, ZERO) + taken
    result = []
    for balance in rating_input.balances:
        for segment in balance.access_schedule:
            if not overlaps(segment, rating_input.period):
                continue
            amount = drawn.get((balance.id, segment.id), ZERO)
            result.append(
                BalanceDraw(
                    balance_id=balance.id,
                    balance_type=balance.type,
                    segment_id=segment.id,
                    credit_type_id=unit_of(rating_input, balance.credit_type_id),
                    available=segment.available_at_start,
                    drawn=amount,
                    remaining=segment.available_at_start - amount,
                    # The parent's invoice expires its own balances, a child's never does; nor
                    # does an invoice a later one in the draw order may still draw after.
                    expires=segment.ending_before <= rating_input.period.ending_before
                    and not balance.from_parent
                    and not segment.drawn_later,
                )
            )
    return tuple(result)
