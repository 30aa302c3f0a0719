"""Running totals (`metering.selectors.usage_running`): usage so far at the end of each window,
for every aggregation, equal to reading each range [start, end of window) on its own."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from metering import selectors, services

from .factories import BillableMetricFactory, CustomerFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 6, tzinfo=UTC)
DAYS = [START + timedelta(days=n) for n in range(6)]


def ev(cid, day, hour, **properties):
    return {
        "transaction_id": str(uuid.uuid4()),
        "customer_id": cid,
        "event_type": "api_call",
        "timestamp": (START + timedelta(days=day, hours=hour)).isoformat(),
        "properties": properties,
    }


def running(metric, customer, keys=()):
    return selectors.usage_running(
        metric=metric, customer_ids=[str(customer.pk)], boundaries=DAYS, group_keys=list(keys)
    )


def test_sum_adds_up_day_by_day():
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="tokens")
    customer = CustomerFactory()
    cid = str(customer.pk)
    services.usage_events_ingest(
        events=[
            ev(cid, 0, 1, tokens="1.5", region="eu"),
            ev(cid, 2, 5, tokens=2, region="eu"),
            ev(cid, 2, 6, tokens=4, region="us"),
        ],
        now=NOW,
    )

    assert running(metric, customer, ["region"]) == [
        {("eu",): Decimal("1.5")},
        {("eu",): Decimal("1.5")},
        {("eu",): Decimal("3.5"), ("us",): Decimal(4)},
        {("eu",): Decimal("3.5"), ("us",): Decimal(4)},
        {("eu",): Decimal("3.5"), ("us",): Decimal(4)},
    ]


def test_unique_counts_a_value_seen_on_several_days_once():
    metric = BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="user")
    customer = CustomerFactory()
    cid = str(customer.pk)
    services.usage_events_ingest(
        events=[
            ev(cid, 0, 1, user="ann", region="eu"),
            ev(cid, 1, 1, user="ann", region="eu"),
            ev(cid, 1, 2, user="bob", region="eu"),
            ev(cid, 3, 2, user="ann", region="us"),
            ev(cid, 4, 2, user="cy", region="us"),
        ],
        now=NOW,
    )

    assert [day.get(()) for day in running(metric, customer)] == [
        Decimal(1),
        Decimal(2),
        Decimal(2),
        Decimal(2),
        Decimal(3),
    ]
    by_region = running(metric, customer, ["region"])
    assert by_region[-1] == {("eu",): Decimal(2), ("us",): Decimal(2)}
    assert by_region[3] == {("eu",): Decimal(2), ("us",): Decimal(1)}


def test_max_keeps_the_largest_and_latest_the_last_value():
    customer = CustomerFactory()
    cid = str(customer.pk)
    largest = BillableMetricFactory(aggregation_type="MAX", aggregation_key="gb")
    latest = BillableMetricFactory(aggregation_type="LATEST", aggregation_key="gb")
    services.usage_events_ingest(
        events=[ev(cid, 0, 1, gb=5), ev(cid, 1, 1, gb=9), ev(cid, 3, 1, gb=2)], now=NOW
    )

    assert [d[()] for d in running(largest, customer)] == [5, 9, 9, 9, 9]
    assert [d[()] for d in running(latest, customer)] == [5, 9, 9, 2, 2]


@pytest.mark.parametrize("kind", ["COUNT", "SUM", "MAX", "LATEST", "UNIQUE"])
def test_each_running_total_equals_reading_its_range(kind):
    key = {"COUNT": "", "UNIQUE": "user"}.get(kind, "tokens")
    metric = BillableMetricFactory(aggregation_type=kind, aggregation_key=key)
    customer = CustomerFactory()
    cid = str(customer.pk)
    events = [
        ev(cid, day, hour, tokens=(day * 7 + hour) % 5, user=f"u{(day + hour) % 4}", region=r)
        for day in range(5)
        for hour, r in ((1, "eu"), (9, "us"), (17, "eu"))
        if (day + hour) % 3
    ]
    services.usage_events_ingest(events=events, now=NOW)

    for keys in ([], ["region"]):
        found = running(metric, customer, keys)
        for index, end in enumerate(DAYS[1:]):
            expected = selectors.usage_by_segment(
                metric=metric, customer_ids=[cid], boundaries=[START, end], group_keys=keys
            )[0]
            assert found[index] == expected, (kind, keys, index)
