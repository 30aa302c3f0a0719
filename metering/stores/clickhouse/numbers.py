"""Exact decimals in ClickHouse integers.

The numeric domain of event values (`metering.definitions`: below 10^26 in magnitude, at most 100
digits after the point) is wider than ClickHouse's widest decimal (Decimal256: 76 digits). A value
is therefore kept as three integers and a scale: `int` = floor(value) (|int| <= 10^26, an Int128),
`frac1` and `frac2` = the first and the next 50 digits of value - floor(value) (each below 10^50,
a UInt256), `scale` = the digits after the point as written. Their order is the order of the
values ((int, frac1, frac2) compared as a tuple), and sums are exact: a sum over 10^15 events
(more than a century of Metronome's published maximum rate, see `metering.definitions`) stays
below 10^41 for `int` (summed as Int256) and below 10^65 for each fraction part (UInt256 holds
10^77). `value_from_parts` puts a sum back together with `Decimal` at full precision and writes it
with as many places as the most precise value added, as PostgreSQL's numeric sum does.
"""

from __future__ import annotations

from decimal import Context, Decimal

# Enough digits for any sum above: 41 before the point and 100 after.
_EXACT = Context(prec=200)
_HALF = 10**50
_ONE = Decimal(10) ** 100


def value_parts(value: Decimal) -> tuple[int, int, int, int]:
    """(int, frac1, frac2, scale) of a value inside the numeric domain."""
    whole = int(value.to_integral_value(rounding="ROUND_FLOOR"))
    fraction = int(_EXACT.multiply(_EXACT.subtract(value, whole), _ONE))
    exponent = value.as_tuple().exponent
    return whole, fraction // _HALF, fraction % _HALF, max(0, -int(exponent))


def value_from_parts(whole: int, frac1: int, frac2: int, scale: int) -> Decimal:
    """The exact Decimal of summed parts, with `scale` places."""
    if not int(scale) and not int(frac1) and not int(frac2):
        # A sum of whole numbers (counts, tokens): the same Decimal, without the arithmetic.
        return Decimal(int(whole))
    fraction = _EXACT.divide(Decimal(int(frac1) * _HALF + int(frac2)), _ONE)
    total = _EXACT.add(Decimal(int(whole)), fraction)
    return total.quantize(Decimal(1).scaleb(-int(scale)), context=_EXACT)
