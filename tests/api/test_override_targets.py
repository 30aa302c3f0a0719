"""An override's target over the API: Metronome's top level (product_id or any of the
applicable_product_tags) or one override specifier (every field AND-ed, product_tags all of
them), stored as such and answered as sent."""

import pytest

from customers.models import Override
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import CustomerFactory

START = "2024-01-01T00:00:00Z"


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Acme")


@pytest.fixture
def gpu(db):
    return ProductFactory(name="GPU inference", tags=["gpu", "inference"])


def create(post, customer, override):
    body = {
        "customer_id": str(customer.pk),
        "rate_card_id": str(RateCardFactory().pk),
        "starting_at": START,
        "overrides": [{"starting_at": START, "type": "MULTIPLIER", "multiplier": 0.5, **override}],
    }
    return post("/v1/contracts/create", body)


def answered(post, customer, created) -> dict:
    body = {"contract_id": created["id"], "customer_id": str(customer.pk)}
    (override,) = data(post("/v2/contracts/get", body))["overrides"]
    return override


def test_a_specifier_stores_its_tags_as_all_of_them_and_answers_them_as_sent(post, customer):
    specifier = {
        "product_tags": ["gpu", "inference"],
        "pricing_group_values": {"region": "eu"},
        "presentation_group_values": {"team": "red"},
    }
    created = data(create(post, customer, {"override_specifiers": [specifier]}))

    stored = Override.objects.get(contract_id=created["id"])
    assert (stored.applicable_product_tags, stored.tags_match) == (["gpu", "inference"], "ALL")
    override = answered(post, customer, created)
    assert override["override_specifiers"] == [specifier]
    assert "applicable_product_tags" not in override


def test_top_level_tags_are_any_of_them(post, customer):
    created = data(create(post, customer, {"applicable_product_tags": ["gpu", "inference"]}))

    assert Override.objects.get(contract_id=created["id"]).tags_match == "ANY"
    override = answered(post, customer, created)
    assert override["applicable_product_tags"] == ["gpu", "inference"]
    assert override["override_specifiers"] == []


def test_a_billing_frequency_specifier_is_kept(post, customer):
    seats = ProductFactory(subscription=True, name="Seats")
    specifier = {"product_id": str(seats.pk), "billing_frequency": "QUARTERLY"}
    created = data(create(post, customer, {"override_specifiers": [specifier]}))

    assert Override.objects.get(contract_id=created["id"]).billing_frequency == "QUARTERLY"
    assert answered(post, customer, created)["override_specifiers"] == [specifier]


def test_any_commit_or_credit_ids_name_the_balances_drawn(post, customer, gpu):
    balance = "11111111-1111-4111-8111-111111111111"
    specifier = {"product_id": str(gpu.pk), "any_commit_or_credit_ids": [balance]}
    created = data(
        create(post, customer, {"is_commit_specific": True, "override_specifiers": [specifier]})
    )

    assert Override.objects.get(contract_id=created["id"]).commit_ids == [balance]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"applicable_product_tags": ["gpu"], "override_specifiers": [{"product_tags": ["x"]}]},
            "overrides[0].override_specifiers: Cannot be used with product_id or "
            "applicable_product_tags; put the product and tags in the specifier.",
        ),
        (
            {"product_id": UNKNOWN, "override_specifiers": [{"product_tags": ["x"]}]},
            "overrides[0].override_specifiers: Cannot be used with product_id or "
            "applicable_product_tags; put the product and tags in the specifier.",
        ),
        (
            {"override_specifiers": [{"commit_ids": [UNKNOWN]}], "is_commit_specific": True},
            "overrides[0].override_specifiers[0]: Name what the override applies to: "
            "product_id, product_tags, pricing_group_values, presentation_group_values, "
            "billing_frequency.",
        ),
        (
            {"override_specifiers": [{"product_tags": ["x"], "recurring_commit_ids": [UNKNOWN]}]},
            "overrides[0].override_specifiers[0].recurring_commit_ids: Recurring commits are not "
            "supported; name the commits in commit_ids.",
        ),
        (
            {
                "override_specifiers": [
                    {
                        "product_tags": ["x"],
                        "commit_ids": [UNKNOWN],
                        "any_commit_or_credit_ids": [UNKNOWN],
                    }
                ]
            },
            "overrides[0].override_specifiers[0].any_commit_or_credit_ids: Give either "
            "commit_ids or any_commit_or_credit_ids.",
        ),
    ],
)
def test_targets_that_cannot_mean_what_they_say_are_400(post, customer, override, message):
    assert error(create(post, customer, override), 400) == message
