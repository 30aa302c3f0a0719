"""Subscription lines (ADVANCE / ARREARS, prorated to the microsecond) and FIXED scheduled
charges (LINE steps)."""

from __future__ import annotations

from catalog.money import ZERO

from .inputs import RatingInput
from .outputs import Line
from .shared import latest_rate, microseconds, money_of, unit_of
from .vocabulary import CollectionSchedule, LineType, RateType


def subscription_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: one line per subscription active during the period."""
    period = rating_input.period
    full = rating_input.proration_period
    new_lines = []
    for subscription in rating_input.subscriptions:
        product = rating_input.product(subscription.product_id)
        start = max(period.starting_at, subscription.starting_at)
        end = period.ending_before
        if subscription.ending_before is not None:
            end = min(end, subscription.ending_before)
        if start >= end:
            continue
        rates = [
            rate
            for rate in rating_input.rates
            if rate.product_id == product.id
            and rate.rate_type == RateType.SUBSCRIPTION
            and rate.entitled
            and (
                subscription.billing_frequency is None
                or rate.billing_frequency in (None, subscription.billing_frequency)
            )
        ]
        if subscription.collection_schedule == CollectionSchedule.ADVANCE:
            rate = latest_rate(rates, at=start)
        else:
            rate = latest_rate(rates, at=end, at_end=True)
        window = end - start
        full_length = full.ending_before - full.starting_at
        is_prorated = subscription.is_prorated and window != full_length
        common = {
            "name": subscription.name or product.name,
            "type": LineType.SUBSCRIPTION,
            "product_id": product.id,
            "product_type": product.type,
            "product_tags": product.tags,
            "starting_at": start,
            "ending_before": end,
            "quantity": subscription.quantity,
            "subscription_id": subscription.id,
            "is_prorated": is_prorated,
        }
        if rate is None:
            new_lines.append(Line(**common, total=ZERO, is_unpriced=True))
            continue
        amount = rate.price * subscription.quantity
        if is_prorated:
            amount = amount * microseconds(window) / microseconds(full_length)
        unit = unit_of(rating_input, rate.credit_type_id)
        new_lines.append(
            Line(
                **common,
                unit_price=rate.price,
                total=money_of(rating_input, amount, unit),
                credit_type_id=unit,
            )
        )
    return (*lines, *new_lines)


def scheduled_charge_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the scheduled charge items due in [period start, period end), by timestamp."""
    due = sorted(
        (c for c in rating_input.scheduled_charges if rating_input.period.contains(c.timestamp)),
        key=lambda charge: (charge.timestamp, charge.id),
    )
    new_lines = []
    for charge in due:
        product = rating_input.product(charge.product_id)
        new_lines.append(
            Line(
                name=charge.name or product.name,
                type=LineType.SCHEDULED,
                product_id=product.id,
                product_type=product.type,
                product_tags=product.tags,
                starting_at=charge.timestamp,
                ending_before=None,
                quantity=charge.quantity,
                unit_price=charge.unit_price,
                total=money_of(rating_input, charge.quantity * charge.unit_price),
                scheduled_charge_id=charge.id,
            )
        )
    return (*lines, *new_lines)
