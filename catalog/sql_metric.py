"""SQL billable metrics: the query a metric is defined by, parsed with sqlglot and checked
against a whitelist before it is stored (no database here; metering compiles and runs it).

The language (Metronome's SQL metrics): one `SELECT` over a table `events` whose columns are
`event_type`, `timestamp`, `transaction_id` and the event's properties as `properties.<name>` or
`properties['<name>']` (text; cast them to use them as numbers). Metering scopes `events` to one
customer and one window itself; the query never names a customer or a period.

- The quantity is the column named `value`, else the first column. Every other column is a
  group key, named by its alias (or by the property or column it reads); the metric's group keys
  are that one key set. Columns a product does not ask for are summed away.
- Allowed: COUNT (DISTINCT), SUM, AVG, MIN, MAX, LEAST, GREATEST, ROUND, CEIL, FLOOR, ABS,
  COALESCE, LOWER, UPPER, CAST to a number or text, CASE/IF, DATE_TRUNC to the hour or day,
  +, -, * and /, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, WHERE, GROUP BY, HAVING,
  and subqueries that themselves read `events` (under the same rules).
- Division and AVG mean the same on every engine: a quotient `a / b` is the exact decimal
  quotient rounded once, half even, to 12 places (`catalog.money.sql_quotient`; 7 / 2 is 3.5,
  not SQLite's 3; 10 / 3 is 3.333333333333); division by zero is NULL (no usage for that
  group). AVG(x) is the exact SUM(x) divided, the same way, by the count of non-NULL x.
- Refused, with the character position and the reason: anything but one SELECT (DDL, DML,
  several statements), any other table, joins, CTEs, `*` (but `COUNT(*)`), window functions,
  functions not listed, identifiers starting with two underscores (the compiler's markers),
  LIMIT/OFFSET/ORDER BY (an aggregate has no order), and unknown columns.
- Refused because the databases that run it disagree on the answer (`UNEXACT`): `%` (SQLite
  takes the remainder of integers, PostgreSQL and ClickHouse of decimals) and DIV. A query gives
  the same number on every event store and database, or is refused on all of them with the
  reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

EVENT_COLUMNS = frozenset({"event_type", "timestamp", "transaction_id"})
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_LENGTH = 10_000

# Node types a query may hold, beyond the functions below.
_STRUCTURE = (
    exp.Select,
    exp.From,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Table,
    exp.TableAlias,
    exp.Subquery,
    exp.Alias,
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Star,
    exp.Paren,
    exp.Bracket,
    exp.DataType,
    exp.DataTypeParam,
    exp.Var,
    exp.Distinct,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Case,
    exp.If,
)
_FUNCTIONS = (
    exp.Count,
    exp.Sum,
    exp.Avg,
    exp.Min,
    exp.Max,
    exp.Least,
    exp.Greatest,
    exp.Round,
    exp.Ceil,
    exp.Floor,
    exp.Abs,
    exp.Coalesce,
    exp.Lower,
    exp.Upper,
    exp.Cast,
    exp.TryCast,
    exp.TimestampTrunc,
    exp.DateTrunc,
)
_NUMBER_TYPES = {
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.TINYINT,
}
_TEXT_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}
ALLOWED_FUNCTIONS = (
    "COUNT, SUM, AVG, MIN, MAX, LEAST, GREATEST, ROUND, CEIL, FLOOR, ABS, COALESCE, LOWER, "
    "UPPER, CAST, CASE, IF, DATE_TRUNC"
)

# Nodes whose result depends on the database that runs them: refused with the reason.
UNEXACT = {
    exp.IntDiv: "Integer division (DIV) is not allowed: use / (the exact quotient, 12 places) "
    "with FLOOR",
    exp.Mod: "The remainder (%) is not allowed: databases compute it differently for decimals",
}


class SqlMetricError(ValueError):
    """A query the product will not run; `position` is the 0-based character it points at."""

    def __init__(self, reason: str, position: int | None = None):
        self.reason = reason
        self.position = position
        where = f" (at character {position + 1})" if position is not None else ""
        super().__init__(f"{reason}{where}")


@dataclass(frozen=True)
class SqlMetric:
    """A checked query: its tree, the index of its quantity column and its group keys."""

    sql: str
    tree: exp.Select
    value_index: int
    group_keys: tuple[str, ...]


def _position(node: exp.Expression) -> int | None:
    for child in node.walk():
        start = child.meta.get("start") if child.meta else None
        if start is not None:
            return int(start)
    return None


def _refuse(reason: str, node: exp.Expression) -> SqlMetricError:
    return SqlMetricError(reason, _position(node))


def property_name(node: exp.Expression, aliases: set[str]) -> str | None:
    """The property a node reads (`properties.x`, `alias.properties.x`, `properties['x']`)."""
    if isinstance(node, exp.Column):
        parts = [p.name for p in node.parts]
        if len(parts) == 2 and parts[0] == "properties":
            return parts[1]
        if len(parts) == 3 and parts[0] in aliases and parts[1] == "properties":
            return parts[2]
        return None
    if isinstance(node, exp.Bracket):
        target = node.this
        keys = node.expressions
        if (
            isinstance(target, exp.Column)
            and [p.name for p in target.parts][-1] == "properties"
            and len(keys) == 1
            and isinstance(keys[0], exp.Literal)
            and keys[0].is_string
        ):
            return keys[0].this
    return None


def event_column(node: exp.Expression, aliases: set[str]) -> str | None:
    """The events column a node reads (`timestamp`, `e.event_type`), if it is one."""
    if not isinstance(node, exp.Column):
        return None
    parts = [p.name for p in node.parts]
    if len(parts) == 1 and parts[0] in EVENT_COLUMNS:
        return parts[0]
    if len(parts) == 2 and parts[0] in aliases and parts[1] in EVENT_COLUMNS:
        return parts[1]
    return None


def _check_select(select: exp.Select, *, top: bool) -> set[str]:
    """Check one SELECT (and its subqueries); returns its output names."""
    for key in ("joins", "with", "limit", "offset", "order", "laterals", "windows", "qualify"):
        if select.args.get(key):
            raise _refuse(f"{key.upper()} is not allowed in a SQL metric", select)
    source = select.args.get("from_") or select.args.get("from")
    if source is None:
        raise _refuse("The query must read FROM events", select)
    table = source.this
    aliases = {"events"}
    if isinstance(table, exp.Subquery):
        inner = table.this
        if not isinstance(inner, exp.Select):
            raise _refuse("A subquery must be a SELECT", table)
        _check_select(inner, top=False)
        if table.alias:
            aliases.add(table.alias)
    elif isinstance(table, exp.Table):
        if table.name != "events" or table.args.get("db") or table.args.get("catalog"):
            raise _refuse(f"Only the table events can be read, not {table.sql()}", table)
        if table.alias:
            aliases.add(table.alias)
    else:
        raise _refuse("The query must read FROM events", source)
    # A subquery in FROM: its output columns can be read by name.
    readable = set(_names(table.this)) if isinstance(table, exp.Subquery) else set()
    outputs = set()
    for column in select.expressions:
        if isinstance(column, exp.Star):
            raise _refuse("SELECT * is not allowed: name the columns", column)
        if isinstance(column, exp.Alias):
            outputs.add(column.alias)
    for node in select.walk():
        if node is select:
            continue
        if isinstance(node, exp.Select):
            if not isinstance(node.parent, exp.Subquery) and not isinstance(node.parent, exp.In):
                raise _refuse("A nested SELECT must be a subquery", node)
            continue  # checked on its own (below, through its subquery)
        if isinstance(node, exp.Window):
            raise _refuse("Window functions are not allowed", node)
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            raise _refuse("* is only allowed in COUNT(*)", node)
        if type(node) in UNEXACT:
            raise _refuse(UNEXACT[type(node)], node)
        if isinstance(node, exp.Div | exp.Avg):
            _check_quotient(node, aliases)
        if not isinstance(node, (*_STRUCTURE, *_FUNCTIONS)):
            if isinstance(node, exp.Func):
                name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
                raise _refuse(
                    f"The function {name.upper()} is not allowed (use {ALLOWED_FUNCTIONS})", node
                )
            raise _refuse(f"{type(node).__name__} is not allowed in a SQL metric", node)
        if isinstance(node, exp.Identifier) and node.name.startswith("__"):
            raise _refuse("Names cannot start with two underscores", node)
        if (
            isinstance(node, exp.DataType)
            and isinstance(node.parent, exp.Cast | exp.TryCast)
            and node.this not in _NUMBER_TYPES | _TEXT_TYPES
        ):
            raise _refuse(f"CAST to {node.sql()} is not allowed (a number or text)", node)
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
            unit = node.args.get("unit")
            if unit is None or unit.name.upper() not in ("HOUR", "DAY"):
                raise _refuse("DATE_TRUNC takes 'hour' or 'day'", node)
        if isinstance(node, exp.Column):
            _check_column(node, aliases, outputs, readable)
    for subquery in select.find_all(exp.Subquery):
        if subquery is not table and isinstance(subquery.this, exp.Select):
            _check_select(subquery.this, top=False)
    for node in select.find_all(exp.In):
        query = node.args.get("query")
        if query is not None:
            inner = query.this if isinstance(query, exp.Subquery) else query
            if not isinstance(inner, exp.Select):
                raise _refuse("IN takes values or a SELECT over events", node)
            _check_select(inner, top=False)
    return outputs


def _check_quotient(node: exp.Div | exp.Avg, aliases: set[str]) -> None:
    """A property is text: divided or averaged as it is, one engine refuses and another reads
    it as a number. Ask for the cast, so every engine does the same."""
    operands = [node.this, node.expression] if isinstance(node, exp.Div) else [node.this]
    for operand in operands:
        if isinstance(operand, exp.Distinct):
            operand = operand.expressions[0] if operand.expressions else operand
        name = property_name(operand, aliases)
        if name is not None:
            raise _refuse(
                f"Cast the property to a number to divide or average it: "
                f"CAST(properties['{name}'] AS DECIMAL)",
                operand,
            )


def _names(select: exp.Select) -> list[str]:
    """A SELECT's output column names (aliases, read properties, plain columns)."""
    names = []
    for column in select.expressions:
        if isinstance(column, exp.Alias):
            names.append(column.alias)
        elif isinstance(column, exp.Column):
            names.append(column.name)
    return names


