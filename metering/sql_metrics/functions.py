"""The two functions a compiled SQL metric calls for `/` and AVG, one meaning on every engine:
`sql_metric_div(a, b)` is the exact decimal quotient rounded once, half even, to
`catalog.money.SQL_QUOTIENT_PLACES` (12) places, NULL when `b` is 0 (or either side NULL); an
average is `sql_metric_div(SUM(x), COUNT(x))`, the exact sum over the count of non-NULL values.

- SQLite: Python functions registered on every connection (`register_sqlite`, from the metering
  AppConfig): `sql_metric_div` and the aggregates `sql_metric_avg` and `sql_metric_sum` (a SUM
  of quotients) compute with `Decimal` (`catalog.money.sql_quotient`) and answer text, every
  digit of it.
- PostgreSQL: `sql_metric_div(numeric, numeric)`, a SQL function made by metering's migration
  `0009_sql_metric_div`: the quotient at 13 places or more rounded to 12, unless its 13th
  place on is exactly 5 (a possible tie, where PostgreSQL's ROUND would round away from zero):
  then the truncated integer quotient of a * 10^12 by b (`div`), the remainder compared with
  half of b, scaled by 10^-12. Exact NUMERIC arithmetic either way.
- ClickHouse: `sql_metric_div`, a SQL UDF made by the store's migration `0003_sql_metric_div`
  (`stores.clickhouse.sql.SQL_METRIC_DIV`): the exact integer path on Int256 (both sides as
  Decimal256 with 30 places, reinterpreted as integers), answered as Decimal(76, 12); no
  Float64 on the path (the compiler writes a literal like 0.5 as a decimal there). It refuses
  (rather than overflow) a divisor of 10^34 or more or a quotient of 10^48 or more.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from catalog.money import sql_quotient

from ..definitions import EXACT


def _number(value) -> Decimal | None:
    """A value SQLite hands a function (int, float, text, NULL) as an exact Decimal."""
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that reads back as this double
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def sqlite_div(numerator, denominator) -> str | None:
    a, b = _number(numerator), _number(denominator)
    if a is None or b is None:
        return None
    return _text(sql_quotient(a, b))


class SqliteSum:
    """SUM on SQLite of values holding quotients: the exact Decimal sum of the non-NULL values
    (NULL over none), as text."""

    def __init__(self):
        self.total = Decimal(0)
        self.count = 0

    def step(self, value) -> None:
        number = _number(value)
        if number is not None:
            self.total = EXACT.add(self.total, number)  # every digit (`metering.definitions`)
            self.count += 1

    def finalize(self) -> str | None:
        return _text(self.total) if self.count else None


class SqliteAverage(SqliteSum):
    """AVG on SQLite: the exact Decimal sum of the non-NULL values over their count."""

    def finalize(self) -> str | None:
        if not self.count:
            return None
        return _text(sql_quotient(self.total, Decimal(self.count)))


def register_sqlite(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: the functions on every new SQLite connection."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("sql_metric_div", 2, sqlite_div, deterministic=True)
    raw.create_aggregate("sql_metric_sum", 1, SqliteSum)
    raw.create_aggregate("sql_metric_avg", 1, SqliteAverage)
