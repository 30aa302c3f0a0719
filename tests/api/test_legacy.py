"""The Plans-era APIs answer 410 with what replaces them; /v1/services lists nothing."""

import pytest

from tests.api.conftest import UNKNOWN, error


@pytest.mark.parametrize(
    ("method", "path", "replacement"),
    [
        ("get", "/v1/plans", "contracts replace them (/v1/contracts/create"),
        ("get", f"/v1/planDetails/{UNKNOWN}", "contracts replace them"),
        ("get", f"/v1/planDetails/{UNKNOWN}/charges", "contracts replace them"),
        ("get", f"/v1/planDetails/{UNKNOWN}/customers", "contracts replace them"),
        ("get", f"/v1/customers/{UNKNOWN}/plans", "contracts replace them"),
        ("post", f"/v1/customers/{UNKNOWN}/plans/add", "contracts replace them"),
        ("post", f"/v1/customers/{UNKNOWN}/plans/{UNKNOWN}/end", "contracts replace them"),
        ("get", f"/v1/customers/{UNKNOWN}/plans/{UNKNOWN}/priceAdjustments", "contracts"),
        ("post", f"/v1/customers/{UNKNOWN}/addCharge", "scheduled charges on a contract"),
        ("post", "/v1/credits/createGrant", "credits on a contract"),
        ("post", "/v1/credits/editGrant", "credits on a contract"),
        ("post", "/v1/credits/listGrants", "credits on a contract"),
        ("post", "/v1/credits/listEntries", "credits on a contract"),
        ("post", "/v1/credits/voidGrant", "credits on a contract"),
    ],
)
def test_plans_era_paths_are_gone(api_client, method, path, replacement):
    response = getattr(api_client, method)(path, {}, format="json")
    assert replacement in error(response, 410)


def test_services_list_is_empty(api_client):
    response = api_client.get("/v1/services")
    assert (response.status_code, response.json()) == (200, {"services": []})


def test_legacy_paths_need_a_token(client):
    assert client.get("/v1/plans").status_code == 401
