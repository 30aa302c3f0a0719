"""Reference section 5, steps 1-15 and 21, through the official SDK, asserting returned values."""

from datetime import UTC, datetime

import metronome
import pytest

from tests.compat.conftest import START, USD


def test_step_1_pricing_units_list_the_seeded_usd_cents(client):
    units = list(client.v1.pricing_units.list())
    assert [(u.id, u.name, u.is_currency) for u in units] == [(USD, "USD (cents)", True)]


def test_steps_2_to_4_billable_metric_create_retrieve_list(client, world):
    metric = client.v1.billable_metrics.retrieve(billable_metric_id=world["metric"]).data
    assert metric.name == "Tokens"
    assert metric.aggregation_type == "SUM"
    assert metric.aggregation_key == "tokens"
    assert metric.event_type_filter.in_values == ["api_call"]
    assert [(f.name, f.exists) for f in metric.property_filters] == [
        ("tokens", True),
        ("region", True),
    ]
    assert metric.group_keys == [["region"]]
    assert metric.archived_at is None
    assert [m.id for m in client.v1.billable_metrics.list()] == [world["metric"]]


def test_steps_5_and_6_usage_product_create_and_retrieve(client, world):
    product = client.v1.contracts.products.retrieve(id=world["product"]).data
    assert product.type == "USAGE"
    assert product.updates == []
    for state in (product.initial, product.current):
        assert state.name == "API calls"
        assert state.billable_metric_id == world["metric"]
        assert state.pricing_group_key == ["region"]
        assert state.quantity_conversion.conversion_factor == 1000
        assert state.quantity_conversion.operation == "DIVIDE"
        assert state.quantity_rounding.decimal_places == 0
        assert state.quantity_rounding.rounding_method == "ROUND_UP"


def test_product_update_from_a_later_hour(client, world):
    client.v1.contracts.products.update(
        product_id=world["product"], starting_at=datetime(2999, 1, 1, tzinfo=UTC), name="Calls"
    )
    product = client.v1.contracts.products.retrieve(id=world["product"]).data
    assert product.current.name == "API calls"
    assert [(u.name, u.starting_at) for u in product.updates] == [
        ("Calls", datetime(2999, 1, 1, tzinfo=UTC))
    ]


def test_step_7_rate_card_defaults_to_usd_cents(client, world):
    card = client.v1.contracts.rate_cards.retrieve(id=world["rate_card"]).data
    assert card.name == "Standard"
    assert [a.name for a in card.aliases] == ["std"]
    assert (card.fiat_credit_type.id, card.fiat_credit_type.name) == (USD, "USD (cents)")


def test_steps_8_and_9_add_rate_answers_the_rate_and_add_rates_the_card(world):
    flat = world["flat"]
    assert (flat.rate_type, flat.price, flat.pricing_group_values) == (
        "FLAT",
        250,
        {"region": "eu"},
    )
    assert flat.credit_type.id == USD
    assert world["tiered"].id == world["rate_card"]


def test_step_10_rates_at_a_point_in_time(client, world):
    rates = list(
        client.v1.contracts.rate_cards.rates.list(
            rate_card_id=world["rate_card"], at=datetime(2024, 2, 1, tzinfo=UTC)
        )
    )
    by_region = {r.pricing_group_values["region"]: r for r in rates}
    assert set(by_region) == {"eu", "us"}
    assert by_region["eu"].rate.price == 250
    assert by_region["eu"].product_name == "API calls"
    assert by_region["eu"].entitled is True
    assert by_region["eu"].starting_at == START
    assert [(t.price, t.size) for t in by_region["us"].rate.tiers] == [(300, 100), (200, None)]
    before = client.v1.contracts.rate_cards.rates.list(
        rate_card_id=world["rate_card"], at=datetime(2023, 12, 31, 23, tzinfo=UTC)
    )
    assert list(before) == []


def test_steps_11_to_13_customer_create_retrieve_and_find_by_alias(client, world):
    created = world["customer"]
    assert (created.name, created.ingest_aliases) == ("Acme", ["acme@example.com"])
    assert created.external_id == "acme@example.com"
    detail = client.v1.customers.retrieve(customer_id=created.id).data
    assert (detail.name, detail.ingest_aliases, detail.archived_at) == (
        "Acme",
        ["acme@example.com"],
        None,
    )
    found = list(client.v1.customers.list(ingest_alias="acme@example.com"))
    assert [c.id for c in found] == [created.id]
    assert list(client.v1.customers.list(ingest_alias="nobody")) == []


