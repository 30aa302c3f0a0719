"""SQL metrics' quotient (`catalog.money.sql_quotient`): exact, rounded once, half even, to 12
places; the SQLite functions that call it read what SQLite hands them exactly."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.money import sql_quotient
from metering.sql_metrics.functions import SqliteAverage, SqliteSum, sqlite_div


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [
        ("7", "2", "3.500000000000"),
        ("10", "3", "3.333333333333"),
        ("-10", "3", "-3.333333333333"),
        ("1", "2000000000000", "0.000000000000"),
        ("3", "2000000000000", "0.000000000002"),
        ("-3", "2000000000000", "-0.000000000002"),
        ("5", "2000000000000", "0.000000000002"),
        ("100000000000000000000", "3", "33333333333333333333.333333333333"),
        ("2.5", "0.1", "25.000000000000"),
    ],
)
def test_the_quotient_is_exact_and_rounded_half_even(numerator, denominator, quotient):
    got = sql_quotient(Decimal(numerator), Decimal(denominator))
    assert format(got, "f") == quotient


def test_a_zero_denominator_is_no_quotient():
    assert sql_quotient(Decimal(5), Decimal("0.000")) is None


decimals = st.decimals(
    min_value=Decimal("-1E+30"), max_value=Decimal("1E+30"), places=30, allow_nan=False
)


@given(decimals, decimals.filter(lambda d: d != 0))
def test_the_quotient_is_the_exact_fraction_rounded_half_even(numerator, denominator):
    exact = Fraction(numerator) / Fraction(denominator)
    # Python rounds a Fraction half to even.
    assert sql_quotient(numerator, denominator) == Decimal(f"{round(exact * 10**12)}E-12")


def test_sqlite_functions_read_integers_reals_and_text_exactly():
    assert sqlite_div(7, 2) == "3.500000000000"
    assert sqlite_div(0.1, "3") == "0.033333333333"
    assert sqlite_div(1, 0) is None
    assert sqlite_div(None, 2) is None
    average = SqliteAverage()
    for value in (1, None, "1", 2.0):
        average.step(value)
    assert average.finalize() == "1.333333333333"
    assert SqliteAverage().finalize() is None
    total = SqliteSum()
    for value in ("0.333333333333", "0.666666666667", None):
        total.step(value)
    assert total.finalize() == "1.000000000000"
    with pytest.raises(ValueError, match="'gb' is not a number"):
        sqlite_div("gb", 2)
