"""The ingest statement for PostgreSQL, as text (no Django import), so that the benchmark can run
the very same statement without Django to measure the ceiling.

Table names are placeholders (`{ledger}`, `{event}`, ...) filled by `metering.stores.relational
.ingest`, and so is `{late}`: a SELECT of the positions `i` of the late events among `ev` (the
late-event hook's own SQL when it has one, so that the rule costs no round trip of its own; else
`LATE_FROM_FLAGS`, the flags the hook answered in Python), and `{admit}`: a boolean SQL expression
that must hold for anything to be written (the sender's API token still valid: the admit hook's
own SQL, `metering.stores.base.admit_sql_of`; `TRUE` without one). Parameters:
`events` is a JSON array of {i: position in the batch, t: transaction id, c: customer id,
y: event type, s: timestamp, p: properties, l: is late (as the Python hook answered), f: first
occurrence in the batch}; `contributions` a JSON array of
{t: transaction id, m: metric id, h: UTC hour, g: group values JSON text, v: numeric value as text,
d: distinct value}; `metric_count`/`metric_newest` the metric-definitions signature the
contributions were computed with (nothing is written if it no longer holds). The batch's
per-hour rows (`h`) are upserted into the hourly table (`agg`), whatever their age; those of the
hours before the tier's watermark (`{watermark}`: late or backfilled events, whose day and month
rows the fold has written already) also mark their (metric, customer id, UTC day) unfolded
(`{unfolded}`, `ON CONFLICT DO NOTHING`: one row per day, no hot row), which reads and the next
fold take up (`rollups.py`); the statement writes no day or month row. A current event marks
nothing: the CTE is in the statement so that the statement holds its lock on the marker table,
which the fold takes to move the watermark.

It answers (signature held, new transaction ids, woke, admitted): `woke` is true when the batch
marked a customer with new usage (`{mark}`) while no mark existed before it (every sub-statement
sees the table as it was when the statement began), i.e. when whoever reads the marks may be idle;
`admitted` false means `{admit}` did not hold, and nothing was written.
"""

ADMIT_ALWAYS = "TRUE"

LATE_FROM_FLAGS = "SELECT i FROM ev WHERE l"

# How a pre-aggregate row `a` (hourly or rolled up) takes in the batch's row for the same key:
# counts and sums add, the maximum is kept, the latest (timestamp, transaction id) wins (a row
# comparison with a NULL is NULL, so a row without a latest event takes the batch's).
MERGE_SQL = """
    event_count = a.event_count + EXCLUDED.event_count,
    value_sum = COALESCE(a.value_sum + EXCLUDED.value_sum, a.value_sum, EXCLUDED.value_sum),
    value_max = GREATEST(a.value_max, EXCLUDED.value_max),
    latest_value = CASE WHEN ((EXCLUDED.latest_timestamp, EXCLUDED.latest_transaction_id)
        > (a.latest_timestamp, a.latest_transaction_id)) IS NOT FALSE
        THEN EXCLUDED.latest_value ELSE a.latest_value END,
    latest_transaction_id = CASE WHEN ((EXCLUDED.latest_timestamp, EXCLUDED.latest_transaction_id)
        > (a.latest_timestamp, a.latest_transaction_id)) IS NOT FALSE
        THEN EXCLUDED.latest_transaction_id ELSE a.latest_transaction_id END,
    latest_timestamp = GREATEST(a.latest_timestamp, EXCLUDED.latest_timestamp)
"""

INGEST_SQL = """
WITH sig AS (
    SELECT COUNT(*) = %(metric_count)s
           AND MAX(created_at) IS NOT DISTINCT FROM %(metric_newest)s::timestamptz AS ok
    FROM {metric}
),
adm AS (
    SELECT {admit} AS ok
),
ev AS (
    SELECT e.* FROM json_to_recordset(%(events)s::json)
        AS e(i int, t text, c text, y text, s timestamptz, p jsonb, l boolean, f boolean)
    WHERE (SELECT ok FROM sig) AND (SELECT ok FROM adm)
),
late AS (
    {late}
),
new_tx AS (
    INSERT INTO {ledger} AS led (transaction_id, received_at)
    SELECT t, %(now)s FROM ev WHERE f ORDER BY t
    ON CONFLICT (transaction_id) DO UPDATE SET received_at = EXCLUDED.received_at
        WHERE led.received_at < %(expired_before)s
    RETURNING transaction_id AS t
),
fresh AS (
    SELECT ev.* FROM ev JOIN new_tx USING (t) WHERE ev.f
),
stored AS (
    INSERT INTO {event} (id, transaction_id, customer_id, event_type, "timestamp", properties,
                         received_at, is_late)
    SELECT gen_random_uuid(), t, c, y, s, p, %(now)s, i IN (SELECT i FROM late) FROM fresh
),
dropped AS (
    INSERT INTO {duplicate} (id, transaction_id, customer_id, event_type, "timestamp",
                             properties, received_at)
    SELECT gen_random_uuid(), t, c, y, s, p, %(now)s
    FROM ev WHERE NOT f OR t NOT IN (SELECT t FROM new_tx)
),
c AS (
    SELECT f.c AS customer_id, f.s AS ts, f.t AS transaction_id, x.m AS metric_id, x.h AS hour,
           x.g AS group_values, x.v::numeric AS value, x.d AS distinct_value
    FROM json_to_recordset(%(contributions)s::json)
        AS x(t text, m uuid, h timestamptz, g text, v text, d text)
    JOIN fresh f USING (t)
),
h AS (
    SELECT metric_id, customer_id, hour, group_values, COUNT(*) AS n, SUM(value) AS s,
           MAX(value) AS x, (ARRAY_AGG(value ORDER BY ts DESC, transaction_id DESC))[1] AS lv,
           MAX(ts) AS lt, (ARRAY_AGG(transaction_id ORDER BY ts DESC, transaction_id DESC))[1] AS lx
    FROM c GROUP BY 1, 2, 3, 4
),
agg AS (
    INSERT INTO {aggregate} AS a (metric_id, customer_id, hour, group_values, event_count,
                                  value_sum, value_max, latest_value, latest_timestamp,
                                  latest_transaction_id)
    SELECT * FROM h ORDER BY 1, 2, 3, 4
    ON CONFLICT (metric_id, customer_id, hour, group_values) DO UPDATE SET @MERGE@
),
unfolded AS (
    INSERT INTO {unfolded} (metric_id, customer_id, day, month)
    SELECT DISTINCT metric_id, customer_id, date_trunc('day', hour, 'UTC'),
           date_trunc('month', hour, 'UTC')
    FROM h WHERE hour < (SELECT folded_before FROM {watermark})
    ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING
),
uniq AS (
    INSERT INTO {distinct} (metric_id, customer_id, hour, group_values, value)
    SELECT DISTINCT metric_id, customer_id, hour, group_values, distinct_value
    FROM c WHERE distinct_value IS NOT NULL
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT DO NOTHING
),
marked AS (
    INSERT INTO {mark} (customer_id, marked_at)
    SELECT c, %(now)s FROM fresh GROUP BY c ORDER BY c
    ON CONFLICT (customer_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT ok FROM sig), ARRAY(SELECT t FROM new_tx),
       EXISTS (SELECT 1 FROM marked) AND NOT EXISTS (SELECT 1 FROM {mark}), (SELECT ok FROM adm)
""".replace("@MERGE@", MERGE_SQL)
