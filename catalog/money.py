"""Decimal helpers: the one place where money and quantities are rounded or formatted.

Pure standard library, no Django import: the rating engine imports this module and must stay
importable (and testable) without a configured Django project.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    InvalidOperation,
    localcontext,
)
from functools import cache

# Storage precision for every money or quantity column. 38 digits with 12 after the point keeps
# sub-cent unit prices (a token priced at 0.0000015 cents) exact and leaves 26 digits of headroom.
MAX_DIGITS = 38
DECIMAL_PLACES = 12

# The built-in fiat pricing unit. Amounts in it are cents; its smallest amount is one cent.
USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
USD_CENTS_NAME = "USD (cents)"

ZERO = Decimal(0)

# Metronome's quantity rounding methods, mapped to the decimal module's modes. Every rounding in
# the product names its mode explicitly: the decimal context default (ROUND_HALF_EVEN) is never used.
ROUNDING_METHODS = {
    "ROUND_UP": ROUND_UP,
    "ROUND_DOWN": ROUND_DOWN,
    "ROUND_HALF_UP": ROUND_HALF_UP,
}


def to_decimal(value: object) -> Decimal:
    """Read a JSON number, numeric string or int as an exact Decimal. Floats are refused."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (bool, float)):
        raise TypeError(f"refusing to read {type(value).__name__} {value!r} as money or quantity")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise TypeError(f"cannot read {type(value).__name__} as a number")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


@cache
def _exponent(decimal_places: int) -> Decimal:
    """10^-decimal_places, made once per number of places (a draft rounds 10,000 lines)."""
    return Decimal(1).scaleb(-decimal_places)


def round_amount(amount: Decimal, decimal_places: int = 0) -> Decimal:
    """Round a line amount, once, half up, to the pricing unit's smallest amount.

    `decimal_places` is the pricing unit's precision: 0 for `USD (cents)` (a whole cent).
    """
    return amount.quantize(_exponent(decimal_places), rounding=ROUND_HALF_UP)


# Metronome's proration rounding methods (a recurring commit's or credit's `proration_rounding`).
PRORATION_ROUNDING_METHODS = {
    "HALF_UP": ROUND_HALF_UP,
    "FLOOR": ROUND_FLOOR,
    "CEILING": ROUND_CEILING,
}
# The places a proration rounding may name: from 10^26 (the integer digits a stored amount holds)
# down to storage precision.
PRORATION_ROUNDING_PLACES = (-(MAX_DIGITS - DECIMAL_PLACES), DECIMAL_PLACES)


def round_prorated(amount: Decimal, decimal_places: int, method: str) -> Decimal:
    """A prorated amount rounded as a `proration_rounding` says, in the stored unit: to
    `decimal_places` places (negative: to a power of ten, -2 is the nearest 100 cents) with
    HALF_UP, FLOOR (towards -infinity) or CEILING (towards +infinity). 666.666... cents: HALF_UP 0
    is 667, FLOOR -2 is 600, CEILING 2 is 666.67."""
    try:
        mode = PRORATION_ROUNDING_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown rounding method {method!r}") from None
    low, high = PRORATION_ROUNDING_PLACES
    if not low <= decimal_places <= high:
        raise ValueError(f"decimal places must lie between {low} and {high}")
    with full_precision():
        rounded = amount.quantize(_exponent(decimal_places), rounding=mode)
        # 6E+2 is stored and shown as 600: a whole number keeps exponent 0.
        return rounded.quantize(Decimal(1)) if decimal_places < 0 else rounded


def round_quantity(quantity: Decimal, decimal_places: int, method: str) -> Decimal:
    """A product's quantity rounding (after its quantity conversion)."""
    try:
        mode = ROUNDING_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown rounding method {method!r}") from None
    return quantity.quantize(_exponent(decimal_places), rounding=mode)


def convert_quantity(quantity: Decimal, factor: Decimal, operation: str) -> Decimal:
    """A product's quantity conversion, at full precision (rounding is a separate step)."""
    if operation == "MULTIPLY":
        return quantity * factor
    if operation == "DIVIDE":
        return quantity / factor
    raise ValueError(f"unknown conversion operation {operation!r}")


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (150.000 -> 150, 1E+2 -> 100)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def to_json_number(value: Decimal | None) -> int | Decimal | None:
    """A Decimal as the JSON number Metronome's wire format expects (ints stay ints)."""
    if value is None:
        return None
    integral = value.to_integral_value()
    if value == integral:
        return int(integral)
    return value.normalize()


