"""An amount split over days in proportion to weights, in the pricing unit's smallest amounts,
so that the parts add up to the amount exactly (largest remainder: each part is the proportional
share rounded down, and the smallest amounts left go to the largest remainders, earliest first).
Pure standard library."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

DAY = timedelta(days=1)


def allocate(total: Decimal, weights: Sequence[Decimal], decimal_places: int) -> list[Decimal]:
    """`total` (already a whole number of smallest amounts) split by `weights` (non-negative;
    all zero means equal parts)."""
    if not weights:
        return []
    unit = Decimal(1).scaleb(-decimal_places)
    count = int((abs(total) / unit).to_integral_value())
    if Decimal(count) * unit != abs(total):
        raise ValueError(f"{total} is finer than the smallest amount {unit}")
    weights = [max(Decimal(w), Decimal(0)) for w in weights]
    whole = sum(weights)
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    shares = [Decimal(count) * w / whole for w in weights]
    parts = [int(share) for share in shares]
    left = count - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for index in by_remainder[:left]:
        parts[index] += 1
    sign = -1 if total < 0 else 1
    return [sign * part * unit for part in parts]


def days_of(starting_at: datetime, ending_before: datetime) -> list[date]:
    """The UTC days the window [starting_at, ending_before) touches (one day for an instant)."""
    first = starting_at.astimezone(UTC).date()
    last = max(ending_before, starting_at + timedelta(microseconds=1)) - timedelta(microseconds=1)
    last_day = last.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last_day - first).days + 1)]


def ratable_weights(starting_at: datetime, ending_before: datetime) -> dict[date, Decimal]:
    """Each day's share of the window, in seconds (a partial first or last day weighs less)."""
    weights = {}
    for day in days_of(starting_at, ending_before):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        overlap = min(ending_before, start + DAY) - max(starting_at, start)
        weights[day] = Decimal(max(overlap.total_seconds(), 0))
    return weights
