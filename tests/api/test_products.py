"""/v1/contract-pricing/products/* (reference 3.4) and catalog.selectors.product_state_at."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.selectors import product_state_at
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import BillableMetricFactory


@pytest.fixture
def metric(db):
    return BillableMetricFactory(group_keys=[["region"], ["region", "user"]])


@pytest.fixture
def usage(post, metric):
    body = {
        "name": "API calls",
        "type": "USAGE",
        "billable_metric_id": str(metric.pk),
        "pricing_group_key": ["region"],
        "presentation_group_key": ["user"],
        "quantity_conversion": {"conversion_factor": 1000, "operation": "divide", "name": "per k"},
        "quantity_rounding": {"decimal_places": 0, "rounding_method": "round_up"},
        "tags": ["api"],
        "custom_fields": {"sku": "A1"},
    }
    return data(post("/v1/contract-pricing/products/create", body))


def test_create_then_get_answers_initial_current_and_updates(usage, post, metric):
    product = data(post("/v1/contract-pricing/products/get", {"id": usage["id"]}))
    state = {
        "created_by": "api:tests",
        "name": "API calls",
        "billable_metric_id": str(metric.pk),
        "pricing_group_key": ["region"],
        "presentation_group_key": ["user"],
        "quantity_conversion": {"conversion_factor": 1000, "operation": "DIVIDE", "name": "per k"},
        "quantity_rounding": {"decimal_places": 0, "rounding_method": "ROUND_UP"},
        "tags": ["api"],
        "is_refundable": True,
        "exclude_free_usage": False,
    }
    assert product["id"] == usage["id"]
    assert product["type"] == "USAGE"
    assert product["updates"] == []
    assert product["archived_at"] is None
    assert product["custom_fields"] == {"sku": "A1"}
    for key in ("initial", "current"):
        assert {k: v for k, v in product[key].items() if k != "created_at"} == state
        assert product[key]["created_at"].endswith("Z")


def test_professional_service_is_stored_as_pro_service(post):
    created = data(
        post(
            "/v1/contract-pricing/products/create",
            {"name": "Setup", "type": "PROFESSIONAL_SERVICE"},
        )
    )
    assert data(post("/v1/contract-pricing/products/get", created))["type"] == "PRO_SERVICE"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "FIXED"}, "name: This field is required."),
        ({"name": "X"}, "type: This field is required."),
        (
            {"name": "X", "type": "GADGET"},
            "type: 'GADGET' is not one of USAGE, SUBSCRIPTION, COMPOSITE, FIXED, PRO_SERVICE.",
        ),
        (
            {"name": "X", "type": "USAGE"},
            "billable_metric_id: A usage product needs a billable metric.",
        ),
        (
            {
                "name": "X",
                "type": "FIXED",
                "quantity_conversion": {"conversion_factor": 0, "operation": "DIVIDE"},
            },
            "quantity_conversion.conversion_factor: The conversion factor must be positive.",
        ),
        (
            {
                "name": "X",
                "type": "FIXED",
                "quantity_rounding": {"decimal_places": 1.5, "rounding_method": "ROUND_UP"},
            },
            "quantity_rounding.decimal_places: Use at most 0 decimal places.",
        ),
        (
            {"name": "X", "type": "FIXED", "pricing_group_key": ["a"]},
            "pricing_group_key: Only usage products have group keys.",
        ),
        (
            {"name": "X", "type": "FIXED", "billable_metric_id": "nope"},
            "billable_metric_id: 'nope' is not a valid UUID.",
        ),
    ],
)
def test_create_errors(post, body, message):
    assert error(post("/v1/contract-pricing/products/create", body), 400) == message


def test_group_keys_must_be_a_subset_of_a_metric_key_set(post, metric):
    body = {
        "name": "X",
        "type": "USAGE",
        "billable_metric_id": str(metric.pk),
        "pricing_group_key": ["plan"],
    }
    assert error(post("/v1/contract-pricing/products/create", body), 400) == (
        "pricing_group_key: Pricing and presentation group keys together must be a subset of one "
        "of the metric's group key sets (region; region, user)."
    )


def test_a_subset_of_a_metric_key_set_is_accepted(post, metric):
    body = {
        "name": "Per user",
        "type": "USAGE",
        "billable_metric_id": str(metric.pk),
        "pricing_group_key": ["user"],
    }
    assert post("/v1/contract-pricing/products/create", body).status_code == 200


def test_unknown_metric_is_404(post):
    body = {"name": "X", "type": "USAGE", "billable_metric_id": UNKNOWN}
    assert error(post("/v1/contract-pricing/products/create", body), 404) == (
        f"Billable metric {UNKNOWN} not found."
    )


def test_archived_metric_cannot_back_a_new_product(post, metric):
    data(post("/v1/billable-metrics/archive", {"id": str(metric.pk)}))
    body = {"name": "X", "type": "USAGE", "billable_metric_id": str(metric.pk)}
    assert error(post("/v1/contract-pricing/products/create", body), 400) == (
        "billable_metric_id: This billable metric is archived; new products cannot use it."
    )


def test_an_update_from_a_later_hour_shows_in_updates_and_takes_effect_then(usage, post):
    body = {
        "product_id": usage["id"],
        "starting_at": "2999-01-01T00:00:00Z",
        "name": "API calls v2",
        "quantity_rounding": {"decimal_places": 2, "rounding_method": "ROUND_HALF_UP"},
    }
    assert data(post("/v1/contract-pricing/products/update", body)) == {"id": usage["id"]}
    product = data(post("/v1/contract-pricing/products/get", {"id": usage["id"]}))
    assert product["current"]["name"] == "API calls"
    [update] = product["updates"]
    assert update["starting_at"] == "2999-01-01T00:00:00Z"
    assert update["name"] == "API calls v2"
    assert update["quantity_rounding"] == {"decimal_places": 2, "rounding_method": "ROUND_HALF_UP"}
    stored = Product.objects.get(pk=usage["id"])
    before = product_state_at(product=stored, at=datetime(2998, 12, 31, 23, tzinfo=UTC))
    after = product_state_at(product=stored, at=datetime(2999, 1, 1, tzinfo=UTC))
    assert (before.name, before.quantity_rounding_decimal_places) == ("API calls", 0)
    assert (after.name, after.quantity_rounding_decimal_places) == ("API calls v2", 2)
    assert after.quantity_rounding_method == "ROUND_HALF_UP"
    assert after.quantity_conversion_factor == Decimal(1000)


def test_a_past_update_is_current_at_once(usage, post):
    body = {"product_id": usage["id"], "starting_at": "2024-01-01T00:00:00Z", "tags": ["new"]}
    data(post("/v1/contract-pricing/products/update", body))
    product = data(post("/v1/contract-pricing/products/get", {"id": usage["id"]}))
    assert product["initial"]["tags"] == ["api"]
    assert product["current"]["tags"] == ["new"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"starting_at": "2030-01-01T00:30:00Z", "name": "x"},
            "starting_at: Must be on an hour boundary (minutes and seconds zero, UTC).",
        ),
        ({"name": "x"}, "starting_at: This field is required."),
        (
            {"starting_at": "2030-01-01T00:00:00Z"},
            "changes: An update must change at least one field.",
        ),
        (
            {"starting_at": "yesterday", "name": "x"},
            "starting_at: 'yesterday' is not an RFC 3339 timestamp.",
        ),
        (
            {"starting_at": "2030-01-01T00:00:00Z", "pricing_group_key": ["nope"]},
            "pricing_group_key: Pricing and presentation group keys together must be a subset of one of the metric's group key sets (region; region, user).",
        ),
    ],
)
def test_update_errors(usage, post, body, message):
    response = post("/v1/contract-pricing/products/update", {"product_id": usage["id"], **body})
    assert error(response, 400) == message


def test_update_unknown_or_archived(usage, post):
    body = {"product_id": UNKNOWN, "starting_at": "2030-01-01T00:00:00Z", "name": "x"}
    assert error(post("/v1/contract-pricing/products/update", body), 404)
    data(post("/v1/contract-pricing/products/archive", {"product_id": usage["id"]}))
    body["product_id"] = usage["id"]
    assert error(post("/v1/contract-pricing/products/update", body), 400) == (
        "This product is archived; it cannot be updated."
    )


def test_list_archive_filter(usage, post):
    fixed = data(post("/v1/contract-pricing/products/create", {"name": "Fee", "type": "FIXED"}))
    data(post("/v1/contract-pricing/products/archive", {"product_id": fixed["id"]}))

    def ids(body):
        return [p["id"] for p in data(post("/v1/contract-pricing/products/list", body))]

    assert ids({}) == [usage["id"]]
    assert ids({"archive_filter": "archived"}) == [fixed["id"]]
    assert ids({"archive_filter": "ALL"}) == [usage["id"], fixed["id"]]
    assert error(post("/v1/contract-pricing/products/list", {"archive_filter": "x"}), 400) == (
        "archive_filter: 'x' is not one of ARCHIVED, NOT_ARCHIVED, ALL."
    )


def test_archive(usage, post):
    assert data(post("/v1/contract-pricing/products/archive", {"product_id": usage["id"]})) == usage
    product = data(post("/v1/contract-pricing/products/get", {"id": usage["id"]}))
    assert product["archived_at"].endswith("Z")
    assert error(
        post("/v1/contract-pricing/products/archive", {"product_id": usage["id"]}), 400
    ) == ("This product is already archived.")
    assert error(post("/v1/contract-pricing/products/archive", {}), 400) == (
        "product_id: This field is required."
    )
