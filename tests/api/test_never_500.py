"""Bad input never answers 500: every top-level field of every write, replaced by junk."""

import json

import pytest

from tests.catalog.factories import BillableMetricFactory, ProductFactory, RateCardFactory
from tests.customers.factories import ContractFactory, CustomerFactory

JUNK = [None, 0, -1, 1.5, "x", "", True, [], [1], ["x"], {}, {"a": 1}, [{}], [{"a": None}]]
START = "2024-01-01T00:00:00Z"


@pytest.fixture
def world(db):
    metric = BillableMetricFactory(group_keys=[["region"]])
    usage = ProductFactory(billable_metric=metric, pricing_group_key=["region"])
    fixed = ProductFactory(fixed=True)
    card = RateCardFactory()
    customer = CustomerFactory()
    contract = ContractFactory(customer=customer, rate_card=card)
    return {
        "metric": str(metric.pk),
        "usage": str(usage.pk),
        "fixed": str(fixed.pk),
        "card": str(card.pk),
        "customer": str(customer.pk),
        "contract": str(contract.pk),
    }


def bodies(w):
    rate = {
        "product_id": w["usage"],
        "entitled": True,
        "rate_type": "FLAT",
        "price": 1,
        "pricing_group_values": {"region": "eu"},
        "starting_at": START,
    }
    segment = {"amount": 1, "starting_at": START, "ending_before": "2025-01-01T00:00:00Z"}
    commit = {
        "product_id": w["fixed"],
        "type": "PREPAID",
        "access_schedule": {"schedule_items": [segment]},
    }
    ref = {"contract_id": w["contract"], "customer_id": w["customer"]}
    offset = {"unit": "DAYS", "value": 0}
    return [
        ("/v1/credit-types/create", {"name": "u"}),
        (
            "/v1/billable-metrics/create",
            {
                "name": "m",
                "aggregation_type": "SUM",
                "aggregation_key": "k",
                "event_type_filter": {"in_values": ["e"]},
                "property_filters": [{"name": "k"}],
                "group_keys": [["k"]],
                "custom_fields": {},
            },
        ),
        (
            "/v1/contract-pricing/products/create",
            {
                "name": "p",
                "type": "USAGE",
                "billable_metric_id": w["metric"],
                "pricing_group_key": ["region"],
                "quantity_conversion": {"conversion_factor": 2, "operation": "DIVIDE"},
                "quantity_rounding": {"decimal_places": 0, "rounding_method": "ROUND_UP"},
                "tags": ["t"],
                "composite_product_ids": [],
                "composite_tags": [],
            },
        ),
        (
            "/v1/contract-pricing/products/update",
            {
                "product_id": w["usage"],
                "starting_at": START,
                "name": "n",
                "billable_metric_id": w["metric"],
                "tags": [],
                "quantity_conversion": None,
            },
        ),
        ("/v1/contract-pricing/products/list", {"archive_filter": "ALL"}),
        (
            "/v1/contract-pricing/rate-cards/create",
            {
                "name": "c",
                "description": "d",
                "aliases": [{"name": "a"}],
                "credit_type_conversions": [],
                "fiat_credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
            },
        ),
        (
            "/v1/contract-pricing/rate-cards/update",
            {
                "rate_card_id": w["card"],
                "name": "c",
                "aliases": [],
                "add_credit_type_conversions": [],
            },
        ),
        (
            "/v1/contract-pricing/rate-cards/addRate",
            {
                "rate_card_id": w["card"],
                **rate,
                "tiers": [],
                "commit_rate": {"rate_type": "FLAT", "price": 1},
            },
        ),
        ("/v1/contract-pricing/rate-cards/addRates", {"rate_card_id": w["card"], "rates": [rate]}),
        (
            "/v1/contract-pricing/rate-cards/getRates",
            {"rate_card_id": w["card"], "at": START, "selectors": [{"product_id": w["usage"]}]},
        ),
        (
            "/v1/contract-pricing/rate-cards/getRateSchedule",
            {
                "rate_card_id": w["card"],
                "starting_at": START,
                "ending_before": "2025-01-01T00:00:00Z",
                "selectors": [],
            },
        ),
        (
            "/v1/customers",
            {"name": "c", "ingest_aliases": ["x"], "external_id": "e", "custom_fields": {}},
        ),
        (
            "/v1/contracts/create",
            {
                "customer_id": w["customer"],
                "rate_card_id": w["card"],
                "starting_at": START,
                "ending_before": "2025-01-01T00:00:00Z",
                "name": "k",
                "usage_statement_schedule": {"frequency": "MONTHLY"},
                "net_payment_terms_days": 30,
                "commits": [commit],
                "credits": [],
                "overrides": [{"starting_at": START, "multiplier": 1}],
                "scheduled_charges": [],
                "subscriptions": [],
                "uniqueness_key": "u",
                "custom_fields": {},
            },
        ),
        ("/v1/contracts/get", ref),
        ("/v2/contracts/get", ref),
        (
            "/v1/contracts/list",
            {"customer_id": w["customer"], "limit": 1, "cursor": None, "covering_date": START},
        ),
        ("/v2/contracts/list", {"customer_id": w["customer"], "include_archived": True}),
        ("/v1/contracts/updateEndDate", {**ref, "ending_before": "2030-01-01T00:00:00Z"}),
        (
            "/v2/contracts/edit",
            {
                **ref,
                "update_contract_name": "n",
                "add_commits": [commit],
                "remove_overrides": [],
                "uniqueness_key": "e",
            },
        ),
        (
            "/v1/packages/create",
            {
                "name": "p",
                "rate_card_id": w["card"],
                "duration": offset,
                "commits": [
                    {
                        "product_id": w["fixed"],
                        "type": "PREPAID",
                        "access_schedule": {
                            "schedule_items": [
                                {
                                    "amount": 1,
                                    "starting_at_offset": offset,
                                    "duration": offset | {"value": 1},
                                }
                            ]
                        },
                    }
                ],
                "overrides": [],
                "aliases": [],
            },
        ),
        ("/v1/packages/list", {"archive_filter": "ALL"}),
        ("/v1/contracts/archive", {**ref, "void_invoices": False}),
    ]


