"""The pipeline: `rate_invoice` runs the PREPARE steps, then the LINE steps that belong to the
invoice's type, then totals."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from catalog.money import ZERO, full_precision

from .balances import balance_draws, balance_lines, commit_purchase_lines, postpaid_true_up_lines
from .composites import composite_lines
from .custom_units import custom_unit_lines
from .discounts import discount_lines
from .inputs import Period, RatingInput
from .outputs import Line, RatingResult
from .overrides import apply_overrides
from .pro_services import pro_service_lines
from .subscriptions import scheduled_charge_lines, subscription_lines
from .usage import usage_lines
from .vocabulary import BalanceType, InvoiceType, LineType

PrepareStep = Callable[[RatingInput], RatingInput]
LineStep = Callable[[RatingInput, tuple[Line, ...]], tuple[Line, ...]]


def rate_invoice(
    rating_input: RatingInput,
    *,
    prepare_steps: Iterable[PrepareStep] | None = None,
    line_steps: Iterable[LineStep] | None = None,
) -> RatingResult:
    """Rate one invoice: run the prepare steps, then the line steps that belong to the
    invoice's type (`steps_for`), then total."""
    with full_precision():
        for prepare in PREPARE_STEPS if prepare_steps is None else prepare_steps:
            rating_input = prepare(rating_input)
        lines: tuple[Line, ...] = ()
        for step in steps_for(rating_input, LINE_STEPS if line_steps is None else line_steps):
            lines = step(rating_input, lines)
        return totals(rating_input, lines)


def scheduled_period(timestamp: datetime) -> Period:
    """The period of the SCHEDULED invoice dated `timestamp`: the instant itself, [t, t + 1 us)
    (a datetime's smallest step), so it holds exactly the items due at `timestamp`."""
    return Period(timestamp, timestamp + SCHEDULED_INSTANT)


def steps_for(rating_input: RatingInput, steps: Iterable[LineStep]) -> list[LineStep]:
    """The line steps whose lines belong on this invoice. A SCHEDULED invoice runs only the
    `SCHEDULED_ITEM_STEPS` (scheduled charges and commit purchases due at its instant: no usage,
    subscriptions, composites, burn-down or true-ups, so it draws nothing and expires nothing).
    A USAGE invoice runs every other step, and the scheduled item steps too only when the
    contract puts scheduled charges on usage invoices (`scheduled_charges_on_usage_invoices`)."""
    chosen = []
    for step in steps:
        if step in SCHEDULED_ITEM_STEPS:
            if rating_input.carries_scheduled_items:
                chosen.append(step)
        elif rating_input.invoice_type == InvoiceType.USAGE:
            chosen.append(step)
    return chosen


def totals(rating_input: RatingInput, lines: tuple[Line, ...]) -> RatingResult:
    """Subtotal: the charges; total: every line (commit and credit applications are negative),
    except POSTPAID applications (shown, but the usage they draw is still paid on this invoice)
    and lines in a custom unit (their fiat value is on the `cpu_conversion` lines)."""
    fiat = [line for line in lines if line.credit_type_id is None]
    subtotal = sum((line.total for line in fiat if line.type in LineType.CHARGES), ZERO)
    total = sum(
        (line.total for line in fiat if line.applied_commit_or_credit_type != BalanceType.POSTPAID),
        ZERO,
    )
    return RatingResult(
        pricing_unit=rating_input.pricing_unit,
        period=rating_input.period,
        lines=lines,
        subtotal=subtotal,
        total=total,
        balance_draws=balance_draws(rating_input, lines),
        custom_units=rating_input.custom_units,
    )


# Overrides rewrite the rates before any line is priced.
PREPARE_STEPS: tuple[PrepareStep, ...] = (apply_overrides,)
# Commit purchases, custom-unit draws and conversion, commits and credits, true-ups: after the
# composites (a composite counts charges, never applications).
LINE_STEPS: tuple[LineStep, ...] = (
    usage_lines,
    subscription_lines,
    scheduled_charge_lines,
    pro_service_lines,
    composite_lines,
    commit_purchase_lines,
    custom_unit_lines,
    balance_lines,
    postpaid_true_up_lines,
    discount_lines,
)
# The steps of a SCHEDULED invoice's lines (on the USAGE invoice too with
# `scheduled_charges_on_usage_invoices`): see `steps_for`.
SCHEDULED_ITEM_STEPS: frozenset[LineStep] = frozenset(
    {scheduled_charge_lines, pro_service_lines, commit_purchase_lines}
)
SCHEDULED_INSTANT = timedelta(microseconds=1)
