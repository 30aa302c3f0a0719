"""The ClickHouse store's schema, owned by the code: versioned migrations applied in order by
`manage.py migrate_event_store` and recorded in `event_store_migrations` (as Snuba does for
Sentry). Each table is defined once (`Table`) and written out for one of two layouts:

- single node (`clickhouse://host/db` or `chdb:///path`): `AggregatingMergeTree` / `MergeTree`;
- cluster (`clickhouse://host/db?cluster=NAME`): the same table as `<name>_local` on every node
  with the `Replicated` engine of the same family, `ON CLUSTER`, and a `Distributed` table under the
  plain name, sharded by the table's shard key (`usage`: the customer id). Every query names the
  plain table, so both layouts run the same SQL.

The `usage` table holds three kinds of rows, written by one INSERT per ingest flush. It has no
partition key, so an INSERT is one part, committed whole or not at all: a batch's events and what
they add to the pre-aggregates are never separated.
- `event`: one accepted event (its sorting key ends with the transaction id and the time it was
  received, so no two event rows ever share a key and a merge never folds one into another);
- `aggregate`: what a batch's events added to one metric, customer id, UTC hour and group values
  (count, exact sum parts, maximum, latest), `received_at` 0; merges add rows of the same key
  together, which is the same arithmetic the reads do, so a read's answer never depends on
  whether parts merged;
- `distinct`: one distinct value of a UNIQUE metric per hour and group values (in the
  `transaction_id` column), `received_at` 0; merges fold repeated values, reads count
  `uniqExact`;
- `day`, `month` (migration 0003): the `aggregate` rows added up per UTC day and calendar month
  (`hour` holds the period's start), written by the same INSERT, folded and read the same way;
  a read takes them for what a window covers whole (`metering.stores.tiers`).
The `by_transaction` projection orders (transaction id, received at, customer id, hour) for the
dedup lookups and events search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .sql import SQL_METRIC_DIV, rollups_insert, text, usage_delete

_AGGREGATE_COLUMNS = """
    kind Enum8('event' = 1, 'aggregate' = 2, 'distinct' = 3),
    customer_id String,
    metric_id UUID,
    hour DateTime('UTC'),
    group_values String,
    transaction_id String,
    received_at DateTime64(6, 'UTC'),
    timestamp SimpleAggregateFunction(any, DateTime64(6, 'UTC')),
    event_type SimpleAggregateFunction(any, LowCardinality(String)),
    properties SimpleAggregateFunction(any, String) CODEC(ZSTD(1)),
    is_late SimpleAggregateFunction(any, Bool),
    id SimpleAggregateFunction(any, UUID),
    event_count SimpleAggregateFunction(sum, UInt64),
    sum_int SimpleAggregateFunction(sum, Int256),
    sum_frac1 SimpleAggregateFunction(sum, UInt256),
    sum_frac2 SimpleAggregateFunction(sum, UInt256),
    sum_scale SimpleAggregateFunction(max, UInt8),
    max_value SimpleAggregateFunction(max, Tuple(Int128, UInt256, UInt256, String)),
    latest SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, String))
"""

_DUPLICATE_COLUMNS = """
    transaction_id String,
    received_at DateTime64(6, 'UTC'),
    customer_id String,
    event_type String,
    timestamp DateTime64(6, 'UTC'),
    properties String CODEC(ZSTD(1)),
    id UUID