def _check_column(
    node: exp.Column, aliases: set[str], outputs: set[str], readable: set[str]
) -> None:
    if isinstance(node.parent, exp.Bracket) and node.parent.this is node:
        if property_name(node.parent, aliases) is None:
            raise _refuse("Read a property as properties['name'] with a quoted name", node)
        return
    if property_name(node, aliases) or event_column(node, aliases):
        return
    parts = [p.name for p in node.parts]
    if len(parts) == 1 and parts[0] in outputs and _in_clause(node, (exp.Group, exp.Having)):
        return  # GROUP BY / HAVING naming an output column
    if parts[-1] in readable and (len(parts) == 1 or (len(parts) == 2 and parts[0] in aliases)):
        return  # a column of the subquery read FROM
    if len(parts) == 1 and parts[0] == "properties":
        raise _refuse("Read one property: properties.<name> or properties['<name>']", node)
    raise _refuse(
        f"Unknown column {node.sql()}: use event_type, timestamp, transaction_id or "
        "properties.<name>",
        node,
    )


def _in_clause(node: exp.Expression, kinds: tuple) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent
    return False


def _output_name(column: exp.Expression, index: int) -> str:
    if isinstance(column, exp.Alias):
        name = column.alias
    else:
        name = property_name(column, {"events"}) or event_column(column, {"events"}) or ""
        if not name and isinstance(column, exp.Column):
            name = column.name
    if not name:
        raise _refuse(f"Name column {index + 1} with AS (it is a group key)", column)
    if not NAME.match(name):
        raise _refuse(f"The column name {name!r} must be letters, digits and underscores", column)
    return name


