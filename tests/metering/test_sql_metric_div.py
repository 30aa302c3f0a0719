"""`sql_metric_div` as each engine runs it (SQLite's Python function, PostgreSQL's SQL function,
the ClickHouse UDF) gives `catalog.money.sql_quotient`'s answer digit for digit: the exact
quotient rounded once, half even, to 12 places, ties included."""

import random
from decimal import Decimal

from django.db import connection

from catalog.money import sql_quotient


def _cases() -> list[tuple[Decimal, Decimal]]:
    draw = random.Random(14)

    def number(digits: int, places: int) -> Decimal:
        sign = draw.choice(("", "-"))
        whole = draw.randrange(10**digits)
        return Decimal(f"{sign}{whole}.{draw.randrange(10**places):0{places}d}")

    cases = [(Decimal(a), Decimal(b)) for a, b in [("7", "2"), ("1", "0"), ("0", "-5")]]
    for _ in range(150):
        cases.append(
            (number(20, 12), number(draw.randrange(1, 12), draw.randrange(1, 12)) or Decimal(1))
        )
        cases.append((number(6, 3), Decimal(draw.randrange(1, 10**6))))
        # An exact tie at the 13th place: b x (m + 0.5) x 10^-12.
        b = number(8, 2) or Decimal(3)
        m = draw.randrange(-(10**9), 10**9)
        cases.append((b * (Decimal(m) + Decimal("0.5")) / 10**12, b))
    return cases


def _expected(cases):
    return [sql_quotient(a, b) for a, b in cases]


def test_the_relational_database_divides_as_sql_quotient(db):
    cases = _cases()
    with connection.cursor() as cursor:
        got = []
        for a, b in cases:
            cursor.execute("SELECT sql_metric_div(%s, %s)", [a, b])
            (value,) = cursor.fetchone()
            got.append(None if value is None else Decimal(str(value)))
    assert got == _expected(cases)
    assert sum(1 for value in got if value is not None) == len(cases) - 1


def test_clickhouse_divides_as_sql_quotient(chdb_store):
    cases = _cases()
    query = (
        "SELECT sql_metric_div(CAST({a:String} AS Decimal(76, 30)), "
        "CAST({b:String} AS Decimal(76, 30)))"
    )
    got = []
    for a, b in cases:
        (row,) = chdb_store.client.rows_bound(query, {"a": str(a), "b": str(b)})
        got.append(None if row[0] is None else Decimal(str(row[0])))
    assert got == _expected(cases)


def test_sqlite_compares_a_quotient_as_a_number():
    """SQLite's functions answer text (every digit reaches Python), and SQLite orders any text
    after every number: a quotient compared or computed with inside the query is cast to a
    number, including an answer column named in HAVING. A quotient's numerator is summed exactly
    (`sql_metric_sum`), as its parts kept hour by hour are."""
    from metering.sql_metrics.compiler import _parsed, compile_sql_metric

    sql, _ = compile_sql_metric(
        _parsed(
            "SELECT SUM(CAST(properties.x AS DECIMAL)) / COUNT(*) AS value, properties.r AS r "
            "FROM events WHERE CAST(properties.x AS DECIMAL) / 2 > 1 GROUP BY r "
            "HAVING value > 2 AND AVG(CAST(properties.x AS DECIMAL)) < 9"
        ),
        "sqlite",
    )
    assert sql == (
        "SELECT SQL_METRIC_DIV(SQL_METRIC_SUM(CAST(__m1 AS REAL)), COUNT(*)) AS value, __m0 AS r "
        "FROM __events AS events WHERE CAST(SQL_METRIC_DIV(CAST(__m2 AS REAL), 2) AS REAL) > 1 "
        "GROUP BY r HAVING CAST(value AS REAL) > 2 "
        "AND CAST(SQL_METRIC_AVG(CAST(__m3 AS REAL)) AS REAL) < 9"
    )
