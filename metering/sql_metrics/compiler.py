"""SQL metrics, compiled: the checked tree rewritten so that only its whitelisted structure
reaches the database as text (see the package's docstring), and bound to one window.

Three targets: PostgreSQL and SQLite (the relational store, `bind`: `%s` placeholders) and
ClickHouse (the ClickHouse store, `bind_clickhouse`: `{name:Type}` placeholders that
clickhouse-connect and chdb bind as typed values). Numbers cast to DECIMAL are exact on
PostgreSQL (NUMERIC) and ClickHouse (`Decimal(76, 30)`: 46 digits before the point, 30 after).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.db import connection
from sqlglot import exp

from catalog.money import SQL_QUOTIENT_PLACES
from catalog.sql_metric import SqlMetric, event_column, parse_sql_metric, property_name

from ..models import UsageEvent
from ..stores.clickhouse import sql as clickhouse_sql
from .quotients import parts_query, quotient_plan

_MARKER = re.compile(r'"?__m(\d+)"?|__events|"?__hour_bucket"?')
_NUMERIC = {
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DECIMAL,
}
_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "clickhouse": "clickhouse"}
# What PostgreSQL's date_bin counts hours and days from: a UTC midnight.
_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"


@lru_cache(maxsize=256)
def _parsed(sql: str) -> SqlMetric:
    return parse_sql_metric(sql)


def _scope_alias(node: exp.Expression) -> str:
    """The name the events are read under in the SELECT holding `node`."""
    select = node.find_ancestor(exp.Select)
    source = select.args.get("from_") if select is not None else None
    table = source.this if source is not None else None
    return (table.alias if table is not None and table.alias else None) or "events"


def compile_sql_metric(parsed: SqlMetric, vendor: str) -> tuple[str, list[tuple[str, object]]]:
    """The query for `vendor` with markers replaced by `%s`, and what each placeholder is, in
    order: ("events", None) for the scoped events, ("property", (alias, name)), ("literal",
    value). `bind` turns these into SQL and parameters for one window."""
    tree = parsed.tree.copy()
    if vendor == "postgresql":
        tree = _distinct_rows_counted(tree, parsed.value_index)
    markers: list[tuple[str, object]] = []

    def marker(kind: str, value: object) -> exp.Column:
        markers.append((kind, value))
        return exp.column(f"__m{len(markers) - 1}")

    decimal = exp.DataType.build(
        "Nullable(Decimal(76, 30))" if vendor == "clickhouse" else "DECIMAL",
        dialect=_DIALECTS[vendor],
    )
    for table in list(tree.find_all(exp.Table)):
        if table.name == "events":
            alias = table.alias or "events"
            table.replace(exp.to_table("__events").as_(alias))
    for node in list(tree.walk()):
        if not _attached(node, tree):
            continue  # inside a node replaced already
        if isinstance(node, exp.Bracket | exp.Column):
            name = property_name(node, {_scope_alias(node), "events"})
            if name is not None:
                node.replace(marker("property", (_scope_alias(node), name)))
                continue
            if isinstance(node, exp.Column) and event_column(node, {_scope_alias(node)}):
                continue
        elif isinstance(node, exp.Literal) and node.is_string:
            node.replace(marker("literal", node.this))
        elif isinstance(node, exp.DataType) and node.this in _NUMERIC:
            node.replace(decimal.copy())
        elif isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and vendor == "sqlite":
            unit = node.args["unit"].name.upper()
            fmt = "%Y-%m-%d %H:00:00" if unit == "HOUR" else "%Y-%m-%d 00:00:00"
            node.replace(
                exp.Anonymous(this="strftime", expressions=[marker("literal", fmt), node.this])
            )
    if vendor == "clickhouse":
        _exact_literals(tree)
    _quotients(tree, vendor, parsed.value_index)
    return tree.sql(dialect=_DIALECTS[vendor]), markers


def _distinct_rows_counted(tree: exp.Select, value_index: int) -> exp.Select:
    """A UNIQUE count for PostgreSQL: SELECT COUNT(DISTINCT e), g... FROM events [WHERE ...]
    GROUP BY g... as SELECT COUNT(__u), __g0... FROM (SELECT DISTINCT e AS __u, g AS __g0...
    FROM events [WHERE ...]) GROUP BY __g0...: per group the same count (neither counts NULL),
    but PostgreSQL sorts every event of a group in one process for COUNT(DISTINCT) (3.1 s over
    1M events on 2 cores) and hashes the distinct rows in parallel (0.45 s). Any other shape (a
    group column not grouped by, HAVING, a subquery, another aggregate) is left as it is."""
    value = tree.expressions[value_index]
    counted = value.this if isinstance(value, exp.Alias) else value
    if not (
        isinstance(counted, exp.Count)
        and isinstance(counted.this, exp.Distinct)
        and len(counted.this.expressions) == 1
    ):
        return tree
    if tree.find(exp.Subquery) or tree.args.get("having") or tree.args.get("distinct"):
        return tree
    others = {
        index: column for index, column in enumerate(tree.expressions) if index != value_index
    }
    if any(column.find(exp.AggFunc) for column in others.values()):
        return tree
    group = tree.args.get("group")
    keys: dict[int, exp.Expression] = {}  # output column -> what it groups by
    for item in group.expressions if group is not None else []:
        for index, column in others.items():
            named = isinstance(item, exp.Column) and not item.table and item.name == column.alias
            expression = column.this if isinstance(column, exp.Alias) else column
            if index not in keys and (named or item == expression):
                keys[index] = expression
                break
        else:
            return tree  # grouped by something no column shows
    if len(keys) != len(others):
        return tree
    inner = tree.copy()
    inner.set(
        "expressions",
        [
            exp.alias_(counted.this.expressions[0].copy(), "__u"),
            *(exp.alias_(keys[index].copy(), f"__g{index}") for index in sorted(keys)),
        ],
    )
    inner.set("group", None)
    inner.set("distinct", exp.Distinct())
    columns = []
    for index, column in enumerate(tree.expressions):
        found = (
            exp.Count(this=exp.column("__u")) if index == value_index else exp.column(f"__g{index}")
        )
        columns.append(exp.alias_(found, column.alias) if column.alias else found)
    outer = exp.select(*columns).from_(inner.subquery("__distinct"))
    return outer.group_by(*(exp.column(f"__g{index}") for index in sorted(keys))) if keys else outer


def _quotients(tree: exp.Select, vendor: str, value_index: int) -> None:
    """`/` and AVG as the engine's `sql_metric_div` (see `functions`): a / b is
    sql_metric_div(a, b); AVG(x) is sql_metric_div(SUM(x), COUNT(x)). Innermost first, so an
    operand holding a quotient is already compiled when its own quotient takes it.

    SQLite has no exact decimal: there AVG(x) is the exact aggregate sql_metric_avg(x) and a SUM
    of quotients the exact sql_metric_sum, and each answers text (every digit). A call whose
    text is not read as it is (a column of the answer, or the argument of another such call) is
    cast to a number, so that SQLite compares and computes with it as with its other decimals."""
    found = [node for node in tree.walk() if isinstance(node, exp.Div | exp.Avg)]
    for node in sorted(found, key=_depth, reverse=True):
        if isinstance(node, exp.Div):
            node.replace(_call("sql_metric_div", node.this, node.expression))
        elif vendor == "sqlite":
            node.replace(_call("sql_metric_avg", node.this))
        else:
            argument = node.this
            node.replace(
                _call("sql_metric_div", exp.Sum(this=argument.copy()), exp.Count(this=argument))
            )
    if vendor == "clickhouse":
        # A group key holding a quotient, as text with its 12 places, as the other engines write
        # it (ClickHouse drops a decimal's trailing zeros).
        for index, column in enumerate(tree.expressions):
            value = column.this if isinstance(column, exp.Alias) else column
            if index != value_index and _ours(value):
                places = exp.Literal.number(SQL_QUOTIENT_PLACES)
                text = exp.Anonymous(this="toDecimalString", expressions=[value.copy(), places])
                value.replace(text)
    if vendor != "sqlite":
        return
    for node in list(tree.find_all(exp.Sum)):
        if _exact_sum(node):
            node.replace(_call("sql_metric_sum", node.this))
    for call in [node for node in tree.find_all(exp.Anonymous) if _ours(node)]:
        if not _read_as_text(call, tree):
            _as_number(call)
    # HAVING (or WHERE) naming an answer column that is such text.
    texts = {c.alias for c in tree.expressions if isinstance(c, exp.Alias) and _ours(c.this)}
    for clause in (tree.args.get("having"), tree.args.get("where")):
        for column in list(clause.find_all(exp.Column)) if clause else ():
            if len(column.parts) == 1 and column.name in texts:
                _as_number(column)


def _exact_sum(node: exp.Sum) -> bool:
    """On SQLite, a SUM summed exactly (`sql_metric_sum`, not SQLite's REAL sum): every SUM but
    one of DISTINCT values. SQLite adds a fractional cast as doubles (0.1 + 0.2 is
    0.30000000000000004); `sql_metric_sum` reads each value as the shortest text that reads back
    as it (0.1 is "0.1") and adds `Decimal`s, so an hour's sum, the hours added up in Python
    (`by_hour`) and the whole window's read are the same digits, as on PostgreSQL."""
    return not isinstance(node.this, exp.Distinct)


def _as_number(node: exp.Expression) -> None:
    number = exp.Cast(to=exp.DataType.build("DOUBLE"))
    node.replace(number)
    number.set("this", node)


def _call(name: str, *arguments: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(arguments))


def _depth(node: exp.Expression) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _read_as_text(node: exp.Expression, tree: exp.Select) -> bool:
    """Is the quotient read as it is: a column of the query's answer (its digits reach Python
    exactly) or the argument of another quotient (which reads text exactly)?"""
    parent = node.parent
    if isinstance(parent, exp.Alias):
        node, parent = parent, parent.parent
    if parent is tree and node.arg_key == "expressions":
        return True
    return _ours(parent)


def _ours(node) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.startswith("sql_metric_")


def _exact_literals(tree: exp.Select) -> None:
    """ClickHouse reads 0.5, 1e3 (or an integer past Int64) as a Float64: write such a number as
    the exact decimal it is."""
    for node in list(tree.find_all(exp.Literal)):
        if node.is_string:
            continue
        number = Decimal(node.this)
        if node.this.isdigit() and number < 2**63:
            continue
        places = min(max(0, -number.as_tuple().exponent), 30)
        node.replace(
            exp.Cast(
                this=exp.Literal.string(format(number, "f")),
                to=exp.DataType.build(f"Decimal(76, {places})", dialect="clickhouse"),
            )
        )


@lru_cache(maxsize=512)
def compiled_for(sql: str, vendor: str, by_hour: bool = False) -> tuple[str, list]:
    """`compile_sql_metric` of a stored query (grouped by its bucket too with `by_hour`: the
    hour, or the day before `bind`'s `hours_from`), once per process: a draft read binds it, it
    does not parse or generate it again."""
    parsed = _parsed(sql)
    return compile_sql_metric(_hourly_query(parsed) if by_hour else parsed, vendor)


def _attached(node: exp.Expression, tree: exp.Expression) -> bool:
    while node.parent is not None:
        node = node.parent
    return node is tree


def _events_sql(vendor: str, ids: Sequence[str], only, ranges=None) -> tuple[str, list]:
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"(SELECT event_type, timestamp, transaction_id, properties FROM {table} "
        f"WHERE customer_id IN ({placeholders}) AND timestamp >= %s AND timestamp < %s"
    )
    params: list = list(ids)
    params_tail: list = []
    if ranges:
        sql += " AND (" + " OR ".join(["(timestamp >= %s AND timestamp < %s)"] * len(ranges)) + ")"
        params_tail = [moment for pair in ranges for moment in pair]
    if only is not None:
        key, values = only
        values = sorted(values)
        extract = "properties ->> %s" if vendor == "postgresql" else "json_extract(properties, %s)"
        sql += f" AND {extract} IN ({', '.join(['%s'] * len(values))})"
        params_tail += [key if vendor == "postgresql" else _json_path(key), *values]
    return sql + ")", params, params_tail


