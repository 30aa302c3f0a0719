"""SQL billable metrics: checked when made (position and reason), compiled with every user value
bound as a parameter, evaluated per customer and window, cached until an event arrives, and
read by drafts like any metric. Injection and escapes are refused or inert.

Every test here runs on both event stores: the relational one in `make test`'s first pass and
ClickHouse (chdb) in its second (`make test-chdb`), with the same expected numbers."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.sql_metric import SqlMetricError, parse_sql_metric
from metering.models import SqlMetricHour, SqlMetricResult
from metering.sql_metrics import bind, compile_sql_metric, sql_metric_rows, sql_metric_usage
from metering.sql_metrics.compiler import bind_clickhouse
from metering.stores import event_store
from tests.api.conftest import data, error
from tests.invoicing.factories import ingest
from tests.metering.stored import stored_count

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def _metric(post, sql: str) -> dict:
    return data(post("/v1/billable-metrics/create", {"name": "SQL", "sql": sql}))


def _events(customer: str) -> None:
    rows = [
        ("t1", "api_call", "2026-01-05T10:00:00Z", {"tokens": "100", "region": "eu", "user": "a"}),
        ("t2", "api_call", "2026-01-05T11:30:00Z", {"tokens": "250", "region": "us", "user": "b"}),
        ("t3", "api_call", "2026-01-06T09:00:00Z", {"tokens": "50", "region": "eu", "user": "a"}),
        ("t4", "other", "2026-01-06T09:00:00Z", {"tokens": "7", "region": "eu", "user": "c"}),
    ]
    ingest(
        [
            {
                "transaction_id": tx,
                "customer_id": customer,
                "event_type": kind,
                "timestamp": when,
                "properties": props,
            }
            for tx, kind, when, props in rows
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )


@pytest.fixture
def customer(db):
    from tests.invoicing.factories import CustomerFactory

    return CustomerFactory()


def test_a_sql_metric_is_made_and_answers_its_query(post, get):
    made = _metric(
        post,
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
        "FROM events WHERE event_type = 'api_call' GROUP BY properties.region",
    )
    got = data(get(f"/v1/billable-metrics/{made['id']}"))
    assert got["sql"].startswith("SELECT SUM")
    assert got["group_keys"] == [["region"]]
    assert "aggregation_type" not in got


def test_usage_per_group_and_the_unasked_columns_summed_away(post, customer):
    from catalog.models import BillableMetric

    made = _metric(
        post,
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
        "FROM events WHERE event_type = 'api_call' GROUP BY properties.region",
    )
    _events(str(customer.pk))
    metric = BillableMetric.objects.get(pk=made["id"])
    ids = [str(customer.pk)]
    by_region = sql_metric_usage(
        metric=metric, customer_ids=ids, starting_at=JAN, ending_before=FEB, group_keys=["region"]
    )
    assert by_region == {("eu",): Decimal("150"), ("us",): Decimal("250")}
    assert sql_metric_usage(
        metric=metric, customer_ids=ids, starting_at=JAN, ending_before=FEB, group_keys=[]
    ) == {(): Decimal("400")}
    # A window inside an hour (09:30 to 12:00) reads the events themselves.
    assert sql_metric_usage(
        metric=metric,
        customer_ids=ids,
        starting_at=datetime(2026, 1, 5, 10, 30, tzinfo=UTC),
        ending_before=datetime(2026, 1, 5, 12, tzinfo=UTC),
        group_keys=[],
    ) == {(): Decimal("250")}
    # An event exactly at the window's start is inside it (instants bound as the backend stores
    # them).
    assert sql_metric_usage(
        metric=metric,
        customer_ids=ids,
        starting_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
        ending_before=datetime(2026, 1, 5, 11, tzinfo=UTC),
        group_keys=[],
    ) == {(): Decimal("100")}
    only_eu = sql_metric_usage(
        metric=metric,
        customer_ids=ids,
        starting_at=JAN,
        ending_before=FEB,
        group_keys=[],
        only=("region", ["eu"]),
    )
    assert only_eu == {(): Decimal("150")}
    with pytest.raises(ValueError, match="user is not a column of the SQL metric"):
        sql_metric_usage(
            metric=metric, customer_ids=ids, starting_at=JAN, ending_before=FEB, group_keys=["user"]
        )


def test_distinct_counts_and_subqueries(post, customer):
    from catalog.models import BillableMetric

    _events(str(customer.pk))
    unique = BillableMetric.objects.get(
        pk=_metric(post, "SELECT COUNT(DISTINCT properties['user']) FROM events")["id"]
    )
    busiest_day = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT MAX(calls) AS value FROM (SELECT COUNT(*) AS calls, "
            "DATE_TRUNC('day', timestamp) AS day FROM events WHERE event_type = 'api_call' "
            "GROUP BY DATE_TRUNC('day', timestamp)) AS daily",
        )["id"]
    )
    ids = [str(customer.pk)]
    window = {"customer_ids": ids, "starting_at": JAN, "ending_before": FEB, "group_keys": []}
    assert sql_metric_usage(metric=unique, **window) == {(): Decimal("3")}
    assert sql_metric_usage(metric=busiest_day, **window) == {(): Decimal("2")}


def test_a_sum_is_cached_hour_by_hour_and_only_the_hours_that_gained_events_are_read(
    post, customer
):
    from catalog.models import BillableMetric

    metric = BillableMetric.objects.get(
        pk=_metric(post, "SELECT COUNT(*) AS value FROM events WHERE event_type = 'api_call'")["id"]
    )
    _events(str(customer.pk))
    window = {
        "metric": metric,
        "customer_ids": [str(customer.pk)],
        "starting_at": JAN,
        "ending_before": FEB,
    }
    assert sql_metric_rows(**window) == [[Decimal("3")]]
    hours = SqlMetricHour.objects.filter(metric=metric).order_by("hour")
    assert [(h.hour.isoformat(), h.event_count, h.rows) for h in hours] == [
        ("2026-01-05T10:00:00+00:00", 1, [["1"]]),
        ("2026-01-05T11:00:00+00:00", 1, [["1"]]),
        ("2026-01-06T09:00:00+00:00", 2, [["1"]]),
    ]
    # While no event arrives, the kept result answers (a made-up figure proves it is read).
    SqlMetricResult.objects.filter(metric=metric).update(rows=[["40"]])
    assert sql_metric_rows(**window) == [[Decimal("40")]]
    ingest(
        [
            {
                "transaction_id": "t9",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-06T09:10:00Z",
                "properties": {"tokens": "1"},
            }
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )
    # Only the hour that gained an event is read again: the kept result is corrected by it
    # (40 - 1 + 2), not computed again from every hour (which would give 4).
    assert sql_metric_rows(**window) == [[Decimal("41")]]
    assert hours.get(hour=datetime(2026, 1, 6, 9, tzinfo=UTC)).rows == [["2"]]


def test_a_query_that_is_not_hourly_is_cached_whole_until_an_event_arrives(post, customer):
    from catalog.models import BillableMetric
    from metering.sql_metrics import _parsed as parsed
    from metering.sql_metrics import hourly

    metric = BillableMetric.objects.get(
        pk=_metric(post, "SELECT COUNT(DISTINCT properties.user) AS value FROM events")["id"]
    )
    assert not hourly(parsed(metric.sql))
    _events(str(customer.pk))
    window = {
        "metric": metric,
        "customer_ids": [str(customer.pk)],
        "starting_at": JAN,
        "ending_before": FEB,
    }
    assert sql_metric_rows(**window) == [[Decimal("3")]]
    cached = SqlMetricResult.objects.get(metric=metric)
    cached.rows = [["99"]]
    cached.save()
    assert sql_metric_rows(**window) == [[Decimal("99")]]
    ingest(
        [
            {
                "transaction_id": "t9",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-06T09:10:00Z",
                "properties": {"user": "z"},
            }
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )
    assert sql_metric_rows(**window) == [[Decimal("4")]]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT COUNT(*) FROM users",
            "sql: Only the table events can be read, not users (at character 22)",
        ),
        (
            "SELECT 1; DROP TABLE metering_usageevent",
            "sql: Give exactly one SELECT statement (at character 22)",
        ),
        ("DELETE FROM events", "sql: Only a SELECT is allowed, not DELETE (at character 13)"),
        ("SELECT * FROM events", "sql: SELECT * is not allowed: name the columns (at character 8)"),
        (
            "SELECT COUNT(*) FROM events JOIN metering_usageevent u ON 1 = 1",
            "sql: JOINS is not allowed in a SQL metric (at character 8)",
        ),
        (
            "SELECT COUNT(*) FROM events WHERE customer_id = 'other'",
            "sql: Unknown column customer_id: use event_type, timestamp, transaction_id or properties.<name> (at character 35)",
        ),
        (
            "SELECT pg_sleep(60) FROM events",
            "sql: The function PG_SLEEP is not allowed (use COUNT, SUM, AVG, MIN, MAX, LEAST, GREATEST, ROUND, CEIL, FLOOR, ABS, COALESCE, LOWER, UPPER, CAST, CASE, IF, DATE_TRUNC) (at character 8)",
        ),
        (
            "WITH x AS (SELECT * FROM metering_usageevent) SELECT COUNT(*) FROM x",
            "sql: Only the table events can be read, not x (at character 68)",
        ),
        (
            "SELECT COUNT(*) FROM (SELECT * FROM metering_usageevent) AS e",
            "sql: Only the table events can be read, not metering_usageevent (at character 37)",
        ),
        (
            "SELECT COUNT(*) FROM events WHERE event_type IN (SELECT name FROM auth_user)",
            "sql: Unknown column name: use event_type, timestamp, transaction_id or properties.<name> (at character 57)",
        ),
        (
            "SELECT COUNT(*) FROM events UNION SELECT COUNT(*) FROM core_apitoken",
            "sql: Only a SELECT is allowed, not UNION (at character 8)",
        ),
        (
            "SELEC COUNT(*) FROM events",
            "sql: Not valid SQL: Invalid expression / Unexpected token (at character 12)",
        ),
        (
            "SELECT COUNT(*) AS __m0 FROM events",
            "sql: Names cannot start with two underscores (at character 20)",
        ),
        # Refused on every engine because the engines disagree on the answer.
        (
            "SELECT SUM(properties.tokens / 2) FROM events",
            "sql: Cast the property to a number to divide or average it: "
            "CAST(properties['tokens'] AS DECIMAL) (at character 23)",
        ),
        (
            "SELECT AVG(DISTINCT properties['tokens']) FROM events",
            "sql: Cast the property to a number to divide or average it: "
            "CAST(properties['tokens'] AS DECIMAL) (at character 32)",
        ),
        (
            "SELECT SUM(CAST(properties.tokens AS INT) % 7) FROM events",
            "sql: The remainder (%) is not allowed: databases compute it differently for "
            "decimals (at character 45)",
        ),
    ],
)
def test_bad_queries_are_a_400_with_position_and_reason(post, sql, message):
    assert error(post("/v1/billable-metrics/create", {"name": "x", "sql": sql}), 400) == message


def test_a_query_the_database_refuses_is_a_400(post):
    # Adding text up is refused by the engine (PostgreSQL, ClickHouse) when the metric is made.
    response = post(
        "/v1/billable-metrics/create",
        {"name": "x", "sql": "SELECT SUM(properties.tokens) AS value FROM events"},
    )
    from django.db import connection

    if event_store().name == "clickhouse":
        assert error(response, 400) == (
            "sql: The database refused the query: Illegal type String of argument for "
            "aggregate function SUM."
        )
    elif connection.vendor == "postgresql":
        assert error(response, 400).startswith("sql: The database refused the query:")
    else:  # SQLite adds text as numbers
        assert response.status_code == 200


def test_sql_excludes_the_other_definition_fields(post):
    assert (
        error(
            post(
                "/v1/billable-metrics/create",
                {"name": "x", "sql": "SELECT COUNT(*) FROM events", "aggregation_type": "COUNT"},
            ),
            400,
        )
        == "aggregation_type: A SQL metric is defined by its query alone."
    )


def test_user_text_never_reaches_the_sql_text(db):
    """Strings, property names and the scope are parameters; the SQL text holds only the
    whitelisted structure."""
    parsed = parse_sql_metric(
        "SELECT COUNT(*) AS value, properties['x'' OR 1=1 --'] AS k FROM events "
        "WHERE event_type = 'a''; DROP TABLE metering_usageevent; --' GROUP BY k"
    )
    for vendor in ("postgresql", "sqlite"):
        sql, params = bind(
            compile_sql_metric(parsed, vendor),
            vendor=vendor,
            customer_ids=["c1'; DROP TABLE x; --"],
            starting_at=JAN,
            ending_before=FEB,
        )
        assert "DROP" not in sql and "OR 1=1" not in sql and "c1'" not in sql
        assert "a'; DROP TABLE metering_usageevent; --" in params
        assert "c1'; DROP TABLE x; --" in params
    sql, params = bind_clickhouse(
        compile_sql_metric(parsed, "clickhouse"),
        database="metering",
        customer_ids=["c1'; DROP TABLE x; --"],
        starting_at=JAN,
        ending_before=FEB,
        only=("k", ["v') OR 1=1 --"]),
    )
    assert "DROP" not in sql and "OR 1=1" not in sql and "c1'" not in sql and "v')" not in sql
    assert "{p" in sql and "%s" not in sql
    assert "a'; DROP TABLE metering_usageevent; --" in params.values()
    assert "x' OR 1=1 --" in params.values()
    assert ["c1'; DROP TABLE x; --"] in params.values()
    assert ["v') OR 1=1 --"] in params.values()


def test_an_injection_attempt_runs_as_plain_data(post, customer):
    """A property name and a string built to escape their quotes only ever compare as text."""
    from catalog.models import BillableMetric

    _events(str(customer.pk))
    metric = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT COUNT(*) FROM events WHERE properties['region'' OR ''1''=''1'] = 'x' "
            "OR event_type = 'api_call''; DELETE FROM metering_usageevent; --'",
        )["id"]
    )
    window = {"customer_ids": [str(customer.pk)], "starting_at": JAN, "ending_before": FEB}
    assert sql_metric_usage(metric=metric, group_keys=[], **window) == {(): Decimal("0")}
    assert stored_count() == 4


def test_another_customers_events_are_out_of_scope(post, customer):
    from catalog.models import BillableMetric
    from tests.invoicing.factories import CustomerFactory

    other = CustomerFactory()
    _events(str(other.pk))
    metric = BillableMetric.objects.get(pk=_metric(post, "SELECT COUNT(*) FROM events")["id"])
    got = sql_metric_usage(
        metric=metric,
        customer_ids=[str(customer.pk)],
        starting_at=JAN,
        ending_before=FEB,
        group_keys=[],
    )
    assert got == {(): Decimal("0")}


def test_a_query_past_its_timeout_is_stopped(post, customer, settings, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import BillableMetric
    from metering.sql_metrics import SqlMetricTimeout

    _events(str(customer.pk))
    metric = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT COUNT(*) FROM events a WHERE properties.user IN "
            "(SELECT properties.user FROM events b WHERE properties.region IN "
            "(SELECT properties.region FROM events c))",
        )["id"]
    )
    window = {
        "metric": metric,
        "customer_ids": [str(customer.pk)],
        "starting_at": JAN,
        "ending_before": FEB,
    }
    settings.SQL_METRIC_TIMEOUT_MS = 1234
    store = event_store()
    if store.name == "clickhouse":
        # ClickHouse stops the query itself (max_execution_time, in seconds, on the query).
        sent = []
        run = store.client.rows_bound
        monkeypatch.setattr(
            store.client, "rows_bound", lambda sql, params: sent.append(sql) or run(sql, params)
        )
        sql_metric_rows(**window)
        assert next(s for s in sent if "max_execution_time" in s).endswith(
            "SETTINGS aggregate_functions_null_for_empty = 1, count_distinct_implementation = "
            "'uniqExact', timeout_overflow_mode = 'throw', max_execution_time = 1.234"
        )

        def too_long(sql, params):
            if "max_execution_time" not in sql:
                return run(sql, params)
            raise RuntimeError(
                "Code: 159. DB::Exception: Timeout exceeded: elapsed 1240.1 ms, maximum: "
                "1234 ms. (TIMEOUT_EXCEEDED)"
            )

        monkeypatch.setattr(store.client, "rows_bound", too_long)
        with pytest.raises(SqlMetricTimeout, match="longer than 1234 ms"):
            sql_metric_rows(**{**window, "ending_before": datetime(2026, 1, 20, tzinfo=UTC)})
        return
    if connection.vendor == "postgresql":
        # PostgreSQL stops the statement itself: the timeout is set for it, in its savepoint.
        with CaptureQueriesContext(connection) as queries:
            sql_metric_rows(**window)
        statements = [q["sql"] for q in queries.captured_queries]
        assert "SET LOCAL statement_timeout = '1234ms'" in statements
        return
    settings.SQL_METRIC_TIMEOUT_MS = 0  # SQLite: the progress handler stops it at once
    with pytest.raises(SqlMetricTimeout, match="longer than 0 ms"):
        sql_metric_rows(**window)


def test_the_parser_refuses_in_its_own_words():
    with pytest.raises(SqlMetricError) as refused:
        parse_sql_metric("SELECT COUNT(*) FROM events LIMIT 1")
    assert (refused.value.reason, refused.value.position) == (
        "LIMIT is not allowed in a SQL metric",
        7,
    )


def test_a_max_kept_hour_by_hour_takes_a_new_larger_value(post, customer):
    from catalog.models import BillableMetric

    metric = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT MAX(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
            "FROM events GROUP BY properties.region",
        )["id"]
    )
    _events(str(customer.pk))
    window = {
        "metric": metric,
        "customer_ids": [str(customer.pk)],
        "starting_at": JAN,
        "ending_before": FEB,
        "group_keys": ["region"],
    }
    assert sql_metric_usage(**window) == {("eu",): Decimal("100"), ("us",): Decimal("250")}
    ingest(
        [
            {
                "transaction_id": "t9",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-20T09:10:00Z",
                "properties": {"tokens": "900", "region": "eu"},
            }
        ],
        now=datetime(2026, 1, 21, tzinfo=UTC),
    )
    assert sql_metric_usage(**window) == {("eu",): Decimal("900"), ("us",): Decimal("250")}


def test_the_usage_api_reads_a_sql_metric_by_day(post, customer):
    made = _metric(
        post,
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
        "FROM events WHERE event_type = 'api_call' GROUP BY properties.region",
    )
    _events(str(customer.pk))
    response = post(
        "/v1/usage",
        {
            "starting_on": "2026-01-05T00:00:00Z",
            "ending_before": "2026-01-07T00:00:00Z",
            "window_size": "DAY",
            "customer_ids": [str(customer.pk)],
            "billable_metrics": [{"id": made["id"]}],
        },
    )
    assert response.status_code == 200, response.content
    assert [(row["start_timestamp"], row["value"]) for row in response.json()["data"]] == [
        ("2026-01-05T00:00:00Z", 350),
        ("2026-01-06T00:00:00Z", 50),
    ]


def test_a_draft_prices_a_sql_metric_and_finalization_freezes_it(post, customer):
    from datetime import timedelta

    from catalog.models import BillableMetric
    from invoicing.models import Invoice
    from invoicing.selectors import invoice_view
    from invoicing.services import invoice_finalize
    from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory

    metric = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT COUNT(DISTINCT properties.user) AS value FROM events "
            "WHERE event_type = 'api_call'",
        )["id"]
    )
    card = RateCardFactory()
    RateFactory(
        rate_card=card,
        product=ProductFactory(name="Active users", billable_metric=metric),
        price=Decimal(500),
        starting_at=JAN,
    )
    post(
        "/v1/contracts/create",
        {"customer_id": str(customer.pk), "rate_card_id": str(card.pk), "starting_at": JAN},
    )
    draft = Invoice.objects.get(customer=customer, type="USAGE", start_timestamp=JAN)
    _events(str(customer.pk))
    # Users a and b called the API in January (c sent another event type): 2 x 500.
    read = invoice_view(invoice=draft, now=datetime(2026, 1, 7, tzinfo=UTC))
    assert [(line.name, line.quantity, line.total) for line in read.lines] == [
        ("Active users", Decimal(2), Decimal(1000))
    ]
    final = invoice_finalize(invoice=draft, now=FEB + timedelta(days=2)).invoice
    # A late event of a new user in January changes nothing the invoice froze.
    ingest(
        [
            {
                "transaction_id": "late",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-20T10:00:00Z",
                "properties": {"user": "z"},
            }
        ],
        now=FEB + timedelta(days=3),
    )
    frozen = Invoice.objects.get(pk=final.pk)
    assert frozen.status == "FINALIZED"
    assert [(line.quantity, line.total) for line in frozen.line_items.all()] == [
        (Decimal(2), Decimal(1000))
    ]
    assert invoice_view(invoice=frozen, now=FEB + timedelta(days=3)).total == Decimal(1000)
    assert sql_metric_rows(
        metric=metric, customer_ids=[str(customer.pk)], starting_at=JAN, ending_before=FEB
    ) == [[Decimal(3)]]


def test_every_store_reads_values_nulls_and_days_alike(post, customer):
    """What differs by engine is made the same: a property read as text (a boolean as `true`,
    a number as written, an absent one NULL), SUM, MIN and MAX over no events NULL (COUNT 0),
    a day as `YYYY-MM-DD HH:MM:SS` in UTC."""
    from catalog.models import BillableMetric

    ingest(
        [
            {
                "transaction_id": tx,
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": when,
                "properties": props,
            }
            for tx, when, props in [
                ("f1", "2026-01-05T10:00:00Z", {"flag": True, "tokens": "1.5"}),
                ("f2", "2026-01-05T11:00:00Z", {"flag": "yes", "tokens": Decimal("2.25")}),
                ("f3", "2026-01-06T09:00:00Z", {"flag": 3, "tokens": "4"}),
                ("f4", "2026-01-06T09:30:00Z", {"tokens": "1"}),
            ]
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )

    def rows(sql: str, **window) -> list:
        metric = BillableMetric.objects.get(pk=_metric(post, sql)["id"])
        window = {"starting_at": JAN, "ending_before": FEB, **window}
        found = sql_metric_rows(metric=metric, customer_ids=[str(customer.pk)], **window)
        return sorted(found, key=str)

    assert rows(
        "SELECT COUNT(*) AS value, properties.flag AS flag FROM events GROUP BY properties.flag"
    ) == sorted(
        [["3", Decimal(1)], [None, Decimal(1)], ["true", Decimal(1)], ["yes", Decimal(1)]], key=str
    )
    assert rows(
        "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, "
        "DATE_TRUNC('day', timestamp) AS day FROM events GROUP BY DATE_TRUNC('day', timestamp)"
    ) == [["2026-01-05 00:00:00", Decimal("3.75")], ["2026-01-06 00:00:00", Decimal("5")]]
    nothing = {"starting_at": datetime(2026, 1, 20, tzinfo=UTC)}
    assert rows("SELECT SUM(CAST(properties.tokens AS DECIMAL)) FROM events", **nothing) == [[None]]
    assert rows(
        "SELECT MAX(CAST(properties.tokens AS DECIMAL)) AS value, COUNT(*) AS events FROM events",
        **nothing,
    ) == [["0", None]]
    assert rows("SELECT COUNT(properties.flag) FROM events") == [[Decimal(3)]]


def test_the_first_read_reads_the_window_once_and_keeps_its_hours(post, customer, monkeypatch):
    """A window read for the first time is read whole in one pass, grouped by hour, and its
    hours are kept in the same transaction (no task): the next read reads nothing, and after an
    ingest only the hour that gained the event."""
    from catalog.models import BillableMetric

    metric = BillableMetric.objects.get(
        pk=_metric(
            post,
            "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
            "FROM events GROUP BY properties.region",
        )["id"]
    )
    _events(str(customer.pk))
    window = {
        "metric": metric,
        "customer_ids": [str(customer.pk)],
        "starting_at": JAN,
        "ending_before": FEB,
    }
    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        reads.append((kwargs["by_hour"], kwargs.get("ranges")))
        return original(**kwargs)

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    expected = [["eu", Decimal("157")], ["us", Decimal("250")]]

    assert sorted(sql_metric_rows(**window)) == expected
    assert reads == [(True, None)]
    assert SqlMetricHour.objects.filter(metric=metric).count() == 3
    assert SqlMetricResult.objects.get(metric=metric).fingerprint == "hourly:3:4"
    assert sorted(sql_metric_rows(**window)) == expected  # kept: nothing new, nothing read
    assert len(reads) == 1
    ingest(
        [
            {
                "transaction_id": "t9",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-06T09:10:00Z",
                "properties": {"tokens": "3", "region": "us"},
            }
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )
    # Corrected by the hour that gained the event.
    assert sorted(sql_metric_rows(**window)) == [["eu", Decimal("157")], ["us", Decimal("253")]]
    hour = datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert reads[1:] == [(True, [(hour, datetime(2026, 1, 6, 10, tzinfo=UTC))])]


def test_drafts_priced_by_a_sql_metric_are_read_on_schedule(post, customer, monkeypatch):
    """`invoicing.read_sql_metric_drafts` reads the drafts a SQL metric prices (and only those),
    so a person's first read finds the period's result kept and corrects it by the last hours."""
    from catalog.models import BillableMetric
    from core.schedules import all_schedules
    from invoicing import tasks
    from invoicing.models import Invoice
    from invoicing.selectors import invoice_view
    from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory

    monkeypatch.setattr(tasks.timezone, "now", lambda: datetime(2026, 1, 7, tzinfo=UTC))
    metric = BillableMetric.objects.get(
        pk=_metric(post, "SELECT COUNT(*) AS value FROM events WHERE event_type = 'api_call'")["id"]
    )
    card = RateCardFactory()
    RateFactory(
        rate_card=card,
        product=ProductFactory(name="Calls", billable_metric=metric),
        price=Decimal(7),
        starting_at=JAN,
    )
    for rate_card in (card, RateCardFactory()):  # the second card prices no SQL metric
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "rate_card_id": str(rate_card.pk),
                "starting_at": JAN,
            },
        )
    _events(str(customer.pk))
    assert "invoicing.read_sql_metric_drafts" in {spec.name for spec in all_schedules()}
    # A period never read (nothing kept): the schedule keeps its hours.
    SqlMetricResult.objects.all().delete()
    SqlMetricHour.objects.all().delete()

    assert tasks.read_sql_metric_drafts() == 1
    kept = SqlMetricResult.objects.get(metric=metric)
    assert kept.rows == [["3"]]
    assert kept.fingerprint == "hourly:3:4"  # the hours with events (any type) and their events
    assert SqlMetricHour.objects.filter(metric=metric).count() == 3
    SqlMetricResult.objects.filter(pk=kept.pk).update(rows=[["30"]])
    draft = Invoice.objects.get(
        customer=customer, type="USAGE", start_timestamp=JAN, contract__rate_card=card
    )
    # The person's read is answered from what the schedule kept (a made-up figure proves it).
    read = invoice_view(invoice=draft, now=datetime(2026, 1, 7, tzinfo=UTC))
    assert [(line.name, line.quantity, line.total) for line in read.lines] == [
        ("Calls", Decimal(30), Decimal(210))
    ]


def test_a_contract_made_over_existing_events_has_its_hours_kept_before_a_draft_is_read(
    post, customer, monkeypatch
):
    """A contract priced by SQL metrics, made when its period already has events: its creation
    queues `invoicing.tasks.warm_sql_metric_drafts` (run inline here, as the ORM broker's worker
    would), which reads its drafts keeping their hours. A person's read then reads no whole
    period: nothing at all while nothing is new, the hour that gained an event after an ingest."""
    from django_q import tasks as q_tasks

    from catalog.models import BillableMetric
    from invoicing import tasks
    from invoicing.models import Invoice
    from invoicing.selectors import invoice_view
    from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory

    monkeypatch.setattr(tasks.timezone, "now", lambda: datetime(2026, 1, 7, tzinfo=UTC))
    queued = []
    original_async = q_tasks.async_task

    def recorded(func, *args, **kwargs):
        queued.append(func)
        return original_async(func, *args, **kwargs)

    monkeypatch.setattr(q_tasks, "async_task", recorded)
    card = RateCardFactory()
    metrics = []
    for name, sql in (
        (
            "Tokens",
            "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value, properties.region AS region "
            "FROM events WHERE event_type = 'api_call' GROUP BY properties.region",
        ),
        (
            "Daily tokens",
            "SELECT SUM(CAST(properties.tokens AS DECIMAL)) / "
            "COUNT(DISTINCT DATE_TRUNC('day', timestamp)) AS value FROM events",
        ),
    ):
        metric = BillableMetric.objects.get(pk=_metric(post, sql)["id"])
        metrics.append(metric)
        RateFactory(
            rate_card=card,
            product=ProductFactory(name=name, billable_metric=metric),
            price=Decimal(1),
            starting_at=JAN,
        )
    _events(str(customer.pk))  # the history the contract is made over
    queued.clear()
    for rate_card in (card, RateCardFactory()):  # the second card prices no SQL metric
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "rate_card_id": str(rate_card.pk),
                "starting_at": JAN,
            },
        )
    assert queued.count("invoicing.tasks.warm_sql_metric_drafts") == 1
    for metric in metrics:
        assert SqlMetricResult.objects.get(metric=metric).fingerprint == "hourly:3:4"
        assert SqlMetricHour.objects.filter(metric=metric).count() == 3

    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        reads.append((kwargs["by_hour"], kwargs.get("ranges")))
        return original(**kwargs)

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    draft = Invoice.objects.get(customer=customer, type="USAGE", contract__rate_card=card)
    now = datetime(2026, 1, 7, tzinfo=UTC)

    def lines() -> list:
        return sorted(
            (line.name, line.quantity) for line in invoice_view(invoice=draft, now=now).lines
        )

    # The calls: 100 + 250 + 50 (eu and us, the product not split by region); every event:
    # (100 + 250 + 50 + 7) over 2 days.
    assert lines() == [("Daily tokens", Decimal("203.5")), ("Tokens", Decimal("400"))]
    assert reads == []
    ingest(
        [
            {
                "transaction_id": "late",
                "customer_id": str(customer.pk),
                "event_type": "api_call",
                "timestamp": "2026-01-05T10:30:00Z",
                "properties": {"tokens": "3", "region": "us"},
            }
        ],
        now=now,
    )
    assert lines() == [("Daily tokens", Decimal("205")), ("Tokens", Decimal("403"))]
    hour = datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert reads == [(True, [(hour, datetime(2026, 1, 5, 11, tzinfo=UTC))])] * 2
    assert queued.count("metering.tasks.sql_metric_hours_keep_task") == 0


# --- Division and AVG: the exact quotient rounded once, half even, to 12 places, on every engine


def _ingest(customer: str, rows) -> None:
    ingest(
        [
            {
                "transaction_id": f"{customer}-{index}",
                "customer_id": customer,
                "event_type": "storage",
                "timestamp": when,
                "properties": props,
            }
            for index, (when, props) in enumerate(rows)
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )


def _value(post, customer, sql: str, **window) -> list:
    from catalog.models import BillableMetric

    metric = BillableMetric.objects.get(pk=_metric(post, sql)["id"])
    window = {"starting_at": JAN, "ending_before": FEB, **window}
    return sorted(
        sql_metric_rows(metric=metric, customer_ids=[str(customer.pk)], **window), key=str
    )


DAILY_AVERAGE = (
    "SELECT SUM(CAST(properties['gb'] AS DECIMAL)) / COUNT(DISTINCT DATE_TRUNC('day', timestamp)) "
    "AS value FROM events"
)


def test_a_daily_average_is_the_exact_quotient_and_stays_so_after_an_ingest(post, customer):
    from catalog.models import BillableMetric
    from metering.sql_metrics import _parsed as parsed
    from metering.sql_metrics import hourly
    from tests.invoicing.factories import CustomerFactory

    # 10 GB over 4 days (two events on Jan 2, in two hours).
    _ingest(
        str(customer.pk),
        [
            ("2026-01-01T10:00:00Z", {"gb": "1"}),
            ("2026-01-02T10:00:00Z", {"gb": "1"}),
            ("2026-01-02T11:00:00Z", {"gb": "1"}),
            ("2026-01-03T10:00:00Z", {"gb": "3"}),
            ("2026-01-04T10:00:00Z", {"gb": "4"}),
        ],
    )
    metric = BillableMetric.objects.get(pk=_metric(post, DAILY_AVERAGE)["id"])
    # A quotient is not the sum of its hours' quotients: not hourly, its parts are kept per hour
    # instead (tests/metering/test_sql_metric_quotients.py).
    assert not hourly(parsed(metric.sql))
    window = {"metric": metric, "starting_at": JAN, "ending_before": FEB}
    ids = [str(customer.pk)]
    assert sql_metric_rows(customer_ids=ids, **window) == [[Decimal("2.5")]]
    # 10 GB over 3 days.
    other = CustomerFactory()
    _ingest(
        str(other.pk),
        [
            ("2026-01-01T10:00:00Z", {"gb": "2"}),
            ("2026-01-02T10:00:00Z", {"gb": "3"}),
            ("2026-01-03T10:00:00Z", {"gb": "5"}),
        ],
    )
    assert sql_metric_rows(customer_ids=[str(other.pk)], **window) == [[Decimal("3.333333333333")]]
    # Another event (a new hour of Jan 4): 12 GB over 4 days (the sum of the hours' quotients
    # would be 12, and the kept result corrected by the new hour 4.5).
    ingest(
        [
            {
                "transaction_id": "more",
                "customer_id": str(customer.pk),
                "event_type": "storage",
                "timestamp": "2026-01-04T15:00:00Z",
                "properties": {"gb": "2"},
            }
        ],
        now=datetime(2026, 1, 7, tzinfo=UTC),
    )
    assert sql_metric_rows(customer_ids=ids, **window) == [[Decimal("3")]]
    # The same average through a subquery of daily sums.
    assert _value(
        post,
        customer,
        "SELECT AVG(daily) AS value FROM (SELECT SUM(CAST(properties.gb AS DECIMAL)) AS daily "
        "FROM events GROUP BY DATE_TRUNC('day', timestamp)) AS days",
    ) == [[Decimal("3")]]


def test_avg_is_the_exact_sum_over_the_count_of_values(post, customer):
    _ingest(
        str(customer.pk),
        [
            ("2026-01-01T10:00:00Z", {"gb": "1", "kind": "a"}),
            ("2026-01-01T11:00:00Z", {"gb": "1", "kind": "a"}),
            ("2026-01-02T10:00:00Z", {"gb": "2", "kind": "a"}),
            ("2026-01-02T12:00:00Z", {"kind": "a"}),  # no value: not counted
            ("2026-01-03T10:00:00Z", {"gb": "-2.5", "kind": "b"}),
            ("2026-01-03T11:00:00Z", {"gb": "-0.5", "kind": "b"}),
            ("2026-01-03T12:00:00Z", {"gb": "-0.5", "kind": "b"}),
        ],
    )
    assert _value(
        post,
        customer,
        "SELECT AVG(CAST(properties.gb AS DECIMAL)) AS value, properties.kind AS kind FROM events "
        "GROUP BY properties.kind",
    ) == [["a", Decimal("1.333333333333")], ["b", Decimal("-1.166666666667")]]
    assert _value(
        post, customer, "SELECT AVG(DISTINCT CAST(properties.gb AS DECIMAL)) AS value FROM events"
    ) == [[Decimal("0")]]
    # Over no values the average is NULL, as SUM is.
    assert _value(
        post,
        customer,
        "SELECT AVG(CAST(properties.gb AS DECIMAL)) FROM events",
        starting_at=datetime(2026, 1, 20, tzinfo=UTC),
    ) == [[None]]


def test_an_integer_divided_by_an_integer_keeps_its_fraction(post, customer):
    _ingest(str(customer.pk), [(f"2026-01-01T1{n}:00:00Z", {"n": "7"}) for n in range(7)])
    assert _value(post, customer, "SELECT COUNT(*) / 2 AS value FROM events") == [[Decimal("3.5")]]
    assert _value(
        post, customer, "SELECT MAX(CAST(properties.n AS INT)) / 2 AS value FROM events"
    ) == [[Decimal("3.5")]]
    # A per-event quotient summed (hour by hour, it is additive): 7 x (7 / 3 = 2.333333333333).
    assert _value(
        post, customer, "SELECT SUM(CAST(properties.n AS INT) / 3) AS value FROM events"
    ) == [[Decimal("16.333333333331")]]
    # A literal fraction is exact on every engine (ClickHouse would read 0.1 as a Float64).
    assert _value(
        post, customer, "SELECT SUM(CAST(properties.n AS DECIMAL)) * 0.1 / 3 AS value FROM events"
    ) == [[Decimal("1.633333333333")]]
    assert _value(
        post, customer, "SELECT SUM(CAST(properties.n AS DECIMAL)) * 1e1 / 4 AS value FROM events"
    ) == [[Decimal("122.5")]]


def test_a_group_key_holding_a_quotient_reads_alike_on_every_engine(post, customer):
    _ingest(
        str(customer.pk),
        [(f"2026-01-01T1{index}:00:00Z", {"n": n}) for index, n in enumerate("1233")],
    )
    assert _value(
        post,
        customer,
        "SELECT COUNT(*) AS value, CAST(properties.n AS INT) / 2 AS half FROM events GROUP BY half",
    ) == [
        ["0.500000000000", Decimal(1)],
        ["1.000000000000", Decimal(1)],
        ["1.500000000000", Decimal(2)],
    ]


def test_division_by_zero_is_null_and_no_usage(post, customer):
    from catalog.models import BillableMetric

    _ingest(
        str(customer.pk),
        [
            ("2026-01-01T10:00:00Z", {"gb": "5", "zero": "0", "region": "eu"}),
            ("2026-01-01T11:00:00Z", {"gb": "6", "zero": "2", "region": "us"}),
        ],
    )
    sql = (
        "SELECT SUM(CAST(properties.gb AS DECIMAL)) / SUM(CAST(properties.zero AS DECIMAL)) "
        "AS value, properties.region AS region FROM events GROUP BY properties.region"
    )
    assert _value(post, customer, sql) == [["eu", None], ["us", Decimal("3")]]
    metric = BillableMetric.objects.get(sql=sql)
    assert sql_metric_usage(
        metric=metric,
        customer_ids=[str(customer.pk)],
        starting_at=JAN,
        ending_before=FEB,
        group_keys=["region"],
    ) == {("us",): Decimal("3")}


def test_quotients_keep_12_places_rounded_half_even(post, customer):
    _ingest(
        str(customer.pk),
        [
            ("2026-01-01T10:00:00Z", {"n": "1", "case": "1"}),
            ("2026-01-01T11:00:00Z", {"n": "3", "case": "3"}),
            ("2026-01-01T12:00:00Z", {"n": "-3", "case": "-3"}),
            ("2026-01-01T13:00:00Z", {"n": "5", "case": "5"}),
            ("2026-01-01T14:00:00Z", {"n": "100000000000000000000", "case": "huge"}),
        ],
    )
    by_case = dict(
        _value(
            post,
            customer,
            "SELECT SUM(CAST(properties.n AS DECIMAL)) / 2000000000000 AS value, "
            "properties.case AS c FROM events WHERE properties.case <> 'huge' "
            "GROUP BY properties.case",
        )
    )
    # Ties at the 13th place go to the even 12th: 0.0000000000005 -> 0, 0.0000000000015 -> 2,
    # -0.0000000000015 -> -2, 0.0000000000025 -> 2 (half up would give 3).
    assert by_case == {
        "1": Decimal("0"),
        "3": Decimal("0.000000000002"),
        "-3": Decimal("-0.000000000002"),
        "5": Decimal("0.000000000002"),
    }
    assert _value(
        post,
        customer,
        "SELECT SUM(CAST(properties.n AS DECIMAL)) / 3 AS value FROM events "
        "WHERE properties.case = 'huge'",
    ) == [[Decimal("33333333333333333333.333333333333")]]
    assert _value(
        post,
        customer,
        "SELECT SUM(CAST(properties.n AS DECIMAL)) / -3 AS value FROM events "
        "WHERE properties.case = '1'",
    ) == [[Decimal("-0.333333333333")]]


def test_a_quotient_compares_as_a_number(post, customer):
    _events(str(customer.pk))
    # eu: (100 + 50 + 7) / 3 = 52.333333333333; us: 250.
    assert _value(
        post,
        customer,
        "SELECT COUNT(*) AS value, properties.region AS region FROM events "
        "GROUP BY properties.region HAVING AVG(CAST(properties.tokens AS DECIMAL)) > 100",
    ) == [["us", Decimal("1")]]
    assert _value(
        post,
        customer,
        "SELECT COUNT(*) AS value FROM events "
        "WHERE CAST(properties.tokens AS DECIMAL) / 3 BETWEEN 16.6 AND 33.4",
    ) == [[Decimal("2")]]  # 100 / 3 and 50 / 3 (not 250 / 3, not 7 / 3)


def test_a_draft_prices_a_daily_average_once_rounded(post, customer):
    from catalog.models import BillableMetric
    from invoicing.models import Invoice
    from invoicing.selectors import invoice_view
    from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory

    metric = BillableMetric.objects.get(pk=_metric(post, DAILY_AVERAGE)["id"])
    card = RateCardFactory()
    RateFactory(
        rate_card=card,
        product=ProductFactory(name="Average storage", billable_metric=metric),
        price=Decimal("300.3"),
        starting_at=JAN,
    )
    post(
        "/v1/contracts/create",
        {"customer_id": str(customer.pk), "rate_card_id": str(card.pk), "starting_at": JAN},
    )
    _ingest(
        str(customer.pk),
        [
            ("2026-01-01T10:00:00Z", {"gb": "2"}),
            ("2026-01-02T10:00:00Z", {"gb": "3"}),
            ("2026-01-03T10:00:00Z", {"gb": "5"}),
        ],
    )
    draft = Invoice.objects.get(customer=customer, type="USAGE", start_timestamp=JAN)
    read = invoice_view(invoice=draft, now=datetime(2026, 1, 7, tzinfo=UTC))
    # 3.333333333333 x 300.3 = 1000.9999999998999 -> 1001 cents, rounded once per line.
    assert [(line.name, line.quantity, line.total) for line in read.lines] == [
        ("Average storage", Decimal("3.333333333333"), Decimal(1001))
    ]
    assert read.total == Decimal(1001)
