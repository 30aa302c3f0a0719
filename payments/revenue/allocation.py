"""An amount split over days in proportion to weights, in whole smallest amounts of the pricing
unit (cents for `USD (cents)`), so that the parts add up to the amount exactly: largest remainder
(each part is the proportional share rounded down; the smallest amounts left go to the largest
remainders, earliest first). Everything is integer arithmetic: amounts are counts of smallest
amounts, weights are integers (microseconds of a day, events, or usage sums scaled to integers),
so no share is ever rounded by a Decimal context. Days are proleptic ordinals
(`date.toordinal()`). Pure standard library."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date().toordinal()
_MICROSECOND = timedelta(microseconds=1)


def split(count: int, weights: Sequence[int]) -> list[int]:
    """`count` smallest amounts (signed) split by non-negative integer `weights`; all zero means
    equal parts. The parts add up to `count`, each within one smallest amount of its exact share."""
    n = len(weights)
    if not n:
        return []
    sign, count = (-1, -count) if count < 0 else (1, count)
    whole = sum(weights)
    if whole == 0 or weights.count(weights[0]) == n:
        base, left = divmod(count, n)
        parts = [base + 1] * left + [base] * (n - left)
    else:
        parts, remainders = [], []
        for weight in weights:
            share, remainder = divmod(count * weight, whole)
            parts.append(share)
            remainders.append(remainder)
        left = count - sum(parts)
        if left:
            for index in sorted(range(n), key=lambda i: (-remainders[i], i))[:left]:
                parts[index] += 1
    return parts if sign > 0 else [-part for part in parts]


def minor_units(amount: Decimal, decimal_places: int) -> int:
    """An amount already rounded to the unit's smallest amount, as a count of it."""
    scaled = amount.scaleb(decimal_places)
    if scaled != scaled.to_integral_value():
        smallest = Decimal(1).scaleb(-decimal_places)
        raise ValueError(f"{amount} is finer than the smallest amount {smallest}")
    return int(scaled)


def integer_weights(weights: Sequence[Decimal | int]) -> list[int]:
    """Decimal weights (negative ones count as zero) as integers in the same proportions,
    exactly: every weight scaled by the power of ten of the finest one."""
    digits = [Decimal(w).as_tuple() for w in weights]
    finest = min((exponent for _, _, exponent in digits), default=0)
    scaled = []
    for sign, coefficient, exponent in digits:
        value = int("".join(map(str, coefficient)) or "0") * 10 ** (exponent - finest)
        scaled.append(0 if sign else value)
    return scaled


def allocate(total: Decimal, weights: Sequence[Decimal], decimal_places: int) -> list[Decimal]:
    """`total` (a whole number of smallest amounts) split by `weights`, as Decimals."""
    parts = split(minor_units(total, decimal_places), integer_weights(weights))
    return [Decimal(part).scaleb(-decimal_places) for part in parts]


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC."""
    return (moment - _EPOCH) // _MICROSECOND


def moment(us: int) -> datetime:
    """The moment `us` microseconds after 1970-01-01 UTC."""
    return _EPOCH + timedelta(microseconds=us)


def day_of(us: int) -> int:
    """The UTC day (ordinal) a moment in microseconds falls on."""
    return _EPOCH_DAY + us // DAY_US


def window_days(start_us: int, end_us: int) -> tuple[int, int]:
    """The first and last UTC days the window [start, end) touches (one day for an instant)."""
    return day_of(start_us), day_of(max(end_us, start_us + 1) - 1)


def ratable(start_us: int, end_us: int) -> tuple[int, list[int]]:
    """The window's first day and each day's share of it in microseconds (a partial first or
    last day weighs less)."""
    first, last = window_days(start_us, end_us)
    if first == last:
        return first, [max(end_us - start_us, 0)]
    weights = [DAY_US] * (last - first + 1)
    weights[0] = (first + 1 - _EPOCH_DAY) * DAY_US - start_us
    weights[-1] = end_us - (last - _EPOCH_DAY) * DAY_US
    return first, weights
