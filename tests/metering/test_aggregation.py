"""Pre-aggregates and the usage selectors: every aggregation type, filters, group keys, aliases,
segments, exact Decimal values, and a recount from raw events after a mixed workload."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import IngestAlias
from metering import selectors, services

from .factories import BillableMetricFactory, CustomerFactory, IngestAliasFactory
from .stored import store_reset, stored_count, stored_events

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def ev(customer_id, properties, *, at=None, event_type="api_call", tx=None):
    return {
        "transaction_id": tx or str(uuid.uuid4()),
        "customer_id": customer_id,
        "event_type": event_type,
        "timestamp": (at or NOW - timedelta(hours=1)).isoformat(),
        "properties": properties,
    }


def ingest(*events):
    return services.usage_events_ingest(events=list(events), now=NOW)


def usage(metric, customer, keys=(), start=START, end=END):
    return selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=start,
        ending_before=end,
        group_keys=list(keys),
    )


def test_sum_by_group_is_exact():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {"tokens": Decimal("0.1"), "region": "eu"}),
        ev(cid, {"tokens": "0.2", "region": "eu"}),
        ev(cid, {"tokens": 3, "region": "us"}),
        ev(cid, {"tokens": "1e-12", "region": "us"}),
    )
    assert usage(metric, customer, ["region"]) == {
        ("eu",): Decimal("0.3"),
        ("us",): Decimal("3.000000000001"),
    }
    assert usage(metric, customer) == {(): Decimal("3.300000000001")}


def test_sum_of_large_values_keeps_every_digit():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    big = Decimal("12345678901234567890.123456789012")
    ingest(*(ev(str(customer.id), {"tokens": big, "region": "eu"}) for _ in range(3)))
    assert usage(metric, customer) == {(): Decimal("37037036703703703670.370370367036")}


def test_sum_ignores_events_without_a_numeric_value():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.id)
    result = ingest(
        ev(cid, {"tokens": "lots", "region": "eu"}),
        ev(cid, {"tokens": True, "region": "eu"}),
        ev(cid, {"region": "eu"}),
        ev(cid, {"tokens": "5", "region": "eu"}),
    )
    assert len(result.inserted) == 4
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("5")}


def test_count_honours_the_event_type_filter():
    metric = BillableMetricFactory(
        aggregation_type="COUNT", aggregation_key="", event_type_filter={"in_values": ["a", "b"]}
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {}, event_type="a"),
        ev(cid, {}, event_type="b"),
        ev(cid, {}, event_type="c"),
    )
    assert usage(metric, customer) == {(): Decimal("2")}


def test_count_with_not_in_event_types():
    metric = BillableMetricFactory(
        aggregation_type="COUNT", aggregation_key="", event_type_filter={"not_in_values": ["x"]}
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(ev(cid, {}, event_type="x"), ev(cid, {}, event_type="y"), ev(cid, {}, event_type="z"))
    assert usage(metric, customer) == {(): Decimal("2")}


def test_property_filters_all_must_pass():
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="tokens",
        property_filters=[
            {"name": "tokens", "exists": True},
            {"name": "region", "in_values": ["eu", "us"]},
            {"name": "tier", "not_in_values": ["free"]},
            {"name": "internal", "exists": False},
        ],
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {"tokens": 1, "region": "eu"}),
        ev(cid, {"tokens": 2, "region": "us", "tier": "pro"}),
        ev(cid, {"tokens": 4, "region": "ap"}),
        ev(cid, {"tokens": 8, "region": "eu", "tier": "free"}),
        ev(cid, {"tokens": 16, "region": "eu", "internal": "yes"}),
        ev(cid, {"tokens": 32}),
    )
    assert usage(metric, customer) == {(): Decimal("3")}


def test_max_by_group():
    metric = BillableMetricFactory(aggregation_type="MAX", aggregation_key="gb")
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {"gb": "1.5", "region": "eu"}, at=NOW - timedelta(days=3)),
        ev(cid, {"gb": "7.25", "region": "eu"}, at=NOW - timedelta(days=2)),
        ev(cid, {"gb": "2", "region": "eu"}),
        ev(cid, {"gb": -1, "region": "us"}),
    )
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("7.25"), ("us",): Decimal("-1")}


def test_latest_takes_the_latest_timestamp_not_the_latest_arrival():
    metric = BillableMetricFactory(aggregation_type="LATEST", aggregation_key="seats")
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(ev(cid, {"seats": 10, "region": "eu"}, at=NOW - timedelta(days=1)))
    ingest(ev(cid, {"seats": 4, "region": "eu"}, at=NOW - timedelta(days=5)))
    ingest(ev(cid, {"seats": 7, "region": "eu"}, at=NOW - timedelta(days=1, hours=2)))
    assert usage(metric, customer) == {(): Decimal("10")}
    ingest(ev(cid, {"seats": "12.5", "region": "eu"}, at=NOW - timedelta(minutes=1)))
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("12.5")}


def test_latest_ties_go_to_the_greater_transaction_id():
    metric = BillableMetricFactory(aggregation_type="LATEST", aggregation_key="seats")
    customer = CustomerFactory()
    cid = str(customer.id)
    at = NOW - timedelta(hours=3)
    ingest(ev(cid, {"seats": 2}, at=at, tx="b"), ev(cid, {"seats": 1}, at=at, tx="a"))
    ingest(ev(cid, {"seats": 3}, at=at, tx="0"))
    assert usage(metric, customer) == {(): Decimal("2")}


def test_unique_counts_distinct_values_over_the_whole_range():
    metric = BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="user")
    customer = CustomerFactory()
    cid = str(customer.id)
    for hours in (1, 2, 30, 200):
        ingest(
            ev(cid, {"user": "ann", "region": "eu"}, at=NOW - timedelta(hours=hours)),
            ev(cid, {"user": "bob", "region": "eu"}, at=NOW - timedelta(hours=hours)),
        )
    ingest(ev(cid, {"user": "ann", "region": "us"}), ev(cid, {"user": 7, "region": "us"}))
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("2"), ("us",): Decimal("2")}
    # Over both regions ann is counted once.
    assert usage(metric, customer) == {(): Decimal("3")}


def test_compound_group_keys_roll_up_to_any_key_set():
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="tokens",
        group_keys=[["model"], ["model", "user"]],
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {"tokens": 1, "model": "gpt", "user": "a"}),
        ev(cid, {"tokens": 2, "model": "gpt", "user": "b"}),
        ev(cid, {"tokens": 4, "model": "claude", "user": "a"}),
        ev(cid, {"tokens": 8, "user": "a"}),
    )
    assert usage(metric, customer, ["model"]) == {
        ("gpt",): Decimal("3"),
        ("claude",): Decimal("4"),
        (None,): Decimal("8"),
    }
    assert usage(metric, customer, ["user", "model"]) == {
        ("a", "gpt"): Decimal("1"),
        ("b", "gpt"): Decimal("2"),
        ("a", "claude"): Decimal("4"),
        ("a", None): Decimal("8"),
    }


def test_numbers_and_booleans_group_by_their_text():
    metric = BillableMetricFactory(aggregation_type="COUNT", aggregation_key="", group_keys=[["k"]])
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(ev(cid, {"k": 1}), ev(cid, {"k": "1"}), ev(cid, {"k": True}), ev(cid, {"k": "1.50"}))
    assert usage(metric, customer, ["k"]) == {
        ("1",): Decimal("2"),
        ("true",): Decimal("1"),
        ("1.50",): Decimal("1"),
    }


def test_unknown_group_key_is_refused():
    metric = BillableMetricFactory()
    with pytest.raises(ValueError, match="not a group key"):
        usage(metric, CustomerFactory(), ["colour"])


def test_ranges_must_be_on_hour_boundaries():
    metric = BillableMetricFactory()
    with pytest.raises(ValueError, match="hour boundary"):
        usage(metric, CustomerFactory(), start=START + timedelta(minutes=5))


def test_the_range_is_start_inclusive_end_exclusive():
    metric = BillableMetricFactory(aggregation_type="COUNT", aggregation_key="")
    customer = CustomerFactory()
    cid = str(customer.id)
    at = datetime(2026, 3, 19, 10, 0, tzinfo=UTC)
    ingest(ev(cid, {}, at=at), ev(cid, {}, at=at + timedelta(minutes=59, seconds=59)))
    ingest(ev(cid, {}, at=at + timedelta(hours=1)))
    assert usage(metric, customer, start=at, end=at + timedelta(hours=1)) == {(): Decimal("2")}
    assert usage(metric, customer, start=at + timedelta(hours=1), end=at + timedelta(hours=2)) == {
        (): Decimal("1")
    }


def test_segments_split_usage_at_hour_boundaries():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    unique = BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="user")
    customer = CustomerFactory()
    cid = str(customer.id)
    t0 = datetime(2026, 3, 18, 0, 0, tzinfo=UTC)
    ingest(
        ev(cid, {"tokens": 1, "user": "a", "region": "eu"}, at=t0 + timedelta(hours=1)),
        ev(cid, {"tokens": 2, "user": "a", "region": "eu"}, at=t0 + timedelta(hours=5)),
        ev(cid, {"tokens": 4, "user": "b", "region": "us"}, at=t0 + timedelta(hours=30)),
    )
    bounds = [t0, t0 + timedelta(hours=2), t0 + timedelta(days=1), t0 + timedelta(days=2)]
    assert selectors.metric_usage_by_segment(
        metric=metric, customer=customer, boundaries=bounds, group_keys=["region"]
    ) == [{("eu",): Decimal("1")}, {("eu",): Decimal("2")}, {("us",): Decimal("4")}]
    assert selectors.metric_usage_by_segment(
        metric=unique, customer=customer, boundaries=bounds, group_keys=[]
    ) == [{(): Decimal("1")}, {(): Decimal("1")}, {(): Decimal("1")}]


def test_usage_arriving_under_an_alias_before_the_alias_exists_is_attributed_later():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    ingest(ev("acme@example.com", {"tokens": 5, "region": "eu"}))
    assert usage(metric, customer) == {}
    assert [u.customer_id for u in selectors.unattributed_customer_ids(now=NOW)] == [
        "acme@example.com"
    ]
    IngestAlias.objects.create(customer=customer, alias="acme@example.com")
    assert usage(metric, customer) == {(): Decimal("5")}
    assert selectors.unattributed_customer_ids(now=NOW) == []


def test_events_by_id_and_every_alias_add_up():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    IngestAliasFactory(customer=customer, alias="a1")
    IngestAliasFactory(customer=customer, alias="a2")
    ingest(
        ev(str(customer.id), {"tokens": 1}),
        ev("a1", {"tokens": 2}),
        ev("a2", {"tokens": 4}),
        ev("someone-else", {"tokens": 8}),
    )
    assert usage(metric, customer) == {(): Decimal("7")}


def test_moving_an_alias_moves_its_usage():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    first, second = CustomerFactory(), CustomerFactory()
    alias = IngestAliasFactory(customer=first, alias="shared-id")
    ingest(ev("shared-id", {"tokens": 3}), ev(str(first.id), {"tokens": 1}))
    assert usage(metric, first) == {(): Decimal("4")}
    alias.customer = second
    alias.save()
    assert usage(metric, first) == {(): Decimal("1")}
    assert usage(metric, second) == {(): Decimal("3")}


def test_duplicates_never_reach_the_aggregates():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    first = ev(str(customer.id), {"tokens": 5})
    ingest(first, dict(first, properties={"tokens": 100}))
    ingest(dict(first, properties={"tokens": 1000}))
    assert usage(metric, customer) == {(): Decimal("5")}
    assert stored_count() == 1


def test_a_transaction_id_is_accepted_again_after_34_days():
    metric = BillableMetricFactory(aggregation_type="COUNT", aggregation_key="")
    customer = CustomerFactory()
    first = ev(str(customer.id), {}, tx="reused", at=NOW - timedelta(days=35, hours=1))
    services.usage_events_ingest(events=[first], now=NOW - timedelta(days=35))
    services.usage_events_ingest(events=[dict(first, timestamp=NOW.isoformat())], now=NOW)
    assert stored_count(transaction_id="reused") == 2
    assert usage(metric, customer, start=START - timedelta(days=31)) == {(): Decimal("2")}


def test_a_metric_created_after_its_events_measures_them_after_backfill():
    customer = CustomerFactory()
    cid = str(customer.id)
    ingest(
        ev(cid, {"tokens": "1.25", "region": "eu"}, at=NOW - timedelta(days=10)),
        ev(cid, {"tokens": "2", "region": "us"}, at=NOW - timedelta(days=2)),
        ev(cid, {"tokens": "x", "region": "us"}),
    )
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    unique = BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="region")
    assert usage(metric, customer) == {}
    lines = []
    assert services.metric_aggregates_backfill(metric=metric, progress=lines.append) == 2
    services.metric_aggregates_backfill(metric=unique)
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("1.25"), ("us",): Decimal("2")}
    assert usage(unique, customer) == {(): Decimal("2")}
    assert lines and "matched" in lines[-1]
    # Idempotent, and later events add to the backfilled rows.
    services.metric_aggregates_backfill(metric=metric)
    ingest(ev(cid, {"tokens": "3", "region": "us"}, at=NOW - timedelta(days=2)))
    assert usage(metric, customer, ["region"]) == {("eu",): Decimal("1.25"), ("us",): Decimal("5")}


def test_customer_usage_summary_lists_each_metric_with_usage():
    tokens = BillableMetricFactory(name="Tokens", aggregation_type="SUM", aggregation_key="tokens")
    BillableMetricFactory(name="Other", event_type_filter={"in_values": ["other"]})
    customer = CustomerFactory()
    ingest(ev(str(customer.id), {"tokens": 5}), ev(str(customer.id), {"tokens": 6}))
    summary = selectors.customer_usage_summary(
        customer=customer, starting_at=START, ending_before=END
    )
    assert [(u.metric, u.value) for u in summary] == [(tokens, Decimal("11"))]


# --- Recount after a mixed workload ------------------------------------------------------------

CUSTOMERS = ["c1", "c2", "c3"]
_event = st.fixed_dictionaries(
    {
        "tx": st.sampled_from([f"t{i}" for i in range(25)]),
        "customer": st.sampled_from(CUSTOMERS),
        "type": st.sampled_from(["api_call", "other"]),
        "hours_ago": st.integers(min_value=0, max_value=72),
        "tokens": st.one_of(
            st.none(),
            st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False),
            st.integers(min_value=0, max_value=10**9),
            st.sampled_from(["12.5", "abc", "0.001"]),
        ),
        "region": st.sampled_from([None, "eu", "us"]),
        "user": st.sampled_from(["u1", "u2", "u3", 4]),
    }
)


def _raw(e):
    properties = {"user": e["user"]}
    if e["tokens"] is not None:
        properties["tokens"] = e["tokens"]
    if e["region"] is not None:
        properties["region"] = e["region"]
    return ev(
        e["customer"],
        properties,
        at=NOW - timedelta(hours=e["hours_ago"], minutes=7),
        event_type=e["type"],
        tx=e["tx"],
    )


def _recount(metric, events, customer_id, region_key):
    """The metric's value per region computed straight from the accepted raw events."""
    state = {}
    for e in events:
        if e.customer_id != customer_id or e.event_type != "api_call":
            continue
        properties = e.properties
        group = (properties.get("region"),) if region_key else ()
        value = properties.get(metric.aggregation_key)
        if metric.aggregation_type == "COUNT":
            state[group] = state.get(group, Decimal(0)) + 1
            continue
        if metric.aggregation_type == "UNIQUE":
            if value is not None:
                state.setdefault(group, set()).add(str(value))
            continue
        try:
            number = Decimal(str(value)) if value is not None and value is not True else None
        except ArithmeticError:
            number = None
        if number is None:
            continue
        if metric.aggregation_type == "SUM":
            state[group] = state.get(group, Decimal(0)) + number
        elif metric.aggregation_type == "MAX":
            state[group] = max(state.get(group, number), number)
        else:
            key = (e.timestamp, e.transaction_id)
            if group not in state or key > state[group][0]:
                state[group] = (key, number)
    if metric.aggregation_type == "UNIQUE":
        return {g: Decimal(len(v)) for g, v in state.items()}
    if metric.aggregation_type == "LATEST":
        return {g: v[1] for g, v in state.items()}
    return state


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(_event, min_size=1, max_size=8), min_size=1, max_size=5))
def test_pre_aggregates_equal_a_recount_from_raw_events(django_db_blocker, batches):
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        store_reset()
        metrics = {
            kind: BillableMetricFactory(
                aggregation_type=kind,
                aggregation_key=""
                if kind == "COUNT"
                else ("user" if kind == "UNIQUE" else "tokens"),
            )
            for kind in ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")
        }
        for batch in batches:
            ingest(*(_raw(e) for e in batch))
        stored = stored_events()
        assert len(stored) == len({e["tx"] for batch in batches for e in batch})
        for customer_id in CUSTOMERS:
            for metric in metrics.values():
                for keys in ([], ["region"]):
                    got = selectors.usage_by_segment(
                        metric=metric,
                        customer_ids=[customer_id],
                        boundaries=[START, END],
                        group_keys=keys,
                    )[0]
                    assert got == _recount(metric, stored, customer_id, bool(keys)), (
                        metric.aggregation_type,
                        keys,
                    )
        transaction.set_rollback(True)


