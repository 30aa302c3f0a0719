"""SQL metrics, compiled: the checked tree rewritten so that only its whitelisted structure
reaches the database as text (see the package's docstring), and bound to one window."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from django.db import connection
from sqlglot import exp

from catalog.sql_metric import SqlMetric, event_column, parse_sql_metric, property_name

from ..models import UsageEvent

_MARKER = re.compile(r'"?__m(\d+)"?|__events|"?__hour_bucket"?')
_NUMERIC = {
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DECIMAL,
}


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
    markers: list[tuple[str, object]] = []

    def marker(kind: str, value: object) -> exp.Column:
        markers.append((kind, value))
        return exp.column(f"__m{len(markers) - 1}")

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
            node.replace(exp.DataType.build("DECIMAL"))
        elif isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and vendor == "sqlite":
            unit = node.args["unit"].name.upper()
            fmt = "%Y-%m-%d %H:00:00" if unit == "HOUR" else "%Y-%m-%d 00:00:00"
            node.replace(
                exp.Anonymous(this="strftime", expressions=[marker("literal", fmt), node.this])
            )
    text = tree.sql(dialect="postgres" if vendor == "postgresql" else "sqlite")
    return text, markers


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
) -> tuple[str, list]:
    """The compiled query for one window (and, with `ranges`, only the events of those
    [start, end) ranges of it): SQL with `%s` placeholders and its parameters."""
    text, markers = compiled
    if vendor != "postgresql":
        # SQLite compares the stored text: bind instants as the backend stores them (naive UTC).
        adapt = connection.ops.adapt_datetimefield_value
        starting_at, ending_before = adapt(starting_at), adapt(ending_before)
        ranges = [(adapt(low), adapt(high)) for low, high in ranges or ()] or None
    events_sql, id_params, tail = _events_sql(vendor, customer_ids, only, ranges)
    params: list = []
    pieces: list[str] = []
    position = 0
    for match in _MARKER.finditer(text):
        pieces.append(text[position : match.start()].replace("%", "%%"))
        position = match.end()
        if match.group(0) == "__events":
            pieces.append(events_sql)
            params.extend([*id_params, starting_at, ending_before, *tail])
            continue
        if "__hour_bucket" in match.group(0):
            pieces.append(
                "date_trunc('hour', events.timestamp)"
                if vendor == "postgresql"
                else "strftime('%%Y-%%m-%%d %%H:00:00', events.timestamp)"
            )
            continue
        kind, value = markers[int(match.group(1))]
        if kind == "literal":
            pieces.append("%s")
            params.append(value)
        else:
            alias, name = value
            if vendor == "postgresql":
                pieces.append(f"({connection.ops.quote_name(alias)}.properties ->> %s)")
                params.append(name)
            else:
                pieces.append(f"json_extract({connection.ops.quote_name(alias)}.properties, %s)")
                params.append(_json_path(name))
    pieces.append(text[position:].replace("%", "%%"))
    return "".join(pieces), params


_ADDITIVE = (exp.Sum, exp.Count, exp.Min, exp.Max)


def hourly(parsed: SqlMetric) -> bool:
    """Can the query be summed hour by hour? One read of `events` (no subquery, no HAVING), its
    quantity a plain SUM, COUNT (not DISTINCT), MIN or MAX, its other columns no aggregate.
    Such a query over a window is its hours' results combined, so only the hours that gained
    events need to be read again."""
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
    """The query grouped by the hour too (its last column, `__hour`)."""
    tree = parsed.tree.copy()
    bucket = exp.column("__hour_bucket")
    tree.append("expressions", exp.alias_(bucket.copy(), "__hour"))
    group = tree.args.get("group")
    if group is None:
        tree.set("group", exp.Group(expressions=[bucket]))
    else:
        group.append("expressions", bucket)
    return SqlMetric(
        sql=parsed.sql, tree=tree, value_index=parsed.value_index, group_keys=parsed.group_keys
    )
