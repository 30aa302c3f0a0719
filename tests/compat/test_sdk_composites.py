"""Composite charges through the SDK (strict): TIERED_PERCENTAGE is one of the SDK's rate types;
the minimum and the scope (Metronome's composite charges beta) go as extra body fields and come
back as extra fields of the rate."""

from datetime import UTC, datetime

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_tiered_percentage_rate_with_minimum_and_scope(client, world):
    support = client.v1.contracts.products.create(
        name="Support", type="COMPOSITE", composite_product_ids=[world["product"]]
    ).data.id

    added = client.v1.contracts.rate_cards.rates.add(
        rate_card_id=world["rate_card"],
        product_id=support,
        entitled=True,
        rate_type="TIERED_PERCENTAGE",
        tiers=[{"size": 1000000, "price": 0.1}, {"price": 0.05}],
        starting_at=START,
        extra_body={"composite_minimum": 50000, "composite_scope": "CUSTOMER"},
    ).data

    assert added.rate_type == "TIERED_PERCENTAGE"
    assert [(tier.size, tier.price) for tier in added.tiers] == [(1000000, 0.1), (None, 0.05)]
    (entry,) = client.v1.contracts.rate_cards.rates.list(
        rate_card_id=world["rate_card"], at=START, selectors=[{"product_id": support}]
    )
    assert entry.rate.rate_type == "TIERED_PERCENTAGE"
    assert (entry.rate.composite_minimum, entry.rate.composite_scope) == (50000, "CUSTOMER")
