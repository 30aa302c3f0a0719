"""The numeric domain of event values (below 10^26 in magnitude, at most 100 digits after the point)
and the pre-aggregates built from them: the same on both databases, exact, and unable to overflow,
so one large value can never make later events of its hour fail."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering import selectors

from .factories import BillableMetricFactory, CustomerFactory
from .stored import aggregate_rows, store_reset, stored_count
from .test_aggregation import END, NOW, START, ev, ingest
from .test_ingest_api import assert_rejected, event, post

pytestmark = pytest.mark.django_db

LARGEST = Decimal("99999999999999999999999999")  # 26 nines: the largest integer accepted


def sums(metric):
    return aggregate_rows(metric)


def test_the_largest_value_does_not_poison_its_hour_or_its_batch(api_client):
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="num_tokens")
    hour = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    stamp = {"timestamp": hour, "event_type": "api_call"}
    first = post(
        api_client, [event(customer_id="big", properties={"num_tokens": int(LARGEST)}, **stamp)]
    )
    assert first.status_code == 200
    # The next event of the same customer, hour and group, in a batch with 99 other customers'.
    batch = [event(customer_id="big", properties={"num_tokens": 1}, **stamp)] + [
        event(customer_id=f"other-{i}", properties={"num_tokens": 2}, **stamp) for i in range(99)
    ]
    for _ in range(3):  # and once more each for good measure: every retry succeeds too
        response = post(api_client, [{**e, "transaction_id": str(uuid.uuid4())} for e in batch])
        assert response.status_code == 200, response.content
    got = sums(metric)
    assert got[("big", "{}")] == (4, LARGEST + 3, LARGEST)
    assert got[("other-7", "{}")] == (3, Decimal(6), Decimal(2))
    assert stored_count() == 301


def test_sums_past_38_digits_stay_exact():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n")
    customer = CustomerFactory()
    value = Decimal("99999999999999999999999999.0000000000000000000001")
    for _ in range(3):
        ingest(*(ev(str(customer.id), {"n": value}) for _ in range(100)))
    expected = Decimal("29999999999999999999999999700.00000000000000000003")
    assert sums(metric)[(str(customer.id), "{}")][1] == expected
    usage = selectors.metric_usage_by_group(
        metric=metric, customer=customer, starting_at=START, ending_before=END, group_keys=[]
    )
    assert usage == {(): expected}


def test_digits_past_12_places_are_kept_in_usage(api_client):
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    raw = json.dumps(
        [
            {**event(customer_id=str(customer.id)), "properties": {"tokens": "__V__"}}
            for _ in range(4)
        ]
    )
    for number in ("0.0000000000004", "0.0000000000004", "0.0000000000004", "1.0000000000004"):
        raw = raw.replace('"__V__"', number, 1)
    assert post(api_client, raw.encode()).status_code == 200
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    response = api_client.post(
        "/v1/usage",
        {
            "starting_on": (day - timedelta(days=1)).isoformat(),
            "ending_before": (day + timedelta(days=1)).isoformat(),
            "window_size": "NONE",
            "customer_ids": [str(customer.id)],
            "billable_metrics": [{"id": str(metric.id)}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert "1.0000000000016" in response.content.decode()
    assert sums(metric)[(str(customer.id), "{}")][1] == Decimal("1.0000000000016")


@pytest.mark.parametrize(
    ("number", "shown"),
    [("100000000000000000000000000", "1e26"), ("-1e26", "-1e26"), ("1e-101", "1e-101")],
)
def test_numbers_outside_the_domain_refuse_the_batch_naming_event_and_property(
    api_client, number, shown
):
    body = json.dumps([event(), event(properties={"tokens": "__V__"})]).replace('"__V__"', number)
    assert_rejected(
        api_client,
        body.encode(),
        "event 1: properties: tokens: number out of range (at most 26 digits before the point "
        "and 100 after)",
    )
    assert shown


def test_the_edges_of_the_domain_are_accepted(api_client):
    raw = json.dumps([event(properties={"a": "__A__", "b": "__B__"})])
    raw = raw.replace('"__A__"', "-99999999999999999999999999.9").replace('"__B__"', "1e-100")
    assert post(api_client, raw.encode()).status_code == 200


def test_a_numeric_string_outside_the_domain_is_not_a_number_to_sum():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n")
    customer = CustomerFactory()
    ingest(ev(str(customer.id), {"n": "1e26"}), ev(str(customer.id), {"n": "1e-101"}))
    ingest(ev(str(customer.id), {"n": "2.5"}))
    assert sums(metric)[(str(customer.id), "{}")] == (1, Decimal("2.5"), Decimal("2.5"))


_value = st.builds(
    lambda digits, exponent, negative: Decimal(
        (int(negative), tuple(int(d) for d in digits), exponent)
    ),
    st.text("0123456789", min_size=1, max_size=40),
    st.integers(min_value=-100, max_value=10),
    st.booleans(),
).filter(lambda d: abs(d) < Decimal("1e26"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(_value, min_size=1, max_size=20), min_size=1, max_size=4))
def test_pre_aggregates_equal_an_exact_recount_for_values_with_many_digits(
    django_db_blocker, batches
):
    with django_db_blocker.unblock(), transaction.atomic():
        store_reset()
        total = BillableMetricFactory(aggregation_type="SUM", aggregation_key="n")
        largest = BillableMetricFactory(aggregation_type="MAX", aggregation_key="n")
        latest = BillableMetricFactory(aggregation_type="LATEST", aggregation_key="n")
        customer = CustomerFactory()
        moments = []
        for number, batch in enumerate(batches):
            events = []
            for index, value in enumerate(batch):
                # As a string half the time: numeric strings are summed the same way.
                sent = str(value) if index % 2 else value
                moment = NOW - timedelta(minutes=50 - number, seconds=index)
                moments.append((moment, value))
                events.append(ev(str(customer.id), {"n": sent}, at=moment))
            ingest(*events)
        values = [v for batch in batches for v in batch]
        with localcontext(prec=500):
            exact = sum(values, Decimal(0))
        assert sums(total)[(str(customer.id), "{}")][:2] == (len(values), exact)
        assert sums(largest)[(str(customer.id), "{}")][2] == max(values)
        for metric, expected in (
            (total, exact),
            (largest, max(values)),
            (latest, max(moments, key=lambda pair: pair[0])[1]),
        ):
            usage = selectors.metric_usage_by_group(
                metric=metric,
                customer=customer,
                starting_at=START,
                ending_before=END,
                group_keys=[],
            )
            assert usage == {(): expected}
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    "value", ["0", "7", "-12", "99999999999999999999999999", "2.50", "-0.001", "3.000"]
)
def test_clickhouse_number_parts_read_back_digit_for_digit(value):
    from metering.stores.clickhouse.numbers import value_from_parts, value_parts

    assert str(value_from_parts(*value_parts(Decimal(value)))) == value
