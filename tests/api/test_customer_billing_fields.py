"""The invoice document's bill-to over the API: billing_name, billing_address and billing_email
as custom fields of the customer (create, /v1/customFields/setValues and deleteValues)."""

import pytest

from customers.models import Customer
from tests.api.conftest import UNKNOWN, data, error

pytestmark = pytest.mark.django_db

BILLING = {
    "billing_name": "Globex Corporation",
    "billing_address": "1 Main Street\nSpringfield",
    "billing_email": "ap@globex.example",
}


def test_create_stores_the_billing_fields_and_answers_them_as_custom_fields(post):
    created = data(
        post("/v1/customers", {"name": "Globex", "custom_fields": {**BILLING, "tier": "gold"}})
    )

    assert created["custom_fields"] == {**BILLING, "tier": "gold"}
    customer = Customer.objects.get(pk=created["id"])
    assert (customer.billing_name, customer.billing_address, customer.billing_email) == (
        "Globex Corporation",
        "1 Main Street\nSpringfield",
        "ap@globex.example",
    )
    assert customer.custom_fields == {"tier": "gold"}


def test_a_bad_billing_email_is_refused_naming_the_field(post):
    message = error(
        post("/v1/customers", {"name": "Globex", "custom_fields": {"billing_email": "nope"}}), 400
    )

    assert message == "custom_fields.billing_email: Enter a valid email address."
    assert not Customer.objects.exists()


def test_set_values_changes_only_the_named_keys(post, get):
    created = data(post("/v1/customers", {"name": "Globex", "custom_fields": {"tier": "gold"}}))
    # Other keys are declared first (Metronome's allow list); the billing fields need no key.
    post(
        "/v1/customFields/addKey",
        {"entity": "customer", "key": "owner", "enforce_uniqueness": False},
    )

    response = post(
        "/v1/customFields/setValues",
        {
            "entity": "customer",
            "entity_id": created["id"],
            "custom_fields": {"billing_name": "Globex Corp", "owner": "ann"},
        },
    )

    assert response.status_code == 200
    fields = data(get(f"/v1/customers/{created['id']}"))["custom_fields"]
    assert fields == {"tier": "gold", "owner": "ann", "billing_name": "Globex Corp"}


def test_delete_values_empties_billing_fields_and_removes_custom_ones(post, get):
    created = data(
        post("/v1/customers", {"name": "Globex", "custom_fields": {**BILLING, "tier": "gold"}})
    )

    response = post(
        "/v1/customFields/deleteValues",
        {"entity": "customer", "entity_id": created["id"], "keys": ["billing_email", "tier"]},
    )

    assert response.status_code == 200
    fields = data(get(f"/v1/customers/{created['id']}"))["custom_fields"]
    assert fields == {
        "billing_name": "Globex Corporation",
        "billing_address": BILLING["billing_address"],
    }


def test_set_values_refuses_a_bad_email(post):
    created = data(post("/v1/customers", {"name": "Globex"}))

    message = error(
        post(
            "/v1/customFields/setValues",
            {
                "entity": "customer",
                "entity_id": created["id"],
                "custom_fields": {"billing_email": "x@"},
            },
        ),
        400,
    )

    assert message == "custom_fields.billing_email: Enter a valid email address."
    assert Customer.objects.get(pk=created["id"]).billing_email == ""


def test_billing_fields_are_the_customers_only(post):
    # Another entity's "billing_name" is an ordinary custom field: its key must be declared.
    post(
        "/v1/customFields/addKey",
        {"entity": "contract", "key": "billing_name", "enforce_uniqueness": False},
    )
    message = error(
        post(
            "/v1/customFields/setValues",
            {"entity": "contract", "entity_id": UNKNOWN, "custom_fields": {"billing_name": "b"}},
        ),
        404,
    )

    assert message == f"Contract {UNKNOWN} not found."


def test_an_unknown_customer_is_404(post):
    message = error(
        post(
            "/v1/customFields/deleteValues",
            {"entity": "customer", "entity_id": UNKNOWN, "keys": ["billing_name"]},
        ),
        404,
    )

    assert message == f"Customer {UNKNOWN} not found."


def test_a_malformed_entity_id_is_400(post):
    message = error(
        post(
            "/v1/customFields/setValues",
            {"entity": "customer", "entity_id": "x", "custom_fields": {}},
        ),
        400,
    )

    assert message.startswith("entity_id: ")
