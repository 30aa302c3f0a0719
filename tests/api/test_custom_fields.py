"""/v1/customFields/* : keys per entity type, values on the entities, uniqueness, the reads other
apps use (core.custom_fields)."""

import pytest

from core import custom_fields
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import ProductFactory
from tests.customers.factories import ContractFactory, CustomerFactory


@pytest.fixture
def acme(db):
    return CustomerFactory(name="Acme")


def _add(post, key="segment", entity="customer", unique=False):
    return post(
        "/v1/customFields/addKey",
        {"entity": entity, "key": key, "enforce_uniqueness": unique},
    )


def test_add_key_list_keys_and_set_values_show_on_the_customer(acme, post, get):
    assert _add(post).status_code == 200
    assert _add(post, key="region", entity="contract").status_code == 200
    keys = post("/v1/customFields/listKeys", {})
    assert keys.json() == {
        "data": [
            {"entity": "contract", "key": "region", "enforce_uniqueness": False},
            {"entity": "customer", "key": "segment", "enforce_uniqueness": False},
        ],
        "next_page": None,
    }
    only = post("/v1/customFields/listKeys", {"entities": ["customer"]}).json()["data"]
    assert [k["key"] for k in only] == ["segment"]
    response = post(
        "/v1/customFields/setValues",
        {"entity": "customer", "entity_id": str(acme.pk), "custom_fields": {"segment": "smb"}},
    )
    assert response.status_code == 200
    assert response.content == b""
    assert data(get(f"/v1/customers/{acme.pk}"))["custom_fields"] == {"segment": "smb"}


def test_set_values_needs_a_declared_key_and_a_known_entity(acme, post):
    body = {"entity": "customer", "entity_id": str(acme.pk), "custom_fields": {"tier": "x"}}
    assert error(post("/v1/customFields/setValues", body), 400) == (
        "custom_fields: 'tier' is not a custom field key of customer; add it with "
        "/v1/customFields/addKey first."
    )
    _add(post, key="tier")
    assert error(post("/v1/customFields/setValues", {**body, "entity_id": UNKNOWN}), 404) == (
        f"Customer {UNKNOWN} not found."
    )
    assert error(post("/v1/customFields/setValues", {**body, "entity": "plan"}), 400) == (
        "entity: 'plan' belongs to the Plans API; contracts replace it here."
    )
    assert error(post("/v1/customFields/setValues", {**body, "entity": "moon"}), 400).startswith(
        "entity: 'moon' is not one of alert, billable_metric"
    )


def test_a_unique_key_refuses_a_value_another_entity_holds(acme, post):
    other = CustomerFactory(name="Beta")
    _add(post, key="crm_id", unique=True)
    url = "/v1/customFields/setValues"
    assert (
        post(
            url, {"entity": "customer", "entity_id": str(acme.pk), "custom_fields": {"crm_id": "7"}}
        ).status_code
        == 200
    )
    response = post(
        url, {"entity": "customer", "entity_id": str(other.pk), "custom_fields": {"crm_id": "7"}}
    )
    assert error(response, 409) == (
        f"'7' is already the value of customer {acme.pk} (the key enforces uniqueness)."
    )
    assert response["x-should-retry"] == "false"
    # The holder itself may set it again.
    assert (
        post(
            url, {"entity": "customer", "entity_id": str(acme.pk), "custom_fields": {"crm_id": "7"}}
        ).status_code
        == 200
    )


def test_declaring_a_key_again_differently_is_a_conflict(post):
    assert _add(post).status_code == 200
    assert _add(post).status_code == 200
    assert error(_add(post, unique=True), 409) == (
        "'segment' is already declared for customer with enforce_uniqueness false; remove it first."
    )


def test_delete_values_and_remove_key(acme, post):
    contract = ContractFactory(customer=acme, custom_fields={"region": "eu", "keep": "1"})
    _add(post, key="region", entity="contract")
    _add(post, key="keep", entity="contract")
    response = post(
        "/v1/customFields/deleteValues",
        {"entity": "contract", "entity_id": str(contract.pk), "keys": ["region", "absent"]},
    )
    assert response.status_code == 200
    contract.refresh_from_db()
    assert contract.custom_fields == {"keep": "1"}
    assert (
        post("/v1/customFields/removeKey", {"entity": "contract", "key": "keep"}).status_code == 200
    )
    contract.refresh_from_db()
    assert contract.custom_fields == {}
    assert error(
        post("/v1/customFields/removeKey", {"entity": "contract", "key": "keep"}), 400
    ) == ("key: 'keep' is not a custom field key of contract.")


def test_products_hold_values_under_both_entity_names(post, db):
    product = ProductFactory()
    _add(post, key="sku", entity="contract_product")
    post(
        "/v1/customFields/setValues",
        {
            "entity": "contract_product",
            "entity_id": str(product.pk),
            "custom_fields": {"sku": "A1"},
        },
    )
    assert custom_fields.custom_field_values(entity="product", entity_id=product.pk) == {
        "sku": "A1"
    }


def test_the_reads_other_apps_use(acme, db):
    beta = CustomerFactory(name="Beta", custom_fields={"segment": "smb", "a__b": "x"})
    acme.custom_fields = {"segment": "enterprise"}
    acme.save()
    assert custom_fields.custom_field_values(entity="customer", entity_id=beta.pk) == {
        "segment": "smb",
        "a__b": "x",
    }
    assert custom_fields.custom_field_values_many(
        entity="customer", entity_ids=[acme.pk, beta.pk]
    ) == {acme.pk: {"segment": "enterprise"}, beta.pk: {"segment": "smb", "a__b": "x"}}
    found = custom_fields.entities_with_value(entity="customer", key="segment", value="smb")
    assert list(found) == [beta]
    # A key with "__" is read literally, not as a path.
    assert list(custom_fields.entities_with_value(entity="customer", key="a__b", value="x")) == [
        beta
    ]
    assert "commit" in custom_fields.registered_entities()


def test_bad_bodies(post):
    assert error(post("/v1/customFields/addKey", {"entity": "customer"}), 400) == (
        "key: This field is required.; enforce_uniqueness: This field is required."
    )
    assert error(post("/v1/customFields/listKeys", {"entities": "customer"}), 400).startswith(
        "entities:"
    )