def _json_path(name: str) -> str:
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bind(
    compiled: tuple[str, list],
    *,
    vendor: str,
    customer_ids: Sequence[str],
    starting_at: datetime,
    ending_before: datetime,
    only=None,
    ranges=None,
    hours_from: datetime | None = None,
) -> tuple[str, list]:
    """The compiled query for one window (and, with `ranges`, only the events of those
    [start, end) ranges of it): SQL with `%s` placeholders and its parameters. A query grouped
    by bucket groups by the UTC hour, or before `hours_from` by the UTC day (`spans`)."""
    if vendor != "postgresql":
        # SQLite compares the stored text: bind instants as the backend stores them (naive UTC).
        adapt = connection.ops.adapt_datetimefield_value
        starting_at, ending_before = adapt(starting_at), adapt(ending_before)
        ranges = [(adapt(low), adapt(high)) for low, high in ranges or ()] or None
        hours_from = adapt(hours_from) if hours_from is not None else None
    events_sql, id_params, tail = _events_sql(vendor, customer_ids, only, ranges)
    params: list = []

    def events() -> str:
        params.extend([*id_params, starting_at, ending_before, *tail])
        return events_sql

    def literal(value) -> str:
        params.append(value)
        return "%s"

    def read(alias: str, name: str) -> str:
        table = connection.ops.quote_name(alias)
        if vendor == "postgresql":
            params.append(name)
            return f"({table}.properties ->> %s)"
        # json_extract answers 1 and 0 for JSON true and false: read them as PostgreSQL does.
        params.extend([_json_path(name), _json_path(name)])
        return (
            f"(CASE json_type({table}.properties, %s) WHEN 'true' THEN 'true' "
            f"WHEN 'false' THEN 'false' ELSE json_extract({table}.properties, %s) END)"
        )

    def bucket() -> str:
        if vendor == "postgresql":
            # date_bin is integer arithmetic; date_trunc of a timestamptz goes through the
            # session's time zone for every event (10% of a month's read grouped by hour).
            hour = f"date_bin('1 hour', events.timestamp, {_ORIGIN})"
            day = f"date_bin('1 day', events.timestamp, {_ORIGIN})"
            if hours_from is None:
                return hour
            params.append(hours_from)
            return f"(CASE WHEN events.timestamp >= %s THEN {hour} ELSE {day} END)"
        if hours_from is None:
            return "strftime('%%Y-%%m-%%d %%H:00:00', events.timestamp)"
        params.append(hours_from)
        return (
            "strftime(CASE WHEN events.timestamp >= %s THEN '%%Y-%%m-%%d %%H:00:00' "
            "ELSE '%%Y-%%m-%%d 00:00:00' END, events.timestamp)"
        )

    text = _substituted(
        compiled, events=events, literal=literal, read=read, bucket=bucket, escape="%"
    )
    return text, params