def test_junk_in_any_field_is_a_4xx_with_a_message(world, api_client):
    checked = 0
    for path, body in bodies(world):
        for field in body:
            for junk in JUNK:
                response = api_client.post(path, {**body, field: junk}, format="json")
                assert response.status_code < 500, (path, field, junk, response.content)
                if response.status_code >= 400:
                    assert set(response.json()) == {"message"}, (path, field, junk)
                checked += 1
    assert checked > 1000


def _paths(value, prefix=()):
    """Every nested path of a body (dict keys and list indexes), deepest included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _replaced(value, path, junk):
    if not path:
        return junk
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replaced(v, rest, junk) if k == head else v) for k, v in value.items()}
    return [(_replaced(v, rest, junk) if i == head else v) for i, v in enumerate(value)]


def test_junk_anywhere_inside_a_body_is_a_4xx(world, api_client):
    for path, body in bodies(world):
        for where in _paths(body):
            if len(where) < 2:
                continue
            for junk in (None, "x", -1, [], {}, [None]):
                response = api_client.post(path, _replaced(body, where, junk), format="json")
                assert response.status_code < 500, (path, where, junk, response.content)


def test_junk_query_strings_are_a_4xx_or_ignored(world, api_client):
    customer = world["customer"]
    for path in [
        "/v1/customers",
        "/v1/billable-metrics",
        "/v1/credit-types/list",
        f"/v1/customers/{customer}/billable-metrics",
    ]:
        for name in (
            "limit",
            "next_page",
            "customer_ids",
            "ingest_alias",
            "only_archived",
            "include_archived",
        ):
            for junk in ("", "x", "-1", "1e9", "true,false", "%00", "null"):
                response = api_client.get(path, {name: junk})
                assert response.status_code < 500, (path, name, junk, response.content)


def _path_text(where) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")


@pytest.mark.parametrize("text", ["\x00", "a\udfffb"])
def test_nul_or_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_the_field(
    world, api_client, text
):
    checked = 0
    for path, body in bodies(world):
        for where in _paths(body):
            raw = json.dumps(_replaced(body, where, text))  # "\u0000", "\udfff" escapes
            response = api_client.post(path, raw, content_type="application/json")
            assert response.status_code == 400, (path, where, response.content)
            assert response.json() == {
                "message": f"{_path_text(where)}: must not contain NUL characters or unpaired "
                "surrogates"
            }
            checked += 1
    assert checked > 100


def test_events_search_with_a_nul_transaction_id_is_a_400(api_client):
    response = api_client.post(
        "/v1/events/search", '{"transactionIds": ["\\u0000"]}', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "transactionIds[0]: must not contain NUL characters or unpaired surrogates"
    }


@pytest.mark.parametrize(
    "path", ["/v1/customers", "/v1/billable-metrics", "/v1/credit-types/list", "/admin/"]
)
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(world, api_client, path):
    response = api_client.get(path, {"salesforce_account_ids": "a\x00"})
    assert response.status_code == 400
    assert response.json() == {
        "message": "salesforce_account_ids: must not contain NUL characters or unpaired surrogates"
    }


def test_a_nul_in_the_path_is_a_400(api_client):
    response = api_client.get("/v1/customers/%00")
    assert response.status_code == 400
    assert response.json() == {
        "message": "path: must not contain NUL characters or unpaired surrogates"
    }
