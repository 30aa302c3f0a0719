"""Revenue system configurations and contract configuration updates through the official SDK,
strict validation on: `customer_revenue_system_configurations` on customer create (shown on
customer get), `revenue_system_configuration` on contract create (by provider and delivery
method, or by id), the contract's `revenue_system_configuration_schedule` and
`billing_provider_configuration_schedule` on v1/v2 get and list, and a v2 edit's
`add_revenue_system_configuration_update` / `add_billing_provider_configuration_update` (in the
edit history). Nothing is sent to a revenue system: the configuration is stored and returned."""

from datetime import UTC, datetime

import metronome
import pytest

from payments.models import BillingProviderConnection
from tests.compat.conftest import START

NETSUITE = {
    "provider": "netsuite",
    "configuration": {"netsuite_customer_id": "NS-1001"},
    "delivery_method": "direct_to_billing_provider",
}


def _period_start(months_ahead: int = 0) -> datetime:
    """The start of the current (or a later) calendar month: a monthly contract's period."""
    now = datetime.now(UTC)
    month = now.month - 1 + months_ahead
    return datetime(now.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


@pytest.fixture
def customer(client):
    made = client.v1.customers.create(
        name="Ledgerly",
        customer_revenue_system_configurations=[
            NETSUITE,
            {
                "provider": "netsuite",
                "configuration": {"netsuite_customer_id": "NS-2002"},
                "delivery_method_id": "6f1d3c52-0a7e-4b43-9a53-0b8f6f7a2d11",
            },
        ],
    ).data.id
    shown = client.v1.customers.retrieve(customer_id=made).data.to_dict()
    configs = shown["customer_revenue_system_configurations"]
    return {"id": made, "configs": {c["configuration"]["netsuite_customer_id"]: c for c in configs}}


def test_a_customer_keeps_its_revenue_system_configurations(client, customer):
    first = customer["configs"]["NS-1001"]
    assert {k: v for k, v in first.items() if k != "id"} == {
        "archived_at": None,
        "configuration": {"netsuite_customer_id": "NS-1001"},
        "customer_id": customer["id"],
        "delivery_method": "direct_to_billing_provider",
        "delivery_method_configuration": {},
        "delivery_method_id": "",
        "provider": "netsuite",
    }
    second = customer["configs"]["NS-2002"]
    assert second["delivery_method_id"] == "6f1d3c52-0a7e-4b43-9a53-0b8f6f7a2d11"


def test_a_contract_names_its_revenue_system_and_an_edit_changes_it(client, world, customer):
    first = customer["configs"]["NS-1001"]
    second = customer["configs"]["NS-2002"]
    contract = client.v1.contracts.create(
        customer_id=customer["id"],
        rate_card_id=world["rate_card"],
        starting_at=START,
        revenue_system_configuration={"revenue_system_configuration_id": first["id"]},
    ).data.id
    got = client.v2.contracts.retrieve(contract_id=contract, customer_id=customer["id"]).data
    (entry,) = got.revenue_system_configuration_schedule
    assert (entry.effective_at, entry.effective_until) == (START, None)
    assert entry.revenue_system_configuration.id == first["id"]
    assert entry.revenue_system_configuration.provider == "netsuite"
    assert entry.revenue_system_configuration.configuration == {"netsuite_customer_id": "NS-1001"}
    assert got.billing_provider_configuration_schedule is None

    edited = client.v2.contracts.edit(
        contract_id=contract,
        customer_id=customer["id"],
        add_revenue_system_configuration_update={
            "revenue_system_configuration": {"revenue_system_configuration_id": second["id"]},
            "schedule": {"effective_at": "START_OF_NEXT_PERIOD"},
        },
    ).data
    next_period = _period_start(1)
    update = edited.edit.to_dict()["add_revenue_system_configuration_update"]
    assert update["revenue_system_configuration"]["id"] == second["id"]
    assert update["schedule"] == {"effective_at": next_period.isoformat().replace("+00:00", "Z")}

    got = client.v2.contracts.retrieve(contract_id=contract, customer_id=customer["id"]).data
    assert [
        (e.effective_at, e.effective_until, e.revenue_system_configuration.id)
        for e in got.revenue_system_configuration_schedule
    ] == [(START, next_period, first["id"]), (next_period, None, second["id"])]
    (listed,) = client.v2.contracts.list(customer_id=customer["id"]).data
    assert len(listed.revenue_system_configuration_schedule) == 2
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=customer["id"]).data
    assert len(v1.to_dict()["revenue_system_configuration_schedule"]) == 2
    (history,) = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=customer["id"]
    ).data
    shown = history.to_dict()["add_revenue_system_configuration_update"]
    assert shown["revenue_system_configuration"]["id"] == second["id"]


