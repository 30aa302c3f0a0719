"""Quotients read hour by hour: a query whose quantity is a quotient (or AVG) of aggregates that
each add up hour by hour keeps per span of hours (`spans`: an hour, or hours of one day) the
parts of its quotient, not the quotient.

A quotient's hours cannot be added (the sum of hourly averages is not the month's average), but
its numerator and denominator can when each is:

- SUM(x) (kept with COUNT(x): the window's SUM is NULL when no hour had a value);
- COUNT(*) or COUNT(x);
- COUNT(DISTINCT DATE_TRUNC('day' | 'hour', timestamp)): within one span every event has the
  same day (a span never crosses a UTC day; counting hours, every span is one hour), so a span
  adds its day when it has events; the window counts the days with events, kept as
  {day: events} so that a span read again moves its own events only;
- MIN(x) and MAX(x) (a span's extreme combined by min or max; a span read again has the
  window's extremes combined again from every kept span, not taken out);
- a number written in the query (SUM(x) / 1000).

AVG(x) is SUM(x) / COUNT(x) (as every engine computes it, `functions`), a quotient of
quotients divides each in turn, and `+ - *` of such parts (around a quotient or inside it, or
without one: COUNT(*) - COUNT(x)) are evaluated once over the window's parts, exactly, as
PostgreSQL's NUMERIC and ClickHouse's decimals compute them (SQLite computes an arithmetic
around a quotient with doubles: there the whole read can differ in its last digits). The quickstart's other daily average, AVG over a subquery of
daily sums (`SELECT AVG(daily) FROM (SELECT SUM(x) AS daily FROM events GROUP BY
DATE_TRUNC('day', timestamp))`), is SUM(x) over the days whose SUM is not NULL (those with a
value of x: the days counted by COUNT(x), not by COUNT(*)); a daily COUNT is never NULL. The window's parts are the hours' parts added; the quotient is
then taken once, by `catalog.money.sql_quotient`: the exact quotient rounded once, half even, to
12 places, what `sql_metric_div` answers on every engine for the same numerator and denominator.

Anything else stays a read of the whole window (kept until an event arrives): another subquery
(an outer WHERE or GROUP BY, an inner one grouped by more than the day or hour), HAVING,
COUNT(DISTINCT) of anything but the day or hour, a function around an aggregate (CAST, ABS...),
a column beside the quantity holding an aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from sqlglot import exp

from catalog.money import sql_quotient
from catalog.sql_metric import SqlMetric, event_column, parse_sql_metric

from ..definitions import EXACT

# The parts query's columns: the query's other columns, then COUNT(*) (the events of the group
# in the hour: whether the group exists, and the days it adds), then each part.
ROWS = 0


@dataclass(frozen=True)
class QuotientPlan:
    """How a quotient query reads hour by hour: the `parts` columns (COUNT(*) first) and the
    `value` over them, a tree of ("div" | "add" | "sub" | "mul", a, b), ("sum", sum column,
    count column), ("count", column), ("extreme", column: a MIN or MAX, NULL over no value),
    ("buckets", "day" | "hour", column: the days where it is not 0), ("number", Decimal).
    `source`: the SELECT the parts are read from (the subquery of an AVG of daily sums; None:
    the query itself)."""

    parts: tuple[exp.Expression, ...]
    value: tuple
    units: tuple[tuple[str, int], ...]
    groups: int  # the query's other columns (its group values), before the parts
    source: exp.Select | None = None

    @property
    def extremes(self) -> bool:
        """Does a part combine by min or max (an hour cannot be taken out of it)?"""
        return any(isinstance(part, exp.Min | exp.Max) for part in self.parts)


@lru_cache(maxsize=256)
def quotient_plan(sql: str) -> QuotientPlan | None:
    """The plan of a stored query whose quantity is a quotient of hour-additive parts, else
    None (an hourly query, or one read whole)."""
    parsed = parse_sql_metric(sql)
    tree = parsed.tree
    if tree.args.get("having"):
        return None
    source = tree.args.get("from_") or tree.args.get("from")
    if source is not None and isinstance(source.this, exp.Subquery):
        return _average_of_buckets(tree, source.this)
    if tree.find(exp.Subquery) or not _reads_events(tree):
        return None
    if any(
        column.find(exp.AggFunc)
        for index, column in enumerate(tree.expressions)
        if index != parsed.value_index
    ):
        return None
    value = tree.expressions[parsed.value_index]
    value = value.this if isinstance(value, exp.Alias) else value
    if not value.find(exp.AggFunc):
        return None  # not an aggregate: a row per event, read whole
    if isinstance(value, exp.Sum | exp.Min | exp.Max) or (
        isinstance(value, exp.Count) and not isinstance(value.this, exp.Distinct)
    ):
        return None  # one aggregate (a SUM of per-event quotients too): hourly
    parts: list[exp.Expression] = [exp.Count(this=exp.Star(), big_int=True)]
    units: list[tuple[str, int]] = []
    planned = _plan(value, parts, units)
    if planned is None:
        return None
    return QuotientPlan(
        parts=tuple(parts),
        value=planned,
        units=tuple(sorted(set(units))),
        groups=len(tree.expressions) - 1,
    )


def _reads_events(select: exp.Select) -> bool:
    """Does this SELECT read `events` itself (under no other name: the hour is read as
    `events.timestamp`)?"""
    source = select.args.get("from_") or select.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        return False
    return (source.this.alias or "events") == "events"


def _average_of_buckets(tree: exp.Select, subquery: exp.Subquery) -> QuotientPlan | None:
    """SELECT AVG(c) FROM (SELECT SUM(x) | COUNT(x) | COUNT(*) AS c FROM events [WHERE ...]
    GROUP BY DATE_TRUNC('day' | 'hour', timestamp)): the plan of SUM(x) (or the COUNT) over the
    days the inner aggregate is not NULL."""
    inner = subquery.this
    if len(tree.expressions) != 1 or any(
        tree.args.get(key) for key in ("where", "group", "having", "joins")
    ):
        return None
    average = tree.expressions[0]
    average = average.this if isinstance(average, exp.Alias) else average
    if not isinstance(average, exp.Avg) or not isinstance(average.this, exp.Column):
        return None
    if not isinstance(inner, exp.Select) or inner.find(exp.Subquery) or not _reads_events(inner):
        return None
    if inner.args.get("having"):
        return None
    named = {c.alias: c.this for c in inner.expressions if isinstance(c, exp.Alias)}
    column = named.get(average.this.name)
    if column is None or any(
        c.find(exp.AggFunc) for c in inner.expressions if c.this is not column
    ):
        return None
    group = inner.args.get("group")
    keys = [
        named.get(key.name, key) if isinstance(key, exp.Column) and len(key.parts) == 1 else key
        for key in (group.expressions if group is not None else [])
    ]
    unit = _bucket(exp.Distinct(expressions=[keys[0].copy()])) if len(keys) == 1 else None
    aggregate = column
    if unit is None or not isinstance(aggregate, exp.Sum | exp.Count):
        return None
    argument = aggregate.this
    if argument is None or isinstance(argument, exp.Distinct) or argument.find(exp.AggFunc):
        return None
    parts: list[exp.Expression] = [exp.Count(this=exp.Star(), big_int=True)]
    planned = _plan(aggregate, parts, [])
    if planned is None:
        return None
    # The days counted: those where the inner aggregate is not NULL (a SUM: some value of x).
    counted = planned[2] if planned[0] == "sum" else ROWS
    return QuotientPlan(
        parts=tuple(parts),
        value=("div", planned, ("buckets", unit, counted)),
        units=((unit, counted),),
        groups=0,
        source=inner,
    )


def _plan(node: exp.Expression, parts: list, units: list) -> tuple | None:
    def part(expression: exp.Expression) -> int:
        parts.append(expression)
        return len(parts) - 1

    if isinstance(node, exp.Paren):
        return _plan(node.this, parts, units)
    if isinstance(node, exp.Literal) and not node.is_string:
        return ("number", Decimal(node.this))
    if isinstance(node, exp.Div | exp.Add | exp.Sub | exp.Mul):
        left, right = _plan(node.this, parts, units), _plan(node.expression, parts, units)
        if left is None or right is None:
            return None
        return (_OPERATORS[type(node)], left, right)
    if not isinstance(node, exp.Sum | exp.Avg | exp.Count | exp.Min | exp.Max):
        return None
    argument = node.this
    if isinstance(argument, exp.Distinct):
        unit = _bucket(argument) if isinstance(node, exp.Count) else None
        if unit is None:
            return None
        units.append((unit, ROWS))
        return ("buckets", unit, ROWS)
    if argument is None or argument.find(exp.AggFunc):
        return None
    if isinstance(node, exp.Min | exp.Max):
        return ("extreme", part(type(node)(this=argument.copy())))
    if isinstance(node, exp.Count):
        if isinstance(argument, exp.Star):
            return ("count", ROWS)
        return ("count", part(exp.Count(this=argument.copy(), big_int=True)))
    total = part(exp.Sum(this=argument.copy()))
    values = part(exp.Count(this=argument.copy(), big_int=True))
    summed = ("sum", total, values)
    return ("div", summed, ("count", values)) if isinstance(node, exp.Avg) else summed


_OPERATORS = {exp.Div: "div", exp.Add: "add", exp.Sub: "sub", exp.Mul: "mul"}


def _bucket(distinct: exp.Distinct) -> str | None:
    """'day' or 'hour' for DISTINCT DATE_TRUNC('day' | 'hour', timestamp), else None."""
    if len(distinct.expressions) != 1:
        return None
    (trunc,) = distinct.expressions
    if not isinstance(trunc, exp.TimestampTrunc | exp.DateTrunc):
        return None
    if event_column(trunc.this, {"events"}) != "timestamp":
        return None
    unit = trunc.args["unit"].name.lower()
    return unit if unit in ("day", "hour") else None


def parts_query(parsed: SqlMetric, plan: QuotientPlan) -> exp.Select:
    """The query with its quantity replaced by the parts (`__part<n>`, a SUM `__sum<n>`):
    what `compiler` groups by the hour too."""
    if plan.source is not None:
        tree = plan.source.copy()
        tree.set("group", None)
        columns = []
    else:
        tree = parsed.tree.copy()
        columns = [c for i, c in enumerate(tree.expressions) if i != parsed.value_index]
    for index, part in enumerate(plan.parts):
        name = f"__sum{index}" if isinstance(part, exp.Sum) else f"__part{index}"
        columns.append(exp.alias_(part.copy(), name))
    tree.set("expressions", columns)
    return tree


# --- The window's parts: {group values: Parts}, added hour by hour -------------------------


@dataclass
class Parts:
    """A group's parts over some hours: each part column added, and per unit the events of each
    day (or hour) they fell in."""

    columns: list[Decimal | None]  # None: a MIN or MAX over no value yet
    buckets: dict[str, dict[str, int]]  # "<unit> <column>": {day (or hour): the column there}


def _units_key(unit: str, column: int) -> str:
    return f"{unit} {column}"


def parts_empty(plan: QuotientPlan) -> Parts:
    return Parts(
        columns=[None if isinstance(p, exp.Min | exp.Max) else Decimal(0) for p in plan.parts],
        buckets={_units_key(*unit): {} for unit in plan.units},
    )


def parts_add(plan: QuotientPlan, window: dict, hour: datetime, rows, sign: int = 1) -> None:
    """Add (or, with `sign` -1, take out: not for a plan with `extremes`) the rows of the hours
    from `hour` (an hour, or hours of its day: `spans`) ([*group values, *parts as text])."""
    for row in rows:
        key = tuple(row[: plan.groups])
        parts = window.get(key) or window.setdefault(key, parts_empty(plan))
        for index, text in enumerate(row[plan.groups :]):
            if text is None:
                continue
            kind, value, known = type(plan.parts[index]), Decimal(text), parts.columns[index]
            if kind is exp.Min or kind is exp.Max:
                if sign < 0:
                    raise ValueError("A MIN or MAX part cannot be taken out of a window.")
                pick = min if kind is exp.Min else max
                parts.columns[index] = value if known is None else pick(known, value)
            else:
                # Exact: 160 digits, more than any sum of the numeric domain (`definitions`).
                step = EXACT.add if sign > 0 else EXACT.subtract
                parts.columns[index] = step(known, value)
        for unit, column in plan.units:
            counted = sign * int(Decimal(row[plan.groups + column] or 0))
            bucket = _truncated(hour, unit)
            days = parts.buckets[_units_key(unit, column)]
            days[bucket] = days.get(bucket, 0) + counted
            if not days[bucket]:
                del days[bucket]
        if not parts.columns[ROWS]:
            del window[key]  # no events left in the group (its hours were read again)


def _truncated(hour: datetime, unit: str) -> str:
    return (hour.replace(hour=0) if unit == "day" else hour).isoformat()


def parts_rows(plan: QuotientPlan, window: dict, grouped: bool) -> list[list]:
    """The query's rows from the window's parts: [*group values, quantity]. Without GROUP BY
    the query answers one row even over no events (COUNT 0, SUM and so a quotient NULL)."""
    if not window and not grouped:
        window = {(): parts_empty(plan)}
    return [[*key, _value(plan.value, parts)] for key, parts in window.items()]


def _value(node: tuple, parts: Parts) -> Decimal | None:
    kind = node[0]
    if kind == "number":
        return node[1]
    if kind in ("count", "extreme"):
        return parts.columns[node[1]]
    if kind == "sum":
        return parts.columns[node[1]] if parts.columns[node[2]] else None
    if kind == "buckets":
        return Decimal(len(parts.buckets[_units_key(node[1], node[2])]))
    left, right = _value(node[1], parts), _value(node[2], parts)
    if left is None or right is None:
        return None  # NULL, as SQL's arithmetic with NULL
    if kind == "div":
        return sql_quotient(left, right)
    # Exact, as NUMERIC: a product of two parts has at most the digits of both.
    return {"add": EXACT.add, "sub": EXACT.subtract, "mul": EXACT.multiply}[kind](left, right)


def parts_encoded(window: dict) -> list:
    return [
        [list(key), [None if c is None else str(c) for c in parts.columns], parts.buckets]
        for key, parts in window.items()
    ]


def parts_decoded(kept: list) -> dict:
    return {
        tuple(key): Parts(
            columns=[None if c is None else Decimal(c) for c in columns], buckets=buckets
        )
        for key, columns, buckets in kept
    }