def test_backfill_command_prints_progress():
    from io import StringIO

    from django.core.management import CommandError, call_command

    customer = CustomerFactory()
    ingest(
        ev(str(customer.id), {"tokens": 2}, at=NOW - timedelta(days=2)),
        ev(str(customer.id), {"tokens": 3}),
    )
    metric = BillableMetricFactory(
        name="Late metric", aggregation_type="SUM", aggregation_key="tokens"
    )
    out = StringIO()
    call_command("backfill_metric_aggregates", str(metric.id), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Late metric: [1/3] ")
    assert lines[-1] == "Late metric: 2 events measured."
    assert usage(metric, customer) == {(): Decimal("5")}
    with pytest.raises(CommandError, match="No billable metric with id"):
        call_command("backfill_metric_aggregates", str(uuid.uuid4()), stdout=out)
    with pytest.raises(CommandError, match="not both"):
        call_command("backfill_metric_aggregates", stdout=out)


def test_backfill_task_rebuilds_one_metric():
    from metering.tasks import metric_aggregates_backfill_task

    customer = CustomerFactory()
    ingest(ev(str(customer.id), {"tokens": 7}))
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    assert metric_aggregates_backfill_task(str(metric.id)) == 1
    assert usage(metric, customer) == {(): Decimal("7")}


@pytest.mark.relational_store
def test_expiry_forgets_old_transaction_ids():
    from metering.models import IngestedTransaction

    old = ev("c", {}, tx="old", at=NOW - timedelta(days=40))
    services.usage_events_ingest(events=[old], now=NOW - timedelta(days=39))
    ingest(ev("c", {}, tx="new"))
    assert services.ingested_transactions_expire(now=NOW) == 1
    assert list(IngestedTransaction.objects.values_list("transaction_id", flat=True)) == ["new"]


def test_every_metering_factory_makes_a_row():
    from .factories import (
        DuplicateEventFactory,
        IngestedTransactionFactory,
        MetricAggregateFactory,
        MetricDistinctValueFactory,
        UsageEventFactory,
    )

    for factory in (
        UsageEventFactory,
        IngestedTransactionFactory,
        DuplicateEventFactory,
        MetricAggregateFactory,
        MetricDistinctValueFactory,
    ):
        row = factory()
        assert type(row).objects.filter(pk=row.pk).exists(), factory


def test_the_late_event_hook_marks_events_late():
    seen = []

    def finalized_before_yesterday(events):
        seen.extend(events)
        return [timestamp < NOW - timedelta(days=1) for _, timestamp in events]

    services.usage_events_ingest(
        events=[
            ev("c", {}, tx="old", at=NOW - timedelta(days=3)),
            ev("c", {}, tx="new", at=NOW - timedelta(hours=2)),
        ],
        now=NOW,
        is_late=finalized_before_yesterday,
    )
    assert {e.transaction_id: e.is_late for e in stored_events()} == {
        "old": True,
        "new": False,
    }
    assert [customer for customer, _ in seen] == ["c", "c"]


def test_equal_segments_by_day_for_every_aggregation():
    customer = CustomerFactory()
    cid = str(customer.id)
    metrics = {
        kind: BillableMetricFactory(
            aggregation_type=kind, aggregation_key="" if kind == "COUNT" else "n"
        )
        for kind in ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")
    }
    day = datetime(2026, 3, 17, tzinfo=UTC)
    ingest(
        ev(cid, {"n": 5}, at=day + timedelta(hours=1)),
        ev(cid, {"n": 2}, at=day + timedelta(hours=23, minutes=59)),
        ev(cid, {"n": 5}, at=day + timedelta(days=2, hours=3)),
    )
    bounds = [day + timedelta(days=d) for d in range(4)]
    expected = {
        "COUNT": ["2", None, "1"],
        "SUM": ["7", None, "5"],
        "MAX": ["5", None, "5"],
        "LATEST": ["2", None, "5"],
        "UNIQUE": ["2", None, "1"],
    }
    for kind, metric in metrics.items():
        got = selectors.metric_usage_by_segment(
            metric=metric, customer=customer, boundaries=bounds, group_keys=[]
        )
        assert [s.get(()) for s in got] == [
            None if v is None else Decimal(v) for v in expected[kind]
        ], kind


def test_a_usage_filter_counts_only_the_events_it_keeps():
    """A contract's usage filter (`only`): exact for every aggregation, UNIQUE included, on a key
    that is not among the requested group keys, per segment."""
    total = BillableMetricFactory(
        aggregation_type="SUM", aggregation_key="tokens", group_keys=[["region", "user"]]
    )
    unique = BillableMetricFactory(
        aggregation_type="UNIQUE", aggregation_key="user", group_keys=[["region"]]
    )
    customer = CustomerFactory()
    cid = str(customer.id)
    t0 = datetime(2026, 3, 18, 0, 0, tzinfo=UTC)
    ingest(
        ev(cid, {"tokens": 1, "user": "a", "region": "eu"}, at=t0 + timedelta(hours=1)),
        ev(cid, {"tokens": 2, "user": "b", "region": "us"}, at=t0 + timedelta(hours=1)),
        ev(cid, {"tokens": 4, "user": "a", "region": "us"}, at=t0 + timedelta(hours=30)),
        ev(cid, {"tokens": 8, "user": "c", "region": "ap"}, at=t0 + timedelta(hours=30)),
        ev(cid, {"tokens": 16, "user": "d"}, at=t0 + timedelta(hours=30)),
    )
    bounds = [t0, t0 + timedelta(days=1), t0 + timedelta(days=2)]

    def read(metric, keys, only):
        return selectors.usage_by_segment(
            metric=metric, customer_ids=[cid], boundaries=bounds, group_keys=keys, only=only
        )

    assert read(total, ["user"], ("region", ["us", "ap"])) == [
        {("b",): Decimal("2")},
        {("a",): Decimal("4"), ("c",): Decimal("8")},
    ]
    assert read(total, [], ("region", ["eu"])) == [{(): Decimal("1")}, {}]
    assert read(unique, [], ("region", ["eu", "us"])) == [{(): Decimal("2")}, {(): Decimal("1")}]
    assert read(unique, ["region"], ("region", [])) == [{}, {}]
    with pytest.raises(ValueError, match="not a group key"):
        read(total, [], ("colour", ["red"]))


def test_usage_by_customer_reads_many_customers_at_once_as_each_alone():
    acme, globex, idle = CustomerFactory(), CustomerFactory(), CustomerFactory()
    IngestAliasFactory(customer=acme, alias="acme-prod")
    metrics = {
        kind: BillableMetricFactory(
            aggregation_type=kind, aggregation_key="" if kind == "COUNT" else "n"
        )
        for kind in ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE")
    }
    ingest(
        ev(str(acme.id), {"n": 5, "region": "eu"}, at=NOW - timedelta(hours=3)),
        ev("acme-prod", {"n": 2, "region": "eu"}, at=NOW - timedelta(hours=1)),
        ev("acme-prod", {"n": 7, "region": "us"}, at=NOW - timedelta(hours=2)),
        ev(str(globex.id), {"n": 4, "region": "eu"}, at=NOW - timedelta(hours=2)),
    )
    ids = {
        "acme": [str(acme.id), "acme-prod"],
        "globex": [str(globex.id)],
        "idle": [str(idle.id)],
    }
    expected = {
        "COUNT": {"acme": "3", "globex": "1"},
        "SUM": {"acme": "14", "globex": "4"},
        "MAX": {"acme": "7", "globex": "4"},
        "LATEST": {"acme": "2", "globex": "4"},
        "UNIQUE": {"acme": "3", "globex": "1"},
    }
    for kind, metric in metrics.items():
        got = selectors.usage_by_customer(
            metric=metric, customer_ids=ids, starting_at=START, ending_before=END, group_keys=[]
        )
        assert got == {
            "acme": {(): Decimal(expected[kind]["acme"])},
            "globex": {(): Decimal(expected[kind]["globex"])},
            "idle": {},
        }, kind
        for key, own in ids.items():
            alone = selectors.usage_by_segment(
                metric=metric, customer_ids=own, boundaries=[START, END], group_keys=[]
            )[0]
            assert got[key] == alone, kind
    by_region = selectors.usage_by_customer(
        metric=metrics["SUM"],
        customer_ids=ids,
        starting_at=START,
        ending_before=END,
        group_keys=["region"],
    )
    assert by_region["acme"] == {("eu",): Decimal("7"), ("us",): Decimal("7")}


def test_usage_by_customer_is_one_grouped_read_of_the_store(monkeypatch, django_assert_num_queries):
    acme, globex = CustomerFactory(), CustomerFactory()
    IngestAliasFactory(customer=acme, alias="acme-eu")
    unique = BillableMetricFactory(
        aggregation_type="UNIQUE", aggregation_key="user", group_keys=[["region"]]
    )
    ingest(
        # user "a" arrives under the customer's id and under its alias: one distinct user
        ev(str(acme.id), {"user": "a", "region": "eu"}, at=NOW - timedelta(hours=5)),
        ev("acme-eu", {"user": "a", "region": "eu"}, at=NOW - timedelta(hours=2)),
        ev("acme-eu", {"user": "b", "region": "eu"}, at=NOW - timedelta(hours=2)),
        ev("acme-eu", {"user": "c", "region": "us"}, at=NOW - timedelta(hours=1)),
        ev(str(globex.id), {"user": "a", "region": "eu"}, at=NOW - timedelta(hours=1)),
        ev(str(globex.id), {"user": "z", "region": "eu"}, at=START - timedelta(hours=1)),
    )
    store = type(selectors.event_store())

    def one_at_a_time(*args, **kwargs):
        raise AssertionError("read one customer at a time")

    monkeypatch.setattr(store, "usage_by_segment", one_at_a_time)
    ids = {
        "acme": [str(acme.id), "acme-eu"],
        "globex": [str(globex.id)],
        "alias only": ["acme-eu"],  # an id listed under two keys counts for each
    }
    queries = 1 if selectors.event_store().name == "relational" else 0
    with django_assert_num_queries(queries):
        got = selectors.usage_by_customer(
            metric=unique,
            customer_ids=ids,
            starting_at=START,
            ending_before=END,
            group_keys=["region"],
        )
    assert got == {
        "acme": {("eu",): Decimal("2"), ("us",): Decimal("1")},
        "globex": {("eu",): Decimal("1")},
        "alias only": {("eu",): Decimal("2"), ("us",): Decimal("1")},
    }
    assert (
        selectors.usage_by_customer(
            metric=unique, customer_ids={}, starting_at=START, ending_before=END, group_keys=[]
        )
        == {}
    )


def test_usage_by_customer_keeps_each_customers_latest_and_max_apart():
    acme, globex = CustomerFactory(), CustomerFactory()
    IngestAliasFactory(customer=acme, alias="acme-us")
    latest = BillableMetricFactory(aggregation_type="LATEST", aggregation_key="n")
    high = BillableMetricFactory(aggregation_type="MAX", aggregation_key="n")
    total = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n")
    ingest(
        ev("acme-us", {"n": "9.5"}, at=NOW - timedelta(hours=4)),
        ev(str(acme.id), {"n": "1.25"}, at=NOW - timedelta(hours=2)),
        ev(str(globex.id), {"n": "30"}, at=NOW - timedelta(hours=3)),
        ev(str(globex.id), {"n": "0.001"}, at=NOW - timedelta(hours=1)),
    )
    ids = {"acme": [str(acme.id), "acme-us"], "globex": [str(globex.id)]}

    def read(metric):
        return selectors.usage_by_customer(
            metric=metric, customer_ids=ids, starting_at=START, ending_before=END, group_keys=[]
        )

    assert read(latest) == {"acme": {(): Decimal("1.25")}, "globex": {(): Decimal("0.001")}}
    assert read(high) == {"acme": {(): Decimal("9.5")}, "globex": {(): Decimal("30")}}
    assert read(total) == {"acme": {(): Decimal("10.75")}, "globex": {(): Decimal("30.001")}}
