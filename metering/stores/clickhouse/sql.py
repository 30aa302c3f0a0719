"""Every statement the ClickHouse store runs, generated here and only here (both clients run the
same text). Values are written as literals, escaped by `text`, `moment`, `hour` and `texts`;
nothing from a request reaches SQL any other way.

Reads are exact whatever the state of merges: aggregate rows are added up with `sum`/`max`
(the same arithmetic a merge does), distinct values counted with `uniqExact`, and event rows are
unique by construction (see `metering.stores.clickhouse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise

from catalog.money import SQL_QUOTIENT_PLACES

from ..tiers import GRAINS, cover, period_ceiling, period_start, ranges_sql

NO_METRIC = "00000000-0000-0000-0000-000000000000"
EVENT_COLUMNS = (
    "transaction_id, customer_id, event_type, timestamp, properties, received_at, is_late, "
    "toString(id)"
)


def text(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def texts(values: Sequence[str]) -> str:
    return "(" + ", ".join(text(v) for v in values) + ")" if values else "('')"


def moment(value: datetime) -> str:
    stamp = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"toDateTime64('{stamp}', 6, 'UTC')"


def hour(value: datetime) -> str:
    return f"toDateTime({int(value.timestamp())}, 'UTC')"


def segment_of(bounds: Sequence[datetime], column: str = "hour") -> str:
    """The 0-based segment of an hour: constant for one segment, arithmetic for equal segments
    (HOUR and DAY windows), else a count of the boundaries at or before it."""
    if len(bounds) == 2:
        return "0"
    start = int(bounds[0].timestamp())
    steps = {b - a for a, b in pairwise(bounds)}
    if len(steps) == 1:
        return f"intDiv(toUInt32({column}) - {start}, {int(steps.pop().total_seconds())})"
    epochs = ", ".join(str(int(b.timestamp())) for b in bounds)
    return f"toUInt32(arrayCount(b -> b <= toUInt32({column}), [{epochs}]) - 1)"


def _slots(bounds: Sequence[datetime], owners: dict[str, list[int]] | None) -> tuple[str, str]:
    """(a row's slot, an ARRAY JOIN): the segment of its hour, or with `owners` (ingest id ->
    positions of the customers it belongs to) each position of its customer id, from a literal
    map (a row counts once for every customer listing its id)."""
    if owners is None:
        return segment_of(bounds), ""
    pairs = ", ".join(
        f"{text(ingest_id)}, CAST([{', '.join(str(int(s)) for s in slots)}] AS Array(UInt32))"
        for ingest_id, slots in owners.items()
    )
    return "slot", f" ARRAY JOIN map({pairs})[customer_id] AS slot"


def _range(database, spans, metric_id, customer_ids, only=None, join="") -> str:
    """The rows of a metric's customers in `spans`, [(kind, [(start, end), ...]), ...]: rows of
    that kind whose hour (a day or month row's: its start) is inside one of its ranges; `only` =
    (group key, values): just the rows whose full group values carry one of `values` under that
    key; `join` an ARRAY JOIN (`_slots`)."""
    where = ""
    if only is not None:
        key, values = only
        where = (
            f" AND JSONExtract(group_values, {text(key)}, 'Nullable(String)') "
            f"IN {texts(sorted(values))}"
        )
    return (
        f"FROM {database}.usage{join} WHERE customer_id IN {texts(customer_ids)} "
        f"AND metric_id = {text(metric_id)} AND {_spans(spans)}{where}"
    )


def _spans(spans) -> str:
    """Rows of each kind whose hour (a day or month row's: its start) is in one of its ranges."""
    kinds = " OR ".join(
        f"(kind = '{kind}' AND ({ranges_sql('hour', ranges, hour)}))"
        for kind, ranges in spans
        if ranges
    )
    return f"({kinds or '0'})"


def _whole(kind: str, bounds: Sequence[datetime]) -> list:
    return [(kind, [(bounds[0], bounds[-1])])]


_MEASURES = {
    "COUNT": "sum(event_count)",
    "SUM": "sum(sum_int), sum(sum_frac1), sum(sum_frac2), max(sum_scale)",
    "MAX": "max(max_value)",
    "LATEST": "max(latest)",
}


def rolled_up(
    database, aggregation, metric_id, customer_ids, bounds, only=None, owners=None, grains=GRAINS
) -> str:
    """(segment, group values JSON, measures...) for COUNT, SUM, MAX or LATEST, from the day and
    month rows of what each segment covers whole and the hourly rows of its edges
    (`tiers.cover`; `grains=()`: hourly rows only); with `owners` the customer's position instead
    of the segment (`_slots`)."""
    slot, join = _slots(bounds, owners)
    covered = cover(bounds, grains)
    spans = [("aggregate", covered.hours), *covered.periods.items()]
    rows = _range(database, spans, metric_id, customer_ids, only, join)
    return (
        f"SELECT {slot} AS segment, group_values, {_MEASURES[aggregation]} "
        f"{rows} "
        f"GROUP BY segment, group_values"
    )


def _group_columns(group_keys: Sequence[str]) -> str:
    return "".join(
        f", JSONExtract(group_values, {text(key)}, 'Nullable(String)') AS k{i}"
        for i, key in enumerate(group_keys)
    )


def _group_names(group_keys: Sequence[str]) -> str:
    return "".join(f", k{i}" for i in range(len(group_keys)))


def distinct_counts(
    database, metric_id, customer_ids, bounds, group_keys, only=None, owners=None
) -> str:
    """(segment, key values..., distinct values) for UNIQUE over each whole segment; with
    `owners` over the whole window per customer (`_slots`)."""
    slot, join = _slots(bounds, owners)
    rows = _range(database, _whole("distinct", bounds), metric_id, customer_ids, only, join)
    return (
        f"SELECT {slot} AS segment{_group_columns(group_keys)}, "
        f"uniqExact(transaction_id) {rows} "
        f"GROUP BY segment{_group_names(group_keys)}"
    )


def distinct_first_seen(database, metric_id, customer_ids, bounds, group_keys) -> str:
    """(segment, key values..., values first seen in it) for running UNIQUE counts."""
    names = _group_names(group_keys)
    return (
        f"SELECT {segment_of(bounds, 'first')} AS segment{names}, count() FROM ("
        f"SELECT min(hour) AS first{_group_columns(group_keys)}, transaction_id "
        f"{_range(database, _whole('distinct', bounds), metric_id, customer_ids)} "
        f"GROUP BY transaction_id{names}) GROUP BY segment{names}"
    )


DAILY_GRAINS = ("day",)


def daily_rows(database, metric_ids, customer_ids, start, end, grains=DAILY_GRAINS) -> str:
    """FROM ... WHERE: the day rows of the whole UTC days of [start, end), the hourly rows of a
    partial day at its edges (`grains=()`: hourly rows only)."""
    covered = cover([start, end], grains)
    spans = [("aggregate", covered.hours), *covered.periods.items()]
    return (
        f"FROM {database}.usage WHERE customer_id IN {texts(customer_ids)} "
        f"AND metric_id IN {texts(metric_ids)} AND {_spans(spans)}"
    )


def daily(database, metric_ids, customer_ids, start, end, grains=DAILY_GRAINS) -> str:
    """(metric id, customer id, day, group values, events, sum parts...) per UTC day."""
    return (
        f"SELECT toString(metric_id), customer_id, toString(toDate(hour)), group_values, "
        f"sum(event_count), sum(sum_int), sum(sum_frac1), sum(sum_frac2), max(sum_scale) "
        f"{daily_rows(database, metric_ids, customer_ids, start, end, grains)} "
        f"GROUP BY metric_id, customer_id, toDate(hour), group_values"
    )


def accepted(database, transaction_ids, since) -> str:
    """(transaction id, first received) of event rows under these ids since `since` (served by
    the `by_transaction` projection)."""
    return (
        f"SELECT transaction_id, min(received_at) FROM {database}.usage "
        f"WHERE kind = 'event' AND transaction_id IN {texts(transaction_ids)} "
        f"AND received_at >= {moment(since)} GROUP BY transaction_id"
    )


def event_keys(database, transaction_ids, since) -> str:
    return (
        f"SELECT DISTINCT customer_id, toUInt32(hour) FROM {database}.usage "
        f"WHERE kind = 'event' AND transaction_id IN {texts(transaction_ids)} "
        f"AND received_at >= {moment(since)}"
    )


def events_at(database, customer_ids, hours, transaction_ids, since) -> str:
    listed = ", ".join(str(h) for h in hours)
    return (
        f"SELECT {EVENT_COLUMNS} FROM {database}.usage WHERE customer_id IN {texts(customer_ids)} "
        f"AND kind = 'event' AND metric_id = '{NO_METRIC}' AND toUInt32(hour) IN ({listed}) "
        f"AND transaction_id IN {texts(transaction_ids)} AND received_at >= {moment(since)}"
    )


def duplicates_of(database, transaction_ids, since) -> str:
    return (
        f"SELECT transaction_id, customer_id, event_type, timestamp, properties, received_at, "
        f"toString(id) FROM {database}.duplicates "
        f"WHERE transaction_id IN {texts(transaction_ids)} AND received_at >= {moment(since)}"
    )


def events_between(database, customer_ids, start, end, event_types) -> str:
    types = f" AND event_type IN {texts(event_types)}" if event_types else ""
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    return (
        f"SELECT event_type, properties FROM {database}.usage "
        f"WHERE customer_id IN {texts(customer_ids)} AND kind = 'event' "
        f"AND metric_id = '{NO_METRIC}' AND hour >= {hour(first_hour)} AND hour < {hour(end)} "
        f"AND timestamp >= {moment(start)} AND timestamp < {moment(end)}{types} "
        f"ORDER BY timestamp, received_at, transaction_id"
    )


def chunk_events(database, event_types_in, event_types_not_in, start, end) -> str:
    """Every event of a time chunk a metric's event-type filter lets through (backfill)."""
    where = ""
    if event_types_in:
        where += f" AND event_type IN {texts(sorted(event_types_in))}"
    if event_types_not_in:
        where += f" AND event_type NOT IN {texts(sorted(event_types_not_in))}"
    return (
        f"SELECT customer_id, timestamp, transaction_id, properties FROM {database}.usage "
        f"WHERE kind = 'event' AND hour >= {hour(start)} AND hour < {hour(end)}{where}"
    )


def event_span(database, event_types_in, event_types_not_in) -> str:
    where = ""
    if event_types_in:
        where += f" AND event_type IN {texts(sorted(event_types_in))}"
    if event_types_not_in:
        where += f" AND event_type NOT IN {texts(sorted(event_types_not_in))}"
    return (
        f"SELECT toUInt32(min(hour)), toUInt32(max(hour)), count() FROM {database}.usage "
        f"WHERE kind = 'event'{where}"
    )


def measured_rows(database, metric_id, start, end) -> str:
    return (
        f"SELECT count() FROM {database}.usage WHERE kind IN ('aggregate', 'distinct') "
        f"AND metric_id = {text(metric_id)} AND hour >= {hour(start)} AND hour < {hour(end)}"
    )


def rollups_insert(database, where: str, into: str = "") -> str:
    """Day and month rows (kind `day`, `month`; `hour` the period's start) from the hourly
    aggregate rows the condition `where` selects, added up as merges and reads add them (into
    `into`, a qualified table, if given)."""
    period = "if(grain = 'day', toStartOfDay(hour), toDateTime(toStartOfMonth(hour), 'UTC'))"
    return (
        f"INSERT INTO {into or database + '.usage'} (kind, customer_id, metric_id, hour, group_values, "
        f"transaction_id, received_at, event_count, sum_int, sum_frac1, sum_frac2, sum_scale, "
        f"max_value, latest) "
        f"SELECT grain, customer_id, metric_id, {period} AS period, group_values, '', "
        f"toDateTime64(0, 6, 'UTC'), sum(event_count), sum(sum_int), sum(sum_frac1), "
        f"sum(sum_frac2), max(sum_scale), max(max_value), max(latest) "
        f"FROM {database}.usage ARRAY JOIN ['day', 'month'] AS grain "
        f"WHERE kind = 'aggregate' AND {where} "
        f"GROUP BY grain, customer_id, metric_id, period, group_values"
    )


def metric_window(metric_id, start, end) -> str:
    """The condition for a metric's rows in [start, end)."""
    return f"metric_id = {text(metric_id)} AND hour >= {hour(start)} AND hour < {hour(end)}"


def usage_delete(database, cluster, where: str) -> str:
    """Delete the `usage` rows `where` selects (on a cluster from every shard's local table),
    waiting until every replica has applied it."""
    table = f"{database}.usage_local ON CLUSTER {cluster}" if cluster else f"{database}.usage"
    return f"ALTER TABLE {table} DELETE WHERE {where} SETTINGS mutations_sync = 2"


def forget_rollups(database, cluster, metric_id, start, end) -> str:
    """Delete a metric's day and month rows starting in [start, end) (the backfill rebuilds them
    from the hourly rows)."""
    return usage_delete(
        database, cluster, f"kind IN ('day', 'month') AND {metric_window(metric_id, start, end)}"
    )


def forget_measured(database, cluster, metric_id, start, end) -> str:
    """Delete a metric's aggregate and distinct rows of a chunk (the backfill rebuilds them)."""
    return usage_delete(
        database,
        cluster,
        f"kind IN ('aggregate', 'distinct') AND {metric_window(metric_id, start, end)}",
    )


# --- Previews (`ClickHouseStore.preview`) -------------------------------------------------------
# A preview is a database of its own: `own` (a Memory table shaped like `usage`) takes the
# preview's rows, and a view named `usage` reads the stored rows (minus the forgotten windows)
# together with them, so every statement above runs unchanged against the preview's database.

PREVIEW_PREFIX = "_preview_"


def _forgotten(customer_ids, forget) -> str:
    """The stored rows a preview leaves out: the customer ids' events in each window, their
    hourly rows of the hours it touches, and their day and month rows of the calendar months it
    overlaps (rebuilt from the hourly rows left: `preview_rollups`)."""
    if not forget:
        return "0"
    spans = []
    for start, end in forget:
        first_hour = start.replace(minute=0, second=0, microsecond=0)
        spans += [
            f"(kind = 'event' AND timestamp >= {moment(start)} AND timestamp < {moment(end)})",
            f"(kind IN ('aggregate', 'distinct') AND hour >= {hour(first_hour)} "
            f"AND hour < {hour(end)})",
            f"(kind IN ('day', 'month') AND {_months(start, end)})",
        ]
    return f"customer_id IN {texts(customer_ids)} AND ({' OR '.join(spans)})"


def _months(start: datetime, end: datetime) -> str:
    return (
        f"hour >= {hour(period_start('month', start))} "
        f"AND hour < {hour(period_ceiling('month', end))}"
    )


def preview_create(database, scope, customer_ids, forget) -> list[str]:
    """The preview database `scope` over `database` (see above)."""
    statements = [
        f"CREATE DATABASE {scope}",
        f"CREATE TABLE {scope}.own ENGINE = Memory AS SELECT * FROM {database}.usage WHERE 0",
        f"CREATE VIEW {scope}.usage AS SELECT * FROM {database}.usage "
        f"WHERE NOT ({_forgotten(customer_ids, forget)}) UNION ALL SELECT * FROM {scope}.own",
        f"CREATE VIEW {scope}.duplicates AS SELECT * FROM {database}.duplicates",
    ]
    if forget:
        months = " OR ".join(f"({_months(start, end)})" for start, end in forget)
        statements.append(
            rollups_insert(
                scope, f"customer_id IN {texts(customer_ids)} AND ({months})", f"{scope}.own"
            )
        )
    return statements


def preview_drop(scope) -> str:
    return f"DROP DATABASE IF EXISTS {scope} SYNC"


def previews_left(database, older_than: datetime) -> str:
    """Preview databases a process that died mid-preview left behind."""
    return (
        f"SELECT DISTINCT database FROM system.tables WHERE name = 'own' "
        f"AND startsWith(database, {text(database + PREVIEW_PREFIX)}) "
        f"AND metadata_modification_time < {hour(older_than)}"
    )


def received_customers(database, since) -> str:
    """The customer ids of the events received since `since` (a restore's alert marks)."""
    return (
        f"SELECT DISTINCT customer_id FROM {database}.usage WHERE kind = 'event' "
        f"AND received_at >= {moment(since)}"
    )


def late_count(database, customer_ids) -> str:
    return (
        f"SELECT count() FROM {database}.usage WHERE customer_id IN {texts(customer_ids)} "
        f"AND kind = 'event' AND is_late"
    )


def customer_ids(database) -> str:
    return f"SELECT DISTINCT customer_id FROM {database}.usage WHERE kind = 'event'"


def activity(database, ids, since) -> str:
    return (
        f"SELECT customer_id, count(), max(timestamp) FROM {database}.usage "
        f"WHERE customer_id IN {texts(ids)} AND kind = 'event' "
        f"AND received_at >= {moment(since)} GROUP BY customer_id"
    )


def recent(database, customer_ids, transaction_id, event_type, before, limit) -> str:
    where = ""
    if customer_ids is not None:
        where += f" AND customer_id IN {texts(customer_ids)}"
    if transaction_id:
        where += f" AND transaction_id = {text(transaction_id)}"
    if event_type:
        where += f" AND event_type = {text(event_type)}"
    if before is not None:
        where += f" AND (timestamp, transaction_id) < ({moment(before[0])}, {text(before[1])})"
    return (
        f"SELECT {EVENT_COLUMNS} FROM {database}.usage WHERE kind = 'event'{where} "
        f"ORDER BY timestamp DESC, transaction_id DESC LIMIT {int(limit)}"
    )


def applied_migrations(database, ledger) -> str:
    return f"SELECT version FROM {database}.{ledger} ORDER BY version"


# --- SQL billable metrics (compiled by `metering.sql_metrics.compiler.bind_clickhouse`) ----------
# Unlike the statements above, these take every value as a bound parameter: `bound(value, type)`
# registers one and returns its `{name:Type}` placeholder (clickhouse-connect and chdb bind it).

_DATETIME64 = "DateTime64(6, 'UTC')"


class Bound(dict):
    """The parameters of one statement: calling it with a value (and its ClickHouse type)
    registers the value and returns its `{pN:Type}` placeholder."""

    def __call__(self, value, kind: str = "String") -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"{{{name}:{kind}}}"


SQL_METRIC_SETTINGS = (
    # SUM, MIN and MAX over no rows are NULL, as in PostgreSQL and SQLite (COUNT stays 0).
    "aggregate_functions_null_for_empty = 1",
    "count_distinct_implementation = 'uniqExact'",
    "timeout_overflow_mode = 'throw'",
)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def property_text(properties: str, name: str) -> str:
    """A property of the event as text, as PostgreSQL's `properties ->> name` reads it: a string
    unquoted, a number or boolean as written, NULL when absent (or JSON null)."""
    kind = f"JSONType({properties}, {name})"
    return (
        f"if({kind} = 'String', toNullable(JSONExtractString({properties}, {name})), "
        f"if({kind} = 'Null', NULL, toNullable(JSONExtractRaw({properties}, {name}))))"
    )


def scoped_events(
    database, *, bound, customer_ids, starting_at, ending_before, only=None, ranges=None
) -> str:
    """The `events` a SQL metric reads: the accepted events of these customer ids in
    [starting_at, ending_before) (and, with `ranges`, only in those [start, end) ranges), event
    rows only, each unique by construction (see `metering.stores.clickhouse`): exact before and
    after merges. `only` = (property, values): a contract's usage filter."""
    first_hour = starting_at.replace(minute=0, second=0, microsecond=0)
    where = (
        f"kind = 'event' AND metric_id = '{NO_METRIC}' "
        f"AND customer_id IN {bound(sorted(customer_ids), 'Array(String)')} "
        f"AND hour >= {bound(_stamp(first_hour), _DATETIME64)} "
        f"AND hour < {bound(_stamp(ending_before), _DATETIME64)} "
        f"AND timestamp >= {bound(_stamp(starting_at), _DATETIME64)} "
        f"AND timestamp < {bound(_stamp(ending_before), _DATETIME64)}"
    )
    if ranges:
        where += " AND (" + " OR ".join(_within(bound, low, high) for low, high in ranges) + ")"
    if only is not None:
        key, values = only
        where += (
            f" AND {property_text('properties', bound(key))} "
            f"IN {bound(sorted(values), 'Array(String)')}"
        )
    return (
        f"(SELECT event_type, timestamp, transaction_id, properties FROM {database}.usage "
        f"WHERE {where})"
    )


def sql_metric_bucket(bound, hours_from: datetime | None) -> str:
    """A SQL metric's event bucket: its UTC hour, or before `hours_from` its UTC day (the
    compiler's `bind` says why)."""
    hour = "toStartOfHour(events.timestamp)"
    if hours_from is None:
        return hour
    return (
        f"if(events.timestamp >= {bound(_stamp(hours_from), _DATETIME64)}, {hour}, "
        "toStartOfDay(events.timestamp))"
    )


def _within(bound, low: datetime, high: datetime) -> str:
    """Events in [low, high), by their hour too: the sorting key holds it, so only the
    granules of those hours are read."""
    first_hour = low.replace(minute=0, second=0, microsecond=0)
    return (
        f"(hour >= {bound(_stamp(first_hour), _DATETIME64)} "
        f"AND hour < {bound(_stamp(high), _DATETIME64)} "
        f"AND timestamp >= {bound(_stamp(low), _DATETIME64)} "
        f"AND timestamp < {bound(_stamp(high), _DATETIME64)})"
    )


def hour_counts(database, *, bound, metric_id, customer_ids, starting_at, ending_before) -> str:
    """(hour as epoch seconds, events) of a metric's customer ids in the hours the window
    touches (the SQL metric cache's fingerprint)."""
    first_hour = starting_at.replace(minute=0, second=0, microsecond=0)
    return (
        f"SELECT toUInt32(hour), sum(event_count) FROM {database}.usage "
        f"WHERE kind = 'aggregate' AND metric_id = {bound(str(metric_id), 'UUID')} "
        f"AND customer_id IN {bound(sorted(customer_ids), 'Array(String)')} "
        f"AND hour >= {bound(_stamp(first_hour), _DATETIME64)} "
        f"AND hour < {bound(_stamp(ending_before), _DATETIME64)} GROUP BY hour"
    )


# SQL metrics' `/` and AVG (`metering.sql_metrics.functions`): the exact quotient rounded once, half
# even, to SQL_QUOTIENT_PLACES, made a UDF by the migration 0003_sql_metric_div.
_TEN = 10**SQL_QUOTIENT_PLACES


def _sql_metric_div() -> str:
    """The ClickHouse UDF's body: a = A / 10^30, b = B / 10^30 (Int256), so a / b = A / B;
    q0, r0 = A div B; q, r = (r0 * 10^12) div B; q0 * 10^12 + q rounded half even by r."""
    whole = "reinterpretAsInt256(toDecimal256({}, 30))"
    big_b = "toInt256('1" + "0" * 64 + "')"
    big_q = "toInt256('1" + "0" * 48 + "')"
    a = whole.format("a")
    divisor = whole.format("b")
    b = (
        f"nullIf({divisor} + throwIf(ifNull(abs({divisor}) >= {big_b}, 0), "
        "'sql_metric_div: the divisor is 10^34 or more'), 0)"
    )
    q0 = (
        f"(intDiv({a}, {b}) + throwIf(ifNull(abs(intDiv({a}, {b})) >= {big_q}, 0), "
        "'sql_metric_div: the quotient is 10^48 or more'))"
    )
    m = f"(({a} % {b}) * {_TEN})"
    q = f"({q0} * {_TEN} + intDiv({m}, {b}))"
    r = f"({m} % {b})"
    half = f"(2 * abs({r}) > abs({b}) OR (2 * abs({r}) = abs({b}) AND {q} % 2 != 0))"
    return (
        f"reinterpret({q} + if({half}, sign({a}) * sign({b}), 0), "
        f"'Decimal(76, {SQL_QUOTIENT_PLACES})')"
    )


SQL_METRIC_DIV = _sql_metric_div()
