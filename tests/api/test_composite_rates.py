"""Composite rates over addRate / getRates: PERCENTAGE and TIERED_PERCENTAGE (the SDK's rate
types) with a minimum and a scope (Metronome's composite charges beta: extra fields)."""

import pytest

from tests.api.conftest import USD, data, error
from tests.catalog.factories import ProductFactory

START = "2024-01-01T00:00:00Z"


@pytest.fixture
def card(post):
    return data(post("/v1/contract-pricing/rate-cards/create", {"name": "Standard"}))


@pytest.fixture
def support(db):
    return ProductFactory(composite=True, name="Support", composite_tags=["infra"])


def body(card, product, **extra):
    return {
        "rate_card_id": card["id"],
        "product_id": str(product.pk),
        "entitled": True,
        "rate_type": "TIERED_PERCENTAGE",
        "tiers": [{"size": 1000000, "price": 0.1}, {"price": 0.05}],
        "composite_minimum": 50000,
        "composite_scope": "CUSTOMER",
        "starting_at": START,
        **extra,
    }


def test_a_tiered_percentage_rate_with_minimum_and_scope_is_answered_as_stored(card, post, support):
    added = data(post("/v1/contract-pricing/rate-cards/addRate", body(card, support)))

    assert added == {
        "rate_type": "TIERED_PERCENTAGE",
        "credit_type": {"id": USD, "name": "USD (cents)"},
        "pricing_group_values": {},
        "tiers": [{"size": 1000000, "price": 0.1}, {"price": 0.05}],
        "composite_minimum": 50000,
        "composite_scope": "CUSTOMER",
    }
    (entry,) = data(
        post(
            "/v1/contract-pricing/rate-cards/getRates",
            {"rate_card_id": card["id"], "at": START},
        )
    )
    assert entry["rate"] == added


def test_a_percentage_rate_defaults_to_the_contracts_spend_and_no_minimum(card, post, support):
    added = data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            {
                "rate_card_id": card["id"],
                "product_id": str(support.pk),
                "entitled": True,
                "rate_type": "PERCENTAGE",
                "price": 0.1,
                "starting_at": START,
            },
        )
    )

    assert (added["price"], added["composite_scope"]) == (0.1, "CONTRACT")
    assert "composite_minimum" not in added


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"price": 0.1}, "price: A tiered rate is priced by its tiers, not by a price."),
        (
            {"tiers": [{"size": 10, "price": 0.5}, {"price": 2}]},
            "tiers: Tier 2: a percentage is a fraction between 0 and 1.",
        ),
        (
            {"composite_minimum": -1},
            "composite_minimum: Must be at least 0.",
        ),
        (
            {"composite_scope": "WORLD"},
            "composite_scope: 'WORLD' is not one of CONTRACT, CUSTOMER.",
        ),
    ],
)
def test_composite_rate_errors(card, post, support, extra, message):
    response = post("/v1/contract-pricing/rate-cards/addRate", body(card, support, **extra))
    assert error(response, 400) == message


def test_a_minimum_or_scope_on_a_usage_rate_is_400(card, post):
    usage = ProductFactory(name="Compute")
    response = post(
        "/v1/contract-pricing/rate-cards/addRate",
        body(card, usage, rate_type="FLAT", price=100, tiers=[]),
    )
    assert error(response, 400) == (
        "composite_minimum: Only a composite (percentage) rate has a minimum.; "
        "composite_scope: Only a composite (percentage) rate has a scope."
    )
