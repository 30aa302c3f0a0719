"""The SDK's billing provider methods, strict, against the live server."""

from datetime import UTC, datetime

import metronome
import pytest

from customers.models import BillingProviderConfiguration, Contract
from payments.models import BillingProviderConnection

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


@pytest.fixture
def connection(client):
    return BillingProviderConnection.objects.create(
        secret_key="sk_test_abcdef1234", webhook_secret="whsec_abc"
    )


def test_billing_config_create_retrieve_delete(client, connection):
    customer = client.v1.customers.create(name="Acme").data
    client.v1.customers.billing_config.create(
        customer_id=customer.id,
        billing_provider_type="stripe",
        billing_provider_customer_id="cus_A1",
        stripe_collection_method="charge_automatically",
    )
    got = client.v1.customers.billing_config.retrieve(
        customer_id=customer.id, billing_provider_type="stripe"
    )
    assert got.data.billing_provider_customer_id == "cus_A1"
    assert got.data.stripe_collection_method == "charge_automatically"
    client.v1.customers.billing_config.create(
        customer_id=customer.id,
        billing_provider_type="stripe",
        billing_provider_customer_id="cus_B2",
    )
    got = client.v1.customers.billing_config.retrieve(
        customer_id=customer.id, billing_provider_type="stripe"
    )
    assert (got.data.billing_provider_customer_id, got.data.stripe_collection_method) == (
        "cus_B2",
        None,
    )
    client.v1.customers.billing_config.delete(
        customer_id=customer.id, billing_provider_type="stripe"
    )
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.billing_config.retrieve(
            customer_id=customer.id, billing_provider_type="stripe"
        )
    assert BillingProviderConfiguration.objects.filter(archived_at__isnull=True).count() == 0


def test_set_get_archive_configurations_and_a_contract_using_one(client, connection, world):
    customer = world["customer"]
    made = client.v1.customers.set_billing_configurations(
        data=[
            {
                "billing_provider": "stripe",
                "customer_id": customer.id,
                "configuration": {
                    "stripe_customer_id": "cus_X9",
                    "stripe_collection_method": "send_invoice",
                },
                "delivery_method": "direct_to_billing_provider",
            }
        ]
    ).data
    assert made[0].billing_provider == "stripe"
    assert made[0].configuration == {
        "stripe_customer_id": "cus_X9",
        "stripe_collection_method": "send_invoice",
    }
    assert made[0].delivery_method_id == str(connection.pk)
    listed = client.v1.customers.retrieve_billing_configurations(customer_id=customer.id).data
    assert [c.id for c in listed] == [made[0].id]
    assert listed[0].delivery_method == "direct_to_billing_provider"

    contract = client.v1.contracts.create(
        customer_id=customer.id,
        rate_card_id=world["rate_card"],
        starting_at=datetime(2024, 1, 1, tzinfo=UTC),
        billing_provider_configuration={
            "billing_provider": "stripe",
            "delivery_method": "direct_to_billing_provider",
        },
    ).data
    stored = Contract.objects.get(pk=contract.id)
    assert (str(stored.billing_provider_configuration_id), stored.billing_provider) == (
        made[0].id,
        "stripe",
    )
    got = client.v2.contracts.retrieve(contract_id=contract.id, customer_id=customer.id).data
    assert got.customer_billing_provider_configuration.id == made[0].id

    by_id = client.v1.contracts.create(
        customer_id=customer.id,
        rate_card_id=world["rate_card"],
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
        billing_provider_configuration={"billing_provider_configuration_id": made[0].id},
    ).data
    assert str(Contract.objects.get(pk=by_id.id).billing_provider_configuration_id) == made[0].id

    archived = client.v1.customers.archive_billing_configurations(
        customer_id=customer.id, customer_billing_provider_configuration_ids=[made[0].id]
    ).data
    assert archived.customer_billing_provider_configuration_ids == [made[0].id]
    assert client.v1.customers.retrieve_billing_configurations(customer_id=customer.id).data == []
    everything = client.v1.customers.retrieve_billing_configurations(
        customer_id=customer.id, include_archived=True
    ).data
    assert everything[0].archived_at is not None


def test_list_configured_providers_shows_the_stripe_connection(client, connection):
    providers = client.v1.settings.billing_providers.list()
    assert [
        (p.billing_provider, p.delivery_method, p.delivery_method_id) for p in providers.data
    ] == [("stripe", "direct_to_billing_provider", str(connection.pk))]
    assert providers.data[0].delivery_method_configuration == {
        "default_collection_method": "charge_automatically",
        "handoff_delay_minutes": 60,
        "enabled": True,
    }


def test_list_is_empty_without_a_connection(client):
    assert client.v1.settings.billing_providers.list().data == []


def test_set_up_billing_provider_says_marketplaces_are_not_offered(client):
    with pytest.raises(metronome.BadRequestError) as error:
        client.v1.settings.billing_providers.create(
            billing_provider="aws_marketplace",
            configuration={"aws_external_id": "x", "aws_iam_role_arn": "arn:aws:iam::1:role/x"},
            delivery_method="direct_to_billing_provider",
        )
    assert error.value.body["message"] == (
        "billing_provider: aws_marketplace is not offered: invoices can be sent to Stripe only "
        "(marketplaces and other providers come later)."
    )


def test_a_contract_from_a_package_takes_a_billing_provider_configuration(
    client, connection, world
):
    customer = world["customer"]
    made = client.v1.customers.set_billing_configurations(
        data=[
            {
                "billing_provider": "stripe",
                "customer_id": customer.id,
                "configuration": {"stripe_customer_id": "cus_P7"},
                "delivery_method": "direct_to_billing_provider",
            }
        ]
    ).data
    package = client.v1.packages.create(name="Starter", rate_card_id=world["rate_card"]).data
    contract = client.v1.contracts.create(
        customer_id=customer.id,
        package_id=package.id,
        starting_at=datetime(2024, 1, 1, tzinfo=UTC),
        billing_provider_configuration={
            "billing_provider": "stripe",
            "delivery_method": "direct_to_billing_provider",
        },
    ).data
    got = client.v2.contracts.retrieve(contract_id=contract.id, customer_id=customer.id).data
    assert got.package_id == package.id
    assert got.customer_billing_provider_configuration.id == made[0].id
    assert Contract.objects.get(pk=contract.id).billing_provider == "stripe"
