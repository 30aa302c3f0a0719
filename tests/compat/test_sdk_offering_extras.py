"""Custom fields, named schedules, product order, customer config, services and the legacy
Plans API through the official SDK in strict mode, asserting what comes back."""

from datetime import UTC, datetime

import metronome
import pytest

from tests.compat.conftest import START


def test_custom_fields_round_trip(client, world):
    customer = world["customer"].id
    client.v1.custom_fields.add_key(entity="customer", key="segment", enforce_uniqueness=False)
    client.v1.custom_fields.add_key(entity="contract_product", key="sku", enforce_uniqueness=True)
    keys = list(client.v1.custom_fields.list_keys(entities=["customer"]))
    assert [(k.entity, k.key, k.enforce_uniqueness) for k in keys] == [
        ("customer", "segment", False)
    ]
    client.v1.custom_fields.set_values(
        entity="customer", entity_id=customer, custom_fields={"segment": "smb"}
    )
    assert client.v1.customers.retrieve(customer_id=customer).data.custom_fields == {
        "segment": "smb"
    }
    client.v1.custom_fields.delete_values(entity="customer", entity_id=customer, keys=["segment"])
    assert client.v1.customers.retrieve(customer_id=customer).data.custom_fields == {}
    client.v1.custom_fields.remove_key(entity="customer", key="segment")
    assert [k.key for k in client.v1.custom_fields.list_keys()] == ["sku"]
    with pytest.raises(metronome.BadRequestError):
        client.v1.custom_fields.set_values(
            entity="customer", entity_id=customer, custom_fields={"segment": "x"}
        )


def test_named_schedules(client, world):
    card = world["rate_card"]
    client.v1.contracts.named_schedules.update(
        rate_card_id=card, schedule_name="fx", starting_at=START, value={"eur": "0.92"}
    )
    client.v1.contracts.named_schedules.update(
        rate_card_id=card,
        schedule_name="fx",
        starting_at=datetime(2024, 6, 1, tzinfo=UTC),
        value={"eur": "0.95"},
    )
    got = client.v1.contracts.named_schedules.retrieve(
        rate_card_id=card, schedule_name="fx", covering_date=datetime(2024, 3, 1, tzinfo=UTC)
    ).data
    assert [(s.starting_at, s.ending_before, s.value) for s in got] == [
        (START, datetime(2024, 6, 1, tzinfo=UTC), {"eur": "0.92"})
    ]
    customer = world["customer"].id
    contract = client.v1.contracts.create(
        customer_id=customer, rate_card_id=card, starting_at=START
    ).data.id
    client.v1.contracts.rate_cards.named_schedules.update(
        contract_id=contract,
        customer_id=customer,
        schedule_name="minimum",
        starting_at=START,
        value=1000,
        properties={"region": "eu"},
    )
    listed = list(client.v1.contracts.rate_cards.named_schedules.list(customer_id=customer))
    assert [(s.contract_id, s.schedule_name, s.properties) for s in listed] == [
        (contract, "minimum", {"region": "eu"})
    ]
    assert [s.value for s in listed[0].segments] == [1000]
    one = client.v1.contracts.rate_cards.named_schedules.retrieve(
        contract_id=contract,
        customer_id=customer,
        schedule_name="minimum",
        properties={"region": "eu"},
    ).data
    assert [s.value for s in one] == [1000]
    client.v1.customers.named_schedules.update(
        customer_id=customer, schedule_name="tier", starting_at=START, value="gold"
    )
    assert [
        s.value
        for s in client.v1.customers.named_schedules.retrieve(
            customer_id=customer, schedule_name="tier"
        ).data
    ] == ["gold"]


def test_product_order(client, world):
    card = world["rate_card"]
    fixed = client.v1.contracts.products.create(name="Platform fee", type="SUBSCRIPTION").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=fixed,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=500,
        billing_frequency="MONTHLY",
        starting_at=START,
    )
    answer = client.v1.contracts.rate_cards.product_orders.set(
        rate_card_id=card, product_order=[fixed, world["product"]]
    )
    assert answer.data.id == card
    names = [
        r.product_name
        for r in client.v1.contracts.rate_cards.rates.list(
            rate_card_id=card, at=datetime(2024, 2, 1, tzinfo=UTC)
        )
    ]
    assert names == ["Platform fee", "API calls", "API calls"]
    client.v1.contracts.rate_cards.product_orders.update(
        rate_card_id=card, product_moves=[{"product_id": fixed, "position": 1}]
    )
    names = [
        r.product_name
        for r in client.v1.contracts.rate_cards.rates.list(
            rate_card_id=card, at=datetime(2024, 2, 1, tzinfo=UTC)
        )
    ]
    assert names == ["API calls", "API calls", "Platform fee"]


def test_update_config_services_and_legacy(client, world):
    customer = world["customer"].id
    assert (
        client.v1.customers.update_config(customer_id=customer, salesforce_account_id="0015X")
        is None
    )
    detail = client.v1.customers.retrieve(customer_id=customer).data
    assert detail.customer_config.salesforce_account_id == "0015X"
    assert client.v1.services.list().services == []
    with pytest.raises(metronome.APIStatusError) as gone:
        list(client.v1.plans.list())
    assert gone.value.status_code == 410
    assert "contracts replace them" in gone.value.body["message"]