def format_money(amount: Decimal | None, unit_name: str) -> str:
    """Show an amount as a finance user reads it: 150 in `USD (cents)` is `$1.50`.

    Sub-cent amounts (unit prices) keep their extra digits: 0.00015 cents is `$0.0000015`.
    Other units print as `12.5 credits`.
    """
    if amount is None:
        return ""
    if unit_name == USD_CENTS_NAME:
        dollars = amount / 100
        digits = max(2, -normalize(dollars).as_tuple().exponent)
        sign = "-" if dollars < 0 else ""
        return f"{sign}${abs(dollars):,.{digits}f}"
    return f"{normalize(amount):,f} {unit_name}"


# Amounts are stored in the pricing unit itself (cents for `USD (cents)`) and typed and read in
# its display unit (dollars). The scale is the power of ten between the two; converting is exact.
DISPLAY_SCALES = {USD_CENTS_NAME: 2}
DISPLAY_SYMBOLS = {USD_CENTS_NAME: "$"}


def display_scale(unit_name: str) -> int:
    """Powers of ten between a stored amount and the amount people type: 2 for `USD (cents)`."""
    return DISPLAY_SCALES.get(unit_name, 0)


def to_display_amount(amount: Decimal | None, unit_name: str) -> Decimal | None:
    """A stored amount in the unit people type: 2 cents in `USD (cents)` is 0.02 (dollars)."""
    if amount is None:
        return None
    return normalize(amount.scaleb(-display_scale(unit_name)))


def from_display_amount(amount: Decimal | None, unit_name: str) -> Decimal | None:
    """A typed amount as stored: 0.02 (dollars) in `USD (cents)` is 2 (cents). The one place a
    typed amount is converted; exact (a shift of the decimal point, never a float)."""
    if amount is None:
        return None
    return amount.scaleb(display_scale(unit_name))


def display_unit_label(unit_name: str) -> str:
    """What a typed amount is in: `$` for `USD (cents)`, the unit's own name otherwise."""
    return DISPLAY_SYMBOLS.get(unit_name, unit_name)


# Intermediate results (a proration fraction, a quantity divided by a conversion factor) keep 50
# significant digits, far beyond any stored amount, so that the one rounding per line decides.
FULL_PRECISION = 50


def full_precision() -> AbstractContextManager[Context]:
    """The decimal context the rating engine computes in (rounding still happens only here)."""
    return localcontext(prec=FULL_PRECISION, rounding=ROUND_HALF_UP)


def round_stored(value: Decimal) -> Decimal:
    """A computed quantity kept at storage precision (`DECIMAL_PLACES`), half up: e.g. the part of
    a usage line a commit covers at its commit price (the balance divided by that price)."""
    return value.quantize(_exponent(DECIMAL_PLACES), rounding=ROUND_HALF_UP)


def divide_amount(
    total: Decimal, parts: int, decimal_places: int = DECIMAL_PLACES
) -> list[Decimal]:
    """`total` in `parts` equal shares that sum to it exactly: every share but the last is the
    exact share cut down (ROUND_DOWN) to `decimal_places`, the last takes what that left, so it
    is never negative and never smaller than the others (1000 in 3 at 2 places: 333.33, 333.33,
    333.34). With the default `DECIMAL_PLACES` the shares are exact to storage precision."""
    if parts < 1:
        raise ValueError("divide into at least one part")
    with full_precision():
        share = (total / parts).quantize(_exponent(decimal_places), rounding=ROUND_DOWN)
        return [*([share] * (parts - 1)), total - share * (parts - 1)]


# SQL metrics: a quotient (`a / b`, AVG = exact sum / count) is the exact decimal quotient rounded
# once, half even, to this many places on every engine (SQLite calls `sql_quotient`; PostgreSQL
# and ClickHouse run the same integer arithmetic in SQL, see `metering.sql_metrics.functions`).
SQL_QUOTIENT_PLACES = 12


def sql_quotient(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator rounded once, half even, to `SQL_QUOTIENT_PLACES` places, computed
    on integers (exact whatever the digits); None when the denominator is zero."""
    if denominator == 0:
        return None
    top, top_scale = numerator.as_integer_ratio()
    bottom, bottom_scale = denominator.as_integer_ratio()
    num = top * bottom_scale * 10**SQL_QUOTIENT_PLACES
    den = top_scale * bottom
    if den < 0:
        num, den = -num, -den
    quotient, remainder = divmod(num, den)  # floored: 0 <= remainder < den
    if 2 * remainder > den or (2 * remainder == den and quotient % 2):
        quotient += 1
    return Decimal(f"{quotient}E-{SQL_QUOTIENT_PLACES}")