def test_a_contract_names_the_one_revenue_system_of_a_provider_and_delivery_method(client, world):
    made = client.v1.customers.create(
        name="Solo", customer_revenue_system_configurations=[NETSUITE]
    ).data.id
    contract = client.v1.contracts.create(
        customer_id=made,
        rate_card_id=world["rate_card"],
        starting_at=START,
        revenue_system_configuration={
            "provider": "netsuite",
            "delivery_method": "direct_to_billing_provider",
        },
    ).data.id
    got = client.v2.contracts.retrieve(contract_id=contract, customer_id=made).data
    (entry,) = got.revenue_system_configuration_schedule
    assert entry.revenue_system_configuration.configuration == {"netsuite_customer_id": "NS-1001"}


def test_an_edit_switches_the_billing_provider_configuration_from_a_period(client, world):
    BillingProviderConnection.objects.create(secret_key="sk_test_abc123", webhook_secret="whsec")
    customer = world["customer"].id

    def stripe(cus: str) -> str:
        return (
            client.v1.customers.set_billing_configurations(
                data=[
                    {
                        "billing_provider": "stripe",
                        "customer_id": customer,
                        "configuration": {"stripe_customer_id": cus},
                        "delivery_method": "direct_to_billing_provider",
                    }
                ]
            )
            .data[0]
            .id
        )

    old = stripe("cus_Old1")
    contract = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=world["rate_card"],
        starting_at=START,
        billing_provider_configuration={"billing_provider_configuration_id": old},
    ).data.id
    new = stripe("cus_New2")
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=customer,
        add_billing_provider_configuration_update={
            "billing_provider_configuration": {"billing_provider_configuration_id": new},
            "schedule": {"effective_at": "START_OF_CURRENT_PERIOD"},
        },
    )
    got = client.v2.contracts.retrieve(contract_id=contract, customer_id=customer).data
    current = _period_start()
    assert [
        (e.effective_at, e.effective_until, e.billing_provider_configuration.id)
        for e in got.billing_provider_configuration_schedule
    ] == [(START, current, old), (current, None, new)]
    assert got.customer_billing_provider_configuration.id == new
    assert got.customer_billing_provider_configuration.configuration == {
        "stripe_customer_id": "cus_New2"
    }
    (history,) = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=customer
    ).data
    update = history.to_dict()["add_billing_provider_configuration_update"]
    assert update["billing_provider_configuration"]["id"] == new


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"customer_revenue_system_configurations": [{**NETSUITE, "provider": "salesforce"}]},
            "customer_revenue_system_configurations[0].provider: 'salesforce' is not one of "
            "netsuite.",
        ),
        (
            {"customer_revenue_system_configurations": [{**NETSUITE, "delivery_method": "fax"}]},
            "customer_revenue_system_configurations[0].delivery_method: 'fax' is not one of "
            "direct_to_billing_provider, aws_sqs, tackle, aws_sns.",
        ),
        (
            {
                "customer_revenue_system_configurations": [
                    {"provider": "netsuite", "configuration": {}}
                ]
            },
            "customer_revenue_system_configurations[0].delivery_method: Give delivery_method "
            "or delivery_method_id (one of them).",
        ),
    ],
)
def test_a_bad_customer_revenue_system_configuration_is_refused_by_field(client, body, message):
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.customers.create(name="Bad", **body)
    assert refused.value.body["message"] == message
    assert client.v1.customers.list().data == []


def test_a_contract_names_only_its_customers_revenue_system(client, world, customer):
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=world["customer"].id,
            rate_card_id=world["rate_card"],
            starting_at=START,
            revenue_system_configuration={
                "revenue_system_configuration_id": customer["configs"]["NS-1001"]["id"]
            },
        )
    assert refused.value.body["message"] == (
        "revenue_system_configuration.revenue_system_configuration_id: "
        f"{customer['configs']['NS-1001']['id']} is not an active revenue system configuration "
        f"of customer {world['customer'].id}."
    )
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=world["customer"].id,
            rate_card_id=world["rate_card"],
            starting_at=START,
            revenue_system_configuration={"provider": "netsuite"},
        )
    assert refused.value.body["message"] == (
        f"revenue_system_configuration: Customer {world['customer'].id} has no active netsuite "
        "revenue system configuration delivered by direct_to_billing_provider (add one with "
        "customer_revenue_system_configurations on customer create)."
    )
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=customer["id"],
            rate_card_id=world["rate_card"],
            starting_at=START,
            revenue_system_configuration={"provider": "netsuite"},
        )
    assert refused.value.body["message"] == (
        f"revenue_system_configuration: Customer {customer['id']} has several active ones "
        "(netsuite revenue system configuration delivered by direct_to_billing_provider): "
        "give revenue_system_configuration_id."
    )
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=customer["id"],
            rate_card_id=world["rate_card"],
            starting_at=START,
            revenue_system_configuration={
                "provider": "netsuite",
                "revenue_system_configuration_id": customer["configs"]["NS-1001"]["id"],
            },
        )
    assert refused.value.body["message"] == (
        "revenue_system_configuration: Give revenue_system_configuration_id, or provider and "
        "delivery_method."
    )