def _offset(sql: str, line: int | None, col: int | None) -> int | None:
    """0-based character of a 1-based (line, column) position."""
    if not line or not col:
        return None
    lines = sql.split("\n")
    return sum(len(text) + 1 for text in lines[: line - 1]) + col - 1


def parse_sql_metric(sql: str) -> SqlMetric:
    """Parse and check a SQL metric's query; a SqlMetricError says what and where."""
    if not isinstance(sql, str) or not sql.strip():
        raise SqlMetricError("Give the query")
    if len(sql) > MAX_LENGTH:
        raise SqlMetricError(f"The query is longer than {MAX_LENGTH} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        start = _offset(sql, error.get("line"), error.get("col"))
        raise SqlMetricError(
            f"Not valid SQL: {error.get('description', str(exc)).split(' but got ')[0]}", start
        ) from None
    except TokenError as exc:
        raise SqlMetricError(f"Not valid SQL: {exc}") from None
    if len(statements) != 1:
        raise SqlMetricError(
            "Give exactly one SELECT statement", _position(statements[-1]) if statements else None
        )
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise _refuse(f"Only a SELECT is allowed, not {tree.key.upper()}", tree)
    _check_select(tree, top=True)
    columns = tree.expressions
    value_index = next(
        (i for i, c in enumerate(columns) if isinstance(c, exp.Alias) and c.alias == "value"), 0
    )
    keys = tuple(
        _output_name(column, index) for index, column in enumerate(columns) if index != value_index
    )
    if len(set(keys)) != len(keys):
        raise SqlMetricError("Two columns have the same name")
    return SqlMetric(sql=sql, tree=tree, value_index=value_index, group_keys=keys)
