"""/v1/credit-types/* (pricing units)."""

from tests.api.conftest import UNKNOWN, USD, data, error


def test_list_shows_the_seeded_usd_cents(get):
    response = get("/v1/credit-types/list")
    assert response.json() == {
        "data": [{"id": USD, "name": "USD (cents)", "is_currency": True}],
        "next_page": None,
    }


def test_create_answers_the_id_and_lists_the_custom_unit(post, get):
    created = data(post("/v1/credit-types/create", {"name": "credits"}))
    assert set(created) == {"id"}
    listed = data(get("/v1/credit-types/list"))
    assert {"id": created["id"], "name": "credits", "is_currency": False} in listed


def test_create_without_a_name_is_400(post):
    assert error(post("/v1/credit-types/create", {}), 400) == "name: This field is required."


def test_create_with_a_taken_name_is_400(post):
    data(post("/v1/credit-types/create", {"name": "credits"}))
    message = error(post("/v1/credit-types/create", {"name": "credits"}), 400)
    assert message == "An active pricing unit with this name already exists."


def test_archive_hides_the_unit_from_the_list(post, get):
    created = data(post("/v1/credit-types/create", {"name": "credits"}))
    assert data(post("/v1/credit-types/archive", {"id": created["id"]})) == created
    assert created["id"] not in [u["id"] for u in data(get("/v1/credit-types/list"))]


def test_archive_twice_is_400(post):
    created = data(post("/v1/credit-types/create", {"name": "credits"}))
    post("/v1/credit-types/archive", created)
    assert error(post("/v1/credit-types/archive", created), 400) == (
        "This pricing unit is already archived."
    )


def test_usd_cents_cannot_be_archived(post):
    assert error(post("/v1/credit-types/archive", {"id": USD}), 400) == (
        "The built-in USD (cents) pricing unit cannot be archived."
    )


def test_archive_unknown_or_malformed_id(post):
    assert error(post("/v1/credit-types/archive", {"id": UNKNOWN}), 404) == (
        f"Pricing unit {UNKNOWN} not found."
    )
    assert error(post("/v1/credit-types/archive", {"id": "x"}), 400) == (
        "id: 'x' is not a valid UUID."
    )
    assert error(post("/v1/credit-types/archive", {}), 400) == "id: This field is required."