def _substituted(compiled, *, events, literal, read, bucket, escape: str) -> str:
    """The compiled text with each marker replaced by what the target makes of it (the
    callbacks add their parameters in order of appearance); `escape`: a character the driver
    reads in the remaining text, doubled."""
    text, markers = compiled
    pieces: list[str] = []
    position = 0
    for match in _MARKER.finditer(text):
        pieces.append(text[position : match.start()].replace(escape, escape * 2))
        position = match.end()
        if match.group(0) == "__events":
            pieces.append(events())
        elif "__hour_bucket" in match.group(0):
            pieces.append(bucket())
        else:
            kind, value = markers[int(match.group(1))]
            pieces.append(literal(value) if kind == "literal" else read(*value))
    pieces.append(text[position:].replace(escape, escape * 2))
    return "".join(pieces)


def bind_clickhouse(
    compiled: tuple[str, list],
    *,
    database: str,
    customer_ids: Sequence[str],
    starting_at: datetime,
    ending_before: datetime,
    only=None,
    ranges=None,
    hours_from: datetime | None = None,
) -> tuple[str, dict]:
    """The compiled ClickHouse query for one window: SQL with `{pN:Type}` placeholders and the
    value of each (the ClickHouse store's events of the customer ids and window, see
    `metering.stores.clickhouse.sql.scoped_events`; property names and literals typed String;
    the bucket as `bind` says)."""
    bound = clickhouse_sql.Bound()

    def events() -> str:
        return clickhouse_sql.scoped_events(
            database,
            bound=bound,
            customer_ids=customer_ids,
            starting_at=starting_at,
            ending_before=ending_before,
            only=only,
            ranges=ranges,
        )

    def read(alias: str, name: str) -> str:
        table = exp.to_identifier(alias).sql(dialect="clickhouse")
        return clickhouse_sql.property_text(f"{table}.properties", bound(name))

    text = _substituted(
        compiled,
        events=events,
        literal=bound,
        read=read,
        bucket=lambda: clickhouse_sql.sql_metric_bucket(bound, hours_from),
        escape="",
    )
    return text, dict(bound)