def test_an_alias_taken_by_another_customer_is_a_conflict(client, world):
    with pytest.raises(metronome.ConflictError) as raised:
        client.v1.customers.create(name="Copy", ingest_aliases=["acme@example.com"])
    assert raised.value.body == {
        "message": "The ingest alias 'acme@example.com' already belongs to customer 'Acme'."
    }


def test_steps_14_and_15_contract_create_and_v2_retrieve(client, world):
    customer_id = world["customer"].id
    created = client.v1.contracts.create(
        customer_id=customer_id,
        rate_card_id=world["rate_card"],
        starting_at=START,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        uniqueness_key="acme-2024",
    )
    contract = client.v2.contracts.retrieve(
        contract_id=created.data.id, customer_id=customer_id
    ).data
    assert contract.id == created.data.id
    assert contract.customer_id == customer_id
    assert contract.rate_card_id == world["rate_card"]
    assert contract.starting_at == START
    assert contract.ending_before is None
    assert contract.usage_statement_schedule.frequency == "MONTHLY"
    assert contract.usage_statement_schedule.billing_anchor_date == START
    v1 = client.v1.contracts.retrieve(contract_id=created.data.id, customer_id=customer_id).data
    assert v1.current.rate_card_id == world["rate_card"]
    with pytest.raises(metronome.ConflictError) as raised:
        client.v1.contracts.create(
            customer_id=customer_id,
            rate_card_alias="std",
            starting_at=START,
            uniqueness_key="acme-2024",
        )
    assert raised.value.response.headers["x-should-retry"] == "false"


def test_contract_by_rate_card_alias_and_edit(client, world):
    customer_id = world["customer"].id
    created = client.v1.contracts.create(
        customer_id=customer_id, rate_card_alias="std", starting_at=START, name="Trial"
    )
    client.v2.contracts.edit(
        contract_id=created.data.id,
        customer_id=customer_id,
        update_contract_name="Annual",
        update_contract_end_date=datetime(2025, 1, 1, tzinfo=UTC),
    )
    client.v1.contracts.update_end_date(
        contract_id=created.data.id,
        customer_id=customer_id,
        ending_before=datetime(2025, 2, 1, tzinfo=UTC),
    )
    contract = client.v2.contracts.retrieve(
        contract_id=created.data.id, customer_id=customer_id
    ).data
    assert (contract.name, contract.rate_card_id) == ("Annual", world["rate_card"])
    assert contract.ending_before == datetime(2025, 2, 1, tzinfo=UTC)


def test_step_21_archive_contract_then_customer(client, world):
    customer_id = world["customer"].id
    created = client.v1.contracts.create(
        customer_id=customer_id, rate_card_id=world["rate_card"], starting_at=START
    )
    archived = client.v1.contracts.archive(
        contract_id=created.data.id, customer_id=customer_id, void_invoices=True
    )
    assert archived.data.id == created.data.id
    contract = client.v2.contracts.retrieve(
        contract_id=created.data.id, customer_id=customer_id
    ).data
    assert contract.archived_at is not None
    assert list(client.v2.contracts.list(customer_id=customer_id)) == []
    assert [
        c.id for c in client.v2.contracts.list(customer_id=customer_id, include_archived=True)
    ] == [created.data.id]
    assert client.v1.customers.archive(id=customer_id).data.id == customer_id
    assert client.v1.customers.retrieve(customer_id=customer_id).data.archived_at is not None
    assert list(client.v1.customers.list()) == []
    assert [c.id for c in client.v1.customers.list(only_archived=True)] == [customer_id]


def test_errors_come_back_as_sdk_exceptions_with_the_message(client, world):
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(metronome.NotFoundError) as raised:
        client.v1.customers.retrieve(customer_id=unknown)
    assert raised.value.body == {"message": f"Customer {unknown} not found."}
    with pytest.raises(metronome.BadRequestError) as raised:
        client.v1.contracts.rate_cards.rates.add(
            rate_card_id=world["rate_card"],
            product_id=world["product"],
            entitled=True,
            rate_type="FLAT",
            price=-1,
            pricing_group_values={"region": "eu"},
            starting_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
    assert raised.value.body == {"message": "price: A price cannot be negative."}
