"""A product may price by any subset of one of its metric's key sets (the quickstart): the usage
of the subset rolls up from the metric's aggregates exactly, MAX, UNIQUE and LATEST included."""

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.metering.test_aggregation import NOW, ev, ingest, usage

from .factories import BillableMetricFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _metric(aggregation: str):
    return BillableMetricFactory(
        aggregation_type=aggregation,
        aggregation_key="value",
        event_type_filter={"in_values": ["api_call"]},
        group_keys=[["region", "user"]],
    )


def _events(customer):
    """eu: alice 5 then 3 (later), bob 7; us: alice 2."""
    first = NOW - timedelta(hours=5)
    ingest(
        ev(str(customer.pk), {"region": "eu", "user": "alice", "value": "5"}, at=first),
        ev(str(customer.pk), {"region": "eu", "user": "bob", "value": "7"}, at=first),
        ev(str(customer.pk), {"region": "us", "user": "alice", "value": "2"}, at=first),
        ev(
            str(customer.pk),
            {"region": "eu", "user": "alice", "value": "3"},
            at=NOW - timedelta(hours=2),
        ),
    )


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("SUM", {("eu",): Decimal("15"), ("us",): Decimal("2")}),
        ("MAX", {("eu",): Decimal("7"), ("us",): Decimal("2")}),
        # Distinct values of `value` per region over the range: eu has 5, 7, 3.
        ("UNIQUE", {("eu",): Decimal("3"), ("us",): Decimal("1")}),
        ("LATEST", {("eu",): Decimal("3"), ("us",): Decimal("2")}),
        ("COUNT", {("eu",): Decimal("3"), ("us",): Decimal("1")}),
    ],
)
def test_a_subset_of_the_key_set_rolls_up_exactly(aggregation, expected):
    metric = _metric(aggregation)
    customer = CustomerFactory()
    _events(customer)

    assert usage(metric, customer, keys=["region"]) == expected


def test_unique_users_per_region_are_not_a_sum_of_per_user_counts():
    metric = BillableMetricFactory(
        aggregation_type="UNIQUE",
        aggregation_key="user",
        event_type_filter={"in_values": ["api_call"]},
        group_keys=[["region", "day"]],
    )
    customer = CustomerFactory()
    at = NOW - timedelta(hours=3)
    ingest(
        ev(str(customer.pk), {"region": "eu", "day": "mon", "user": "alice"}, at=at),
        ev(str(customer.pk), {"region": "eu", "day": "tue", "user": "alice"}, at=at),
        ev(str(customer.pk), {"region": "eu", "day": "tue", "user": "bob"}, at=at),
    )

    assert usage(metric, customer, keys=["region"]) == {("eu",): Decimal("2")}