_ADDITIVE = (exp.Sum, exp.Count, exp.Min, exp.Max)


def hourly(parsed: SqlMetric) -> bool:
    """Can the query be summed hour by hour? One read of `events` (no subquery, no HAVING), its
    quantity a plain SUM, COUNT (not DISTINCT), MIN or MAX, its other columns no aggregate.
    Such a query over a window is its hours' results combined, so only the hours that gained
    events need to be read again. A quotient of aggregates (a daily average, AVG) is not: the
    window's quotient is not the sum of its hours' quotients (its parts may be: `quotients`). A SUM of per-event quotients is
    (each event's quotient is rounded on its own, wherever the hours fall)."""
    tree = parsed.tree
    if tree.find(exp.Subquery) or tree.args.get("having"):
        return False
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        return False
    if (source.this.alias or "events") != "events":
        return False
    value = tree.expressions[parsed.value_index]
    value = value.this if isinstance(value, exp.Alias) else value
    if not isinstance(value, _ADDITIVE) or isinstance(value.this, exp.Distinct):
        return False
    return not any(
        column.find(exp.AggFunc)
        for index, column in enumerate(tree.expressions)
        if index != parsed.value_index
    )


def _hourly_query(parsed: SqlMetric) -> SqlMetric:
    """The query grouped by its bucket too (its last column, `__hour`: the hour, or the day,
    `bind`); a quotient's query with its parts in place of its quantity (`quotients`)."""
    plan = quotient_plan(parsed.sql)
    tree = parts_query(parsed, plan) if plan is not None else parsed.tree.copy()
    tree.append("expressions", exp.alias_(exp.column("__hour_bucket"), "__hour"))
    # Grouped by the column's name: the bucket's bound instant (`bind`) appears once.
    bucket = exp.column("__hour")
    group = tree.args.get("group")
    if group is None:
        tree.set("group", exp.Group(expressions=[bucket]))
    else:
        group.append("expressions", bucket)
    return SqlMetric(
        sql=parsed.sql,
        tree=tree,
        value_index=-1 if plan is not None else parsed.value_index,
        group_keys=parsed.group_keys,
    )
