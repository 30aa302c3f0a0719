"""Quotients read hour by hour: a query whose quantity is a quotient (or AVG) of aggregates that
each add up hour by hour keeps per hour the parts of its quotient, not the quotient.

A quotient's hours cannot be added (the sum of hourly averages is not the month's average), but
its numerator and denominator can when each is:

- SUM(x) (kept with COUNT(x): the window's SUM is NULL when no hour had a value);
- COUNT(*) or COUNT(x);
- COUNT(DISTINCT DATE_TRUNC('day' | 'hour', timestamp)): within one hour every event has the
  same day (and hour), so an hour adds its day when it has events; the window counts the days
  with events, kept as {day: events} so that an hour read again moves its own events only;
- a number written in the query (SUM(x) / 1000).

AVG(x) is SUM(x) / COUNT(x) (as every engine computes it, `functions`), and a quotient of
quotients divides each in turn. The window's parts are the hours' parts added; the quotient is
then taken once, by `catalog.money.sql_quotient`: the exact quotient rounded once, half even, to
12 places, what `sql_metric_div` answers on every engine for the same numerator and denominator.

Anything else stays a read of the whole window (kept until an event arrives): a subquery (AVG
of daily sums), HAVING, MIN or MAX in a quotient (not corrected by taking an hour out),
`+ - *` around a quotient, COUNT(DISTINCT) of anything but the day or hour, a column beside the
quantity holding an aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from sqlglot import exp

from catalog.money import sql_quotient
from catalog.sql_metric import SqlMetric, event_column, parse_sql_metric

# The parts query's columns: the query's other columns, then COUNT(*) (the events of the group
# in the hour: whether the group exists, and the days it adds), then each part.
ROWS = 0


@dataclass(frozen=True)
class QuotientPlan:
    """How a quotient query reads hour by hour: the `parts` columns (COUNT(*) first) and the
    `value` over them, a tree of ("div", a, b), ("sum", sum column, count column), ("count",
    column), ("buckets", "day" | "hour"), ("number", Decimal)."""

    parts: tuple[exp.Expression, ...]
    value: tuple
    units: tuple[str, ...]
    groups: int  # the query's other columns (its group values), before the parts


@lru_cache(maxsize=256)
def quotient_plan(sql: str) -> QuotientPlan | None:
    """The plan of a stored query whose quantity is a quotient of hour-additive parts, else
    None (an hourly query, or one read whole)."""
    parsed = parse_sql_metric(sql)
    tree = parsed.tree
    if tree.find(exp.Subquery) or tree.args.get("having"):
        return None
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        return None
    if (source.this.alias or "events") != "events":
        return None
    if any(
        column.find(exp.AggFunc)
        for index, column in enumerate(tree.expressions)
        if index != parsed.value_index
    ):
        return None
    value = tree.expressions[parsed.value_index]
    value = value.this if isinstance(value, exp.Alias) else value
    if not value.find(exp.Div, exp.Avg, exp.Distinct):
        return None  # no quotient, no distinct count: hourly (`compiler.hourly`) or read whole
    if isinstance(value, exp.Sum) or (
        isinstance(value, exp.Count) and not isinstance(value.this, exp.Distinct)
    ):
        return None  # a SUM of per-event quotients adds up as it is: hourly
    parts: list[exp.Expression] = [exp.Count(this=exp.Star(), big_int=True)]
    units: list[str] = []
    planned = _plan(value, parts, units)
    if planned is None:
        return None
    return QuotientPlan(
        parts=tuple(parts),
        value=planned,
        units=tuple(sorted(set(units))),
        groups=len(tree.expressions) - 1,
    )


def _plan(node: exp.Expression, parts: list, units: list) -> tuple | None:
    def part(expression: exp.Expression) -> int:
        parts.append(expression)
        return len(parts) - 1

    if isinstance(node, exp.Paren):
        return _plan(node.this, parts, units)
    if isinstance(node, exp.Literal) and not node.is_string:
        return ("number", Decimal(node.this))
    if isinstance(node, exp.Div):
        top, bottom = _plan(node.this, parts, units), _plan(node.expression, parts, units)
        return None if top is None or bottom is None else ("div", top, bottom)
    if not isinstance(node, exp.Sum | exp.Avg | exp.Count):
        return None
    argument = node.this
    if isinstance(argument, exp.Distinct):
        unit = _bucket(argument) if isinstance(node, exp.Count) else None
        if unit is None:
            return None
        units.append(unit)
        return ("buckets", unit)
    if argument is None or argument.find(exp.AggFunc):
        return None
    if isinstance(node, exp.Count):
        if isinstance(argument, exp.Star):
            return ("count", ROWS)
        return ("count", part(exp.Count(this=argument.copy(), big_int=True)))
    total = part(exp.Sum(this=argument.copy()))
    values = part(exp.Count(this=argument.copy(), big_int=True))
    summed = ("sum", total, values)
    return ("div", summed, ("count", values)) if isinstance(node, exp.Avg) else summed


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

    columns: list[Decimal]
    buckets: dict[str, dict[str, int]]


def parts_empty(plan: QuotientPlan) -> Parts:
    return Parts(columns=[Decimal(0)] * len(plan.parts), buckets={u: {} for u in plan.units})


def parts_add(plan: QuotientPlan, window: dict, hour: datetime, rows, sign: int = 1) -> None:
    """Add (or, with `sign` -1, take out) one hour's rows ([*group values, *parts as text])."""
    for row in rows:
        key = tuple(row[: plan.groups])
        parts = window.get(key) or window.setdefault(key, parts_empty(plan))
        for index, text in enumerate(row[plan.groups :]):
            if text is not None:
                parts.columns[index] += sign * Decimal(text)
        events = sign * int(Decimal(row[plan.groups + ROWS] or 0))
        for unit in plan.units:
            bucket = _truncated(hour, unit)
            days = parts.buckets[unit]
            days[bucket] = days.get(bucket, 0) + events
            if not days[bucket]:
                del days[bucket]
        if not parts.columns[ROWS]:
            del window[key]  # no events left in the group (the hour was read again)


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
    if kind == "count":
        return parts.columns[node[1]]
    if kind == "sum":
        return parts.columns[node[1]] if parts.columns[node[2]] else None
    if kind == "buckets":
        return Decimal(len(parts.buckets[node[1]]))
    top, bottom = _value(node[1], parts), _value(node[2], parts)
    return None if top is None or bottom is None else sql_quotient(top, bottom)


def parts_encoded(window: dict) -> list:
    return [
        [list(key), [str(c) for c in parts.columns], parts.buckets] for key, parts in window.items()
    ]


def parts_decoded(kept: list) -> dict:
    return {
        tuple(key): Parts(columns=[Decimal(c) for c in columns], buckets=buckets)
        for key, columns, buckets in kept
    }