"""


@dataclass(frozen=True)
class Table:
    """One table, written out for a single node or a cluster."""

    name: str
    family: str  # "AggregatingMergeTree", "MergeTree"
    columns: str
    order_by: str
    shard_key: str
    partition_by: str = ""
    projections: tuple[str, ...] = ()
    ttl: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    def _keys(self, *, ttl: bool = True) -> str:
        """PARTITION BY, ORDER BY, TTL and SETTINGS, as the engine clause ends."""
        tail = ""
        if self.partition_by:
            tail += f"\nPARTITION BY {self.partition_by}"
        tail += f"\nORDER BY ({self.order_by})"
        if self.ttl and ttl:
            tail += f"\nTTL {self.ttl}"
        if self.settings:
            tail += "\nSETTINGS " + ", ".join(f"{k} = {v}" for k, v in self.settings.items())
        return tail

    def create(self, *, database: str, cluster: str | None) -> list[str]:
        body = self.columns.strip()
        for projection in self.projections:
            body += f",\n    {projection}"
        tail = self._keys()
        if cluster is None:
            return [
                f"CREATE TABLE IF NOT EXISTS {database}.{self.name} (\n    {body}\n)"
                f"\nENGINE = {self.family}{tail}"
            ]
        local = f"{self.name}_local"
        engine = (
            f"Replicated{self.family}('/clickhouse/tables/{{shard}}/{database}/{local}', "
            f"'{{replica}}')"
        )
        return [
            f"CREATE TABLE IF NOT EXISTS {database}.{local} ON CLUSTER {cluster} (\n    {body}\n)"
            f"\nENGINE = {engine}{tail}",
            f"CREATE TABLE IF NOT EXISTS {database}.{self.name} ON CLUSTER {cluster} "
            f"AS {database}.{local}\nENGINE = Distributed({cluster}, {database}, {local}, "
            f"{self.shard_key})",
        ]

    def alter(self, clause: str, *, database: str, cluster: str | None) -> list[str]:
        """ALTER TABLE ... `clause`: the table, or on a cluster its local tables then the
        `Distributed` one (its columns follow theirs)."""
        if cluster is None:
            return [f"ALTER TABLE {database}.{self.name} {clause}"]
        return [
            f"ALTER TABLE {database}.{self.name}_local ON CLUSTER {cluster} {clause}",
            f"ALTER TABLE {database}.{self.name} ON CLUSTER {cluster} {clause}",
        ]

    def _stored(self, database: str, cluster: str | None, name: str = "") -> str:
        """The table holding the rows (or another of that name): on a cluster each node's local
        table, the statement run on every node."""
        name = name or self.name
        return f"{database}.{name}_local ON CLUSTER {cluster}" if cluster else f"{database}.{name}"

    # A backup's snapshot (`backup.py`): a copy of the table's parts as of one instant, taken
    # while no flush runs, exported after (the copy shares the parts' files: hard links).

    def snapshot_ready(self, *, database: str, cluster: str | None) -> list[str]:
        """On a cluster, each replica fetches what the others wrote before the lock (so every
        replica's copy is the whole shard); nothing on a single node."""
        if cluster is None:
            return []
        return [f"SYSTEM SYNC REPLICA ON CLUSTER {cluster} {database}.{self.name}_local"]

    def snapshot_partitions(self, *, database: str, cluster: str | None) -> str:
        """The ids of the partitions holding active parts (on a cluster: on any node)."""
        parts = f"clusterAllReplicas({cluster}, system.parts)" if cluster else "system.parts"
        table = f"{self.name}_local" if cluster else self.name
        return (
            f"SELECT DISTINCT partition_id FROM {parts} WHERE database = {text(database)} "
            f"AND table = {text(table)} AND active"
        )

    def snapshot(
        self, *, database: str, cluster: str | None, copy: str, partitions: list[str]
    ) -> list[str]:
        """`copy` (on a cluster: on every node, beside its local table) with the table's
        structure and keys, neither replicated (a replica would share the table's replication
        path) nor expiring rows, holding the active parts of `partitions` (attached by hard
        links: no data copied)."""
        source = f"{database}.{self.name}_local" if cluster else f"{database}.{self.name}"
        return [
            f"CREATE TABLE {self._stored(database, cluster, copy)} AS {source} "
            f"ENGINE = {self.family}{self._keys(ttl=False)}"
        ] + [
            f"ALTER TABLE {self._stored(database, cluster, copy)} ATTACH PARTITION ID "
            f"{text(partition)} FROM {source}"
            for partition in partitions
        ]

    def snapshot_rows(self, *, database: str, cluster: str | None, copy: str) -> str:
        """Every row of the copy (on a cluster: of one replica per shard)."""
        if cluster:
            return f"SELECT * FROM cluster({cluster}, {database}, {copy}_local)"
        return f"SELECT * FROM {database}.{copy}"

    def snapshot_drop(self, *, database: str, cluster: str | None, copy: str) -> str:
        return f"DROP TABLE IF EXISTS {self._stored(database, cluster, copy)} SYNC"

    def truncate(self, *, database: str, cluster: str | None) -> str:
        """Every row gone (a restore's first step)."""
        return f"TRUNCATE TABLE IF EXISTS {self._stored(database, cluster)}"


USAGE = Table(
    name="usage",
    family="AggregatingMergeTree",
    columns=_AGGREGATE_COLUMNS,
    order_by="customer_id, kind, metric_id, hour, group_values, transaction_id, received_at",
    shard_key="cityHash64(customer_id)",
    projections=(
        "PROJECTION by_transaction (SELECT kind, transaction_id, received_at, customer_id, hour "
        "ORDER BY transaction_id)",
    ),
    # Merges rebuild the projection from the merged rows (only aggregate rows ever fold, and
    # the projection is read for event rows).
    settings={"deduplicate_merge_projection_mode": "'rebuild'"},
)

DUPLICATES = Table(
    name="duplicates",
    family="MergeTree",
    columns=_DUPLICATE_COLUMNS,
    partition_by="toYYYYMM(received_at)",
    order_by="transaction_id, received_at",
    shard_key="cityHash64(transaction_id)",
    # Only events search reads them, for 34 days.
    ttl="toDateTime(received_at) + INTERVAL 35 DAY",
)


@dataclass(frozen=True)
class Migration:
    version: str
    tables: tuple[Table, ...] = ()
    alters: tuple[tuple[Table, str], ...] = ()  # (table, ALTER clause)
    statements: tuple[str, ...] = ()  # extra DDL, with {database} and {on_cluster} placeholders
    # `usage` rows derived from others, (which rows, how to write them; the INSERT with a
    # {database} placeholder): deleted, then written, so a run cut off before the ledger records
    # the migration gives the same rows when run again.
    refill: tuple[str, str] | None = None

    def sql(self, *, database: str, cluster: str | None) -> list[str]:
        found = []
        for table in self.tables:
            found += table.create(database=database, cluster=cluster)
        for table, clause in self.alters:
            found += table.alter(clause, database=database, cluster=cluster)
        on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
        found += [s.format(database=database, on_cluster=on_cluster) for s in self.statements]
        if self.refill:
            where, insert = self.refill
            found += [usage_delete(database, cluster, where), insert.format(database=database)]
        return found


MIGRATIONS: tuple[Migration, ...] = (
    Migration(version="0001_usage", tables=(USAGE,)),
    Migration(version="0002_duplicates", tables=(DUPLICATES,)),
    # SQL metrics' division (a server-wide function, the same body for every database).
    Migration(
        version="0003_sql_metric_div",
        statements=(
            "CREATE OR REPLACE FUNCTION sql_metric_div{on_cluster} AS (a, b) -> " + SQL_METRIC_DIV,
        ),
    ),
    # The day and month tier (`metering.stores.tiers`): two more kinds of aggregate row, `hour`
    # their period's start, written by the same INSERT as the hourly rows; filled here from the
    # hourly rows already stored, so an upgraded store reads the same numbers (rerun-safe: the
    # day and month rows are deleted first; run it before the new code ingests).
    Migration(
        version="0004_day_month_rows",
        alters=(
            (
                USAGE,
                "MODIFY COLUMN kind Enum8('event' = 1, 'aggregate' = 2, 'distinct' = 3, "
                "'day' = 4, 'month' = 5)",
            ),
        ),
        refill=("kind IN ('day', 'month')", rollups_insert("{database}", "1")),
    ),
)

LEDGER = "event_store_migrations"


def ledger_sql(*, database: str, cluster: str | None) -> list[str]:
    """The table that records applied migrations (replicated on a cluster, so every node and
    every process agrees on what is applied)."""
    return Table(
        name=LEDGER,
        family="MergeTree",
        columns="version String, applied_at DateTime64(6, 'UTC')",
        order_by="version",
        shard_key="0",
    ).create(database=database, cluster=cluster)
