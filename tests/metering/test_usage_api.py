"""POST /v1/usage, /v1/usage/groups and /v1/events/search: Metronome's shapes and error paths."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from metering import services

from .factories import BillableMetricFactory, CustomerFactory, IngestAliasFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DAY1 = TODAY - timedelta(days=3)  # events land on DAY1 and DAY1 + 1 day


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def world():
    metric = BillableMetricFactory(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        group_keys=[["region"], ["region", "model"]],
    )
    customer = CustomerFactory(name="Acme")
    IngestAliasFactory(customer=customer, alias="acme@example.com")
    events = [
        (
            "acme@example.com",
            DAY1 + timedelta(hours=1),
            {"tokens": "1.5", "region": "eu", "model": "a"},
        ),
        (str(customer.id), DAY1 + timedelta(hours=2), {"tokens": 2, "region": "eu", "model": "b"}),
        (
            "acme@example.com",
            DAY1 + timedelta(days=1, hours=3),
            {"tokens": 4, "region": "us", "model": "a"},
        ),
    ]
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": f"tx-{i}",
                "customer_id": cid,
                "event_type": "api_call",
                "timestamp": z(at),
                "properties": properties,
            }
            for i, (cid, at, properties) in enumerate(events)
        ],
        now=timezone.now(),
    )
    return metric, customer


def post(client, path, body, **query):
    suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
    return client.post(path + suffix, body, format="json")


def test_usage_list_day_windows(api_client, world):
    metric, customer = world
    response = post(
        api_client,
        "/v1/usage",
        {
            "starting_on": z(DAY1),
            "ending_before": z(DAY1 + timedelta(days=3)),
            "window_size": "day",
            "customer_ids": [str(customer.id)],
            "billable_metrics": [{"id": str(metric.id)}],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_page"] is None
    assert [(r["start_timestamp"], r["value"]) for r in body["data"]] == [
        (z(DAY1), 3.5),
        (z(DAY1 + timedelta(days=1)), 4),
        (z(DAY1 + timedelta(days=2)), None),
    ]
    assert body["data"][0] == {
        "customer_id": str(customer.id),
        "billable_metric_id": str(metric.id),
        "billable_metric_name": "Tokens",
        "start_timestamp": z(DAY1),
        "end_timestamp": z(DAY1 + timedelta(days=1)),
        "value": 3.5,
        "groups": None,
    }


def test_usage_list_with_group_by_and_values(api_client, world):
    metric, customer = world
    response = post(
        api_client,
        "/v1/usage",
        {
            "starting_on": z(DAY1),
            "ending_before": z(DAY1 + timedelta(days=2)),
            "window_size": "NONE",
            "customer_ids": [str(customer.id)],
            "billable_metrics": [
                {"id": str(metric.id), "group_by": {"key": "region", "values": ["eu", "ap"]}}
            ],
        },
    )
    assert response.status_code == 200
    [row] = response.json()["data"]
    assert row["value"] == 7.5
    assert row["groups"] == {"eu": 3.5, "ap": None}


def test_usage_list_pages_with_next_page(api_client, world):
    metric, customer = world
    body = {
        "starting_on": z(DAY1),
        "ending_before": z(DAY1 + timedelta(days=2)),
        "window_size": "HOUR",
        "customer_ids": [str(customer.id)],
        "billable_metrics": [{"id": str(metric.id)}],
    }
    first = post(api_client, "/v1/usage", body, limit=20).json()
    assert len(first["data"]) == 20
    second = post(api_client, "/v1/usage", body, limit=20, next_page=first["next_page"]).json()
    third = post(api_client, "/v1/usage", body, limit=20, next_page=second["next_page"]).json()
    rows = first["data"] + second["data"] + third["data"]
    assert third["next_page"] is None
    assert len(rows) == 48
    assert sum(Decimal(str(r["value"])) for r in rows if r["value"] is not None) == Decimal("7.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"starting_on": None}, "starting_on: This field is required."),
        ({"window_size": "WEEK"}, "window_size: Must be HOUR, DAY or NONE."),
        (
            {"starting_on": "2026-01-01T05:00:00Z"},
            "starting_on: Must be on UTC midnight, e.g. 2024-01-01T00:00:00Z.",
        ),
        ({"ending_before": "soon"}, "ending_before: 'soon' is not an RFC 3339 timestamp."),
        (
            {"starting_on": "2026-01-02T00:00:00Z", "ending_before": "2026-01-02T00:00:00Z"},
            "ending_before: Must be at least one day after starting_on.",
        ),
        ({"customer_ids": "x"}, "customer_ids: Must be a list of strings."),
        (
            {"billable_metrics": [{"id": "nope"}]},
            "billable_metrics[0].id: 'nope' is not a valid UUID.",
        ),
    ],
)
def test_usage_list_bad_input(api_client, world, change, message):
    body = {
        "starting_on": z(DAY1),
        "ending_before": z(DAY1 + timedelta(days=1)),
        "window_size": "DAY",
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = post(api_client, "/v1/usage", body)
    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_usage_list_unknown_group_key_is_a_400(api_client, world):
    metric, _ = world
    response = post(
        api_client,
        "/v1/usage",
        {
            "starting_on": z(DAY1),
            "ending_before": z(DAY1 + timedelta(days=1)),
            "window_size": "DAY",
            "billable_metrics": [{"id": str(metric.id), "group_by": {"key": "colour"}}],
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "billable_metrics[0].group_by.key: 'colour' is not a group key of Tokens."
    }


def test_usage_list_unknown_customer_is_a_404(api_client, world):
    response = post(
        api_client,
        "/v1/usage",
        {
            "starting_on": z(DAY1),
            "ending_before": z(DAY1 + timedelta(days=1)),
            "window_size": "DAY",
            "customer_ids": [str(uuid.uuid4())],
        },
    )
    assert response.status_code == 404
    assert response.json()["message"].startswith("Customer")


def _groups_body(metric, customer, **extra):
    body = {
        "billable_metric_id": str(metric.id),
        "customer_id": str(customer.id),
        "window_size": "NONE",
        "starting_on": z(DAY1),
        "ending_before": z(DAY1 + timedelta(days=2)),
    }
    body.update(extra)
    return body


def test_usage_groups_single_key(api_client, world):
    metric, customer = world
    response = post(
        api_client, "/v1/usage/groups", _groups_body(metric, customer, group_key=["region"])
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "data": [
            {
                "starting_on": z(DAY1),
                "ending_before": z(DAY1 + timedelta(days=2)),
                "value": 3.5,
                "group_key": "region",
                "group_value": "eu",
                "group": {"region": "eu"},
            },
            {
                "starting_on": z(DAY1),
                "ending_before": z(DAY1 + timedelta(days=2)),
                "value": 4,
                "group_key": "region",
                "group_value": "us",
                "group": {"region": "us"},
            },
        ],
        "next_page": None,
    }


def test_usage_groups_compound_key_with_filters_and_day_windows(api_client, world):
    metric, customer = world
    response = post(
        api_client,
        "/v1/usage/groups",
        _groups_body(
            metric,
            customer,
            window_size="day",
            group_key=["model", "region"],
            group_filters={"model": ["a"]},
        ),
    )
    assert response.status_code == 200
    assert [
        (r["starting_on"], r["group"], r["value"], r["group_key"]) for r in response.json()["data"]
    ] == [
        (z(DAY1), {"model": "a", "region": "eu"}, 1.5, None),
        (z(DAY1 + timedelta(days=1)), {"model": "a", "region": "us"}, 4, None),
    ]


def test_usage_groups_legacy_group_by(api_client, world):
    metric, customer = world
    response = post(
        api_client,
        "/v1/usage/groups",
        _groups_body(metric, customer, group_by={"key": "region", "values": ["us"]}),
    )
    assert [(r["group_value"], r["value"]) for r in response.json()["data"]] == [("us", 4)]


def test_usage_groups_limit_and_next_page(api_client, world):
    metric, customer = world
    body = _groups_body(metric, customer, group_key=["region"])
    first = post(api_client, "/v1/usage/groups", body, limit=1).json()
    assert [r["group_value"] for r in first["data"]] == ["eu"]
    second = post(
        api_client, "/v1/usage/groups", body, limit=1, next_page=first["next_page"]
    ).json()
    assert [r["group_value"] for r in second["data"]] == ["us"]
    assert second["next_page"] is None


def test_usage_groups_without_a_key_is_ungrouped(api_client, world):
    metric, customer = world
    data = post(api_client, "/v1/usage/groups", _groups_body(metric, customer)).json()["data"]
    assert [(r["value"], r["group"], r["group_key"]) for r in data] == [(7.5, None, None)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"group_key": ["model"]},
            "group_key: Must be one of the metric's group key sets: [region]; [region, model].",
        ),
        (
            {"group_key": ["region"], "group_filters": {"model": ["a"]}},
            "group_filters: 'model' is not in group_key.",
        ),
        (
            {"group_key": ["region"], "group_by": {"key": "region"}},
            "group_by: Use group_key or group_by, not both.",
        ),
        (
            {"current_period": True},
            "current_period: Give either current_period or starting_on and ending_before, not both.",
        ),
        ({"window_size": None}, "window_size: This field is required."),
        ({"customer_id": "x"}, "customer_id: 'x' is not a valid UUID."),
    ],
)
def test_usage_groups_bad_input(api_client, world, extra, message):
    metric, customer = world
    body = {k: v for k, v in _groups_body(metric, customer, **extra).items() if v is not None}
    response = post(api_client, "/v1/usage/groups", body)
    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_usage_groups_unknown_metric_is_a_404(api_client, world):
    _, customer = world
    response = post(
        api_client,
        "/v1/usage/groups",
        {
            **_groups_body(BillableMetricFactory.build(), customer),
            "billable_metric_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 404
    assert response.json()["message"].startswith("Billable metric")


def test_usage_groups_current_period_needs_an_active_contract(api_client, world):
    metric, customer = world
    body = _groups_body(metric, customer, current_period=True)
    del body["starting_on"], body["ending_before"]
    response = post(api_client, "/v1/usage/groups", body)
    assert response.status_code == 400
    assert response.json() == {"message": "current_period: The customer has no active contract."}


def test_events_search_shows_customer_metrics_and_duplicates(api_client, world):
    metric, customer = world
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": "tx-0",
                "customer_id": "acme@example.com",
                "event_type": "api_call",
                "timestamp": z(DAY1),
                "properties": {"tokens": "99"},
            }
        ],
        now=timezone.now(),
    )
    response = post(api_client, "/v1/events/search", {"transactionIds": ["tx-0", "tx-2", "nope"]})
    assert response.status_code == 200
    found = response.json()
    assert [(e["transaction_id"], e["is_duplicate"]) for e in found] == [
        ("tx-0", False),
        ("tx-2", False),
        ("tx-0", True),
    ]
    original = found[0]
    assert original["customer_id"] == "acme@example.com"
    assert original["matched_customer"] == {"id": str(customer.id), "name": "Acme"}
    assert [m["id"] for m in original["matched_billable_metrics"]] == [str(metric.id)]
    assert original["properties"] == {"tokens": "1.5", "region": "eu", "model": "a"}
    assert found[2]["properties"] == {"tokens": "99"}


def test_events_search_needs_transaction_ids(api_client, db):
    response = post(api_client, "/v1/events/search", {})
    assert response.status_code == 400
    assert response.json() == {"message": "transactionIds: This field is required."}


def test_events_search_unattributed_event_has_no_customer(api_client, db):
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": "lonely",
                "customer_id": "who@example.com",
                "event_type": "x",
                "timestamp": z(DAY1),
            }
        ],
        now=timezone.now(),
    )
    [event] = post(api_client, "/v1/events/search", {"transaction_ids": ["lonely"]}).json()
    assert event["matched_customer"] is None
    assert event["matched_billable_metrics"] == []


def _the_15th(moment: datetime, months: int = 0) -> datetime:
    index = moment.month - 1 + months
    return datetime(moment.year + index // 12, index % 12 + 1, 15, tzinfo=UTC)


def test_usage_groups_current_period_is_the_contracts_billing_period(api_client, world):
    """A contract anchored on its start (the 15th) bills 15th to 15th: that is the current
    period, not the calendar month."""
    from tests.customers.factories import ContractFactory

    metric, customer = world
    now = timezone.now()
    start = _the_15th(now) if now >= _the_15th(now) else _the_15th(now, -1)
    ContractFactory(
        customer=customer,
        starting_at=_the_15th(start, -2),
        usage_statement_frequency="MONTHLY",
        usage_statement_day="CONTRACT_START",
    )
    body = _groups_body(metric, customer, current_period=True)
    del body["starting_on"], body["ending_before"]

    response = post(api_client, "/v1/usage/groups", body)

    assert response.status_code == 200, response.content
    (row,) = response.json()["data"]
    assert (row["starting_on"], row["ending_before"]) == (z(start), z(_the_15th(start, 1)))


def test_usage_groups_current_period_ignores_an_archived_contract(api_client, world):
    from tests.customers.factories import ContractFactory

    metric, customer = world
    ContractFactory(
        customer=customer, starting_at=TODAY - timedelta(days=40), archived_at=timezone.now()
    )
    body = _groups_body(metric, customer, current_period=True)
    del body["starting_on"], body["ending_before"]

    response = post(api_client, "/v1/usage/groups", body)

    assert response.status_code == 400
    assert response.json() == {"message": "current_period: The customer has no active contract."}
