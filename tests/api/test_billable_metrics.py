"""/v1/billable-metrics/* and GET /v1/customers/{id}/billable-metrics."""

import pytest

from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import RateFactory
from tests.customers.factories import ContractFactory, CustomerFactory

TOKENS = {
    "name": "Tokens",
    "aggregation_type": "SUM",
    "aggregation_key": "tokens",
    "event_type_filter": {"in_values": ["api_call"]},
    "property_filters": [{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
    "group_keys": [["region"], ["region", "user"]],
    "custom_fields": {"team": "core"},
}


@pytest.fixture
def metric(post):
    return data(post("/v1/billable-metrics/create", TOKENS))


def test_create_then_get_echoes_the_definition(metric, get):
    response = get(f"/v1/billable-metrics/{metric['id']}")
    assert response.json() == {
        "data": {
            "id": metric["id"],
            "name": "Tokens",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["api_call"]},
            "property_filters": [
                {"name": "tokens", "exists": True},
                {"name": "region", "exists": True},
            ],
            "group_keys": [["region"], ["region", "user"]],
            "custom_fields": {"team": "core"},
            "archived_at": None,
        }
    }


def test_count_needs_no_aggregation_key(post, get):
    created = data(
        post("/v1/billable-metrics/create", {"name": "Calls", "aggregation_type": "COUNT"})
    )
    assert data(get(f"/v1/billable-metrics/{created['id']}"))["aggregation_key"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"aggregation_type": "SUM"}, "name: This field is required."),
        (
            {"name": "X"},
            "aggregation_type: This field is required (COUNT, SUM, MAX, UNIQUE, LATEST).",
        ),
        (
            {"name": "X", "aggregation_type": "AVG"},
            "aggregation_type: 'AVG' is not one of COUNT, SUM, MAX, UNIQUE, LATEST.",
        ),
        (
            {"name": "X", "aggregation_type": "SUM"},
            "aggregation_key: An aggregation key is required unless the aggregation is COUNT.",
        ),
        (
            {"name": "X", "aggregation_type": "COUNT", "group_keys": [["a", "a"]]},
            "group_keys: Group key set 1 names a property twice.",
        ),
        (
            {"name": "X", "aggregation_type": "COUNT", "group_keys": [[]]},
            "group_keys: Group key set 1 must be a non-empty list of property names.",
        ),
        (
            {"name": "X", "aggregation_type": "COUNT", "property_filters": [{"exists": True}]},
            "property_filters[0].name: This field is required.",
        ),
        (
            {"name": "X", "aggregation_type": "COUNT", "event_type_filter": {"in_values": "a"}},
            'event_type_filter.in_values: Expected a list of items but got type "str".',
        ),
        (
            {"name": "X", "sql": "select count(*) from users"},
            "sql: Only the table events can be read, not users (at character 22)",
        ),
        ({"name": ["X"], "aggregation_type": "COUNT"}, "name: Must be a string."),
    ],
)
def test_create_rejects_bad_definitions(post, body, message):
    assert error(post("/v1/billable-metrics/create", body), 400) == message


def test_list_hides_archived_unless_asked(metric, post, get):
    other = data(
        post("/v1/billable-metrics/create", {"name": "Calls", "aggregation_type": "COUNT"})
    )
    data(post("/v1/billable-metrics/archive", {"id": other["id"]}))
    assert [m["id"] for m in data(get("/v1/billable-metrics"))] == [metric["id"]]
    listed = get("/v1/billable-metrics", {"include_archived": "true"}).json()["data"]
    assert {m["id"] for m in listed} == {metric["id"], other["id"]}
    archived = next(m for m in listed if m["id"] == other["id"])
    assert archived["archived_at"].endswith("Z")


def test_list_pages_with_the_query_cursor(post, get):
    ids = [
        data(post("/v1/billable-metrics/create", {"name": f"M{i}", "aggregation_type": "COUNT"}))[
            "id"
        ]
        for i in range(3)
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"next_page": cursor} if cursor else {})}
        page = get("/v1/billable-metrics", params).json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_page"]
        if cursor is None:
            break
    assert seen == ids


def test_rename_with_put_changes_only_the_name(metric, api_client, get):
    response = api_client.put(
        f"/v1/billable-metrics/{metric['id']}", {"name": "Input tokens"}, format="json"
    )
    assert response.json() == {"data": {"id": metric["id"]}}
    renamed = data(get(f"/v1/billable-metrics/{metric['id']}"))
    assert renamed["name"] == "Input tokens"
    assert renamed["aggregation_key"] == "tokens"


def test_rename_errors(metric, api_client, post):
    url = f"/v1/billable-metrics/{metric['id']}"
    assert error(api_client.put(url, {}, format="json"), 400) == "name: This field is required."
    assert error(
        api_client.put(f"/v1/billable-metrics/{UNKNOWN}", {"name": "x"}, format="json"), 404
    )
    data(post("/v1/billable-metrics/archive", {"id": metric["id"]}))
    assert error(api_client.put(url, {"name": "x"}, format="json"), 400) == (
        "This billable metric is archived; it cannot be renamed."
    )


def test_get_unknown_or_malformed(get):
    assert error(get(f"/v1/billable-metrics/{UNKNOWN}"), 404) == (
        f"Billable metric {UNKNOWN} not found."
    )
    assert error(get("/v1/billable-metrics/abc"), 400) == (
        "billable_metric_id: 'abc' is not a valid UUID."
    )


def test_archive_twice_is_400(metric, post):
    assert data(post("/v1/billable-metrics/archive", {"id": metric["id"]})) == metric
    assert error(post("/v1/billable-metrics/archive", {"id": metric["id"]}), 400) == (
        "This billable metric is already archived."
    )


def test_customer_billable_metrics_lists_the_metrics_priced_on_its_contracts(get, db):
    rate = RateFactory()
    RateFactory()  # a metric priced on another card
    customer = CustomerFactory()
    ContractFactory(customer=customer, rate_card=rate.rate_card)
    page = get(f"/v1/customers/{customer.pk}/billable-metrics").json()
    metric = rate.product.billable_metric
    assert page["next_page"] is None
    assert [m["id"] for m in page["data"]] == [str(metric.pk)]
    assert page["data"][0]["group_by"] == ["model_name", "user_id"]
    assert page["data"][0]["aggregate"] == "sum"
    assert page["data"][0]["aggregate_keys"] == ["num_tokens"]


def test_customer_billable_metrics_unknown_customer_is_404(get):
    assert error(get(f"/v1/customers/{UNKNOWN}/billable-metrics"), 404) == (
        f"Customer {UNKNOWN} not found."
    )
