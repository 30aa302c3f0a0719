"""Wire conventions shared by every endpoint (reference section 2)."""

from rest_framework.test import APIClient

from tests.api.conftest import UNKNOWN, data, error


def test_no_token_is_401_with_a_message(db):
    response = APIClient().get("/v1/credit-types/list")
    assert error(response, 401) == "Authentication credentials were not provided."


def test_revoked_or_unknown_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert (
        error(client.get("/v1/credit-types/list"), 401) == "Invalid, expired or revoked API token."
    )


def test_empty_post_body_reads_as_an_empty_object(api_client):
    response = api_client.post("/v1/contract-pricing/rate-cards/list")
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_page": None}


def test_a_body_that_is_not_an_object_is_400(api_client):
    response = api_client.post("/v1/credit-types/create", [1, 2], format="json")
    assert error(response, 400) == "The request body must be a JSON object."


def test_invalid_json_is_400(api_client):
    response = api_client.post(
        "/v1/credit-types/create", b"{not json", content_type="application/json"
    )
    assert error(response, 400).startswith("Body is not valid JSON")


def test_enums_are_read_in_any_case_and_written_in_upper_case(post, get):
    metric = data(
        post("/v1/billable-metrics/create", {"name": "Calls", "aggregation_type": "Count"})
    )
    assert data(get(f"/v1/billable-metrics/{metric['id']}"))["aggregation_type"] == "COUNT"
    product = data(post("/v1/contract-pricing/products/create", {"name": "P", "type": "fixed"}))
    assert data(post("/v1/contract-pricing/products/get", product))["type"] == "FIXED"


def test_malformed_uuid_is_400_naming_the_field(post):
    message = error(post("/v1/contract-pricing/products/get", {"id": "not-a-uuid"}), 400)
    assert message == "id: 'not-a-uuid' is not a valid UUID."


def test_unknown_uuid_is_404(post):
    message = error(post("/v1/contract-pricing/products/get", {"id": UNKNOWN}), 404)
    assert message == f"Product {UNKNOWN} not found."


def test_limit_out_of_range_is_400(get):
    assert error(get("/v1/billable-metrics", {"limit": 0}), 400) == (
        "limit: Must be an integer from 1 to 100."
    )
    assert error(get("/v1/billable-metrics", {"limit": "x"}), 400) == (
        "limit: Must be an integer from 1 to 100."
    )


def test_a_cursor_this_server_did_not_issue_is_400(get):
    message = error(get("/v1/billable-metrics", {"next_page": "garbage!"}), 400)
    assert message == "next_page: Not a cursor this server issued."


def test_naive_timestamps_are_utc_and_answers_end_in_z(post, db):
    product = data(post("/v1/contract-pricing/products/create", {"name": "F", "type": "FIXED"}))
    card = data(post("/v1/contract-pricing/rate-cards/create", {"name": "C"}))
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            {
                "rate_card_id": card["id"],
                "product_id": product["id"],
                "entitled": True,
                "rate_type": "FLAT",
                "price": 5,
                "starting_at": "2024-01-01T00:00:00.000",
            },
        )
    )
    rates = post(
        "/v1/contract-pricing/rate-cards/getRates",
        {"rate_card_id": card["id"], "at": "2024-01-01T00:00:00+00:00"},
    )
    assert data(rates)[0]["starting_at"] == "2024-01-01T00:00:00Z"


def test_a_wrong_type_is_400_naming_the_field(post):
    assert error(post("/v1/credit-types/create", {"name": 12}), 400) == "name: Must be a string."
