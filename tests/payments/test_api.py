import uuid

import pytest

from customers.models import BillingProviderConfiguration, Contract
from tests.invoicing.factories import CustomerFactory, RateCardFactory

from .conftest import stripe_config


def _set(api_client, customer_id, **configuration):
    item = {
        "billing_provider": "stripe",
        "customer_id": str(customer_id),
        "configuration": configuration or {"stripe_customer_id": "cus_1"},
        "delivery_method": "direct_to_billing_provider",
    }
    return api_client.post(
        "/v1/setCustomerBillingProviderConfigurations", {"data": [item]}, format="json"
    )


@pytest.mark.django_db
def test_set_configurations_for_an_unknown_customer_is_404_and_stores_nothing(
    api_client, connection
):
    known = CustomerFactory()
    unknown = uuid.uuid4()
    body = {
        "data": [
            {
                "billing_provider": "stripe",
                "customer_id": str(c),
                "configuration": {"stripe_customer_id": "cus_1"},
                "delivery_method": "direct_to_billing_provider",
            }
            for c in (known.pk, unknown)
        ]
    }
    response = api_client.post("/v1/setCustomerBillingProviderConfigurations", body, format="json")
    assert response.status_code == 404
    assert response.json() == {"message": f"Customer {unknown} not found."}
    assert not BillingProviderConfiguration.objects.exists()


@pytest.mark.django_db
def test_set_configurations_of_an_unknown_provider_is_400(api_client, connection):
    customer = CustomerFactory()
    body = {"data": [{"billing_provider": "paypal", "customer_id": str(customer.pk)}]}
    response = api_client.post("/v1/setCustomerBillingProviderConfigurations", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("data[0].billing_provider: 'paypal' is not one of")


@pytest.mark.django_db
def test_set_configurations_of_a_provider_not_offered_is_400(api_client, connection):
    customer = CustomerFactory()
    body = {
        "data": [
            {
                "billing_provider": "netsuite",
                "customer_id": str(customer.pk),
                "delivery_method": "direct_to_billing_provider",
            }
        ]
    }
    response = api_client.post("/v1/setCustomerBillingProviderConfigurations", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "data[0].billing_provider: netsuite is not offered"
    )
    assert not BillingProviderConfiguration.objects.exists()


@pytest.mark.django_db
def test_set_configurations_without_a_stripe_secret_is_400_and_stores_nothing(api_client):
    response = _set(api_client, CustomerFactory().pk)
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "data[0].billing_provider: Stripe is not connected"
    )
    assert not BillingProviderConfiguration.objects.exists()


@pytest.mark.django_db
def test_set_configurations_needs_a_stripe_customer_id(api_client, connection):
    customer = CustomerFactory()
    missing = _set(api_client, customer.pk, stripe_collection_method="send_invoice")
    wrong = _set(api_client, customer.pk, stripe_customer_id="acct_1")
    assert missing.status_code == wrong.status_code == 400
    assert missing.json()["message"] == (
        "data[0].configuration.stripe_customer_id: Required: the Stripe customer (cus_...)."
    )
    assert wrong.json()["message"] == (
        "data[0].billing_provider_customer_id: A Stripe customer id starts with cus_."
    )
    assert not BillingProviderConfiguration.objects.exists()


@pytest.mark.django_db
def test_billing_config_bad_input(api_client, connection):
    customer = CustomerFactory()
    base = f"/v1/customers/{customer.pk}/billing-config"
    unknown_customer = api_client.post(
        f"/v1/customers/{uuid.uuid4()}/billing-config/stripe",
        {"billing_provider_customer_id": "cus_1"},
        format="json",
    )
    unknown_provider = api_client.post(
        f"{base}/paypal", {"billing_provider_customer_id": "cus_1"}, format="json"
    )
    not_offered = api_client.post(
        f"{base}/aws_marketplace", {"billing_provider_customer_id": "x"}, format="json"
    )
    missing = api_client.post(f"{base}/stripe", {}, format="json")
    nothing = api_client.get(f"{base}/stripe")
    assert unknown_customer.status_code == 404
    assert unknown_provider.status_code == 400
    assert unknown_provider.json()["message"].startswith(
        "billing_provider_type: 'paypal' is not one of aws_marketplace, stripe"
    )
    assert not_offered.status_code == 400
    assert "aws_marketplace is not offered" in not_offered.json()["message"]
    assert missing.status_code == 400
    assert missing.json()["message"] == "billing_provider_customer_id: This field is required."
    assert nothing.status_code == 404
    assert (
        nothing.json()["message"] == f"Customer {customer.pk} has no stripe billing configuration."
    )
    assert not BillingProviderConfiguration.objects.exists()


@pytest.mark.django_db
def test_billing_config_without_a_stripe_secret_is_400(api_client):
    customer = CustomerFactory()
    response = api_client.post(
        f"/v1/customers/{customer.pk}/billing-config/stripe",
        {"billing_provider_customer_id": "cus_1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("billing_provider_type: Stripe is not connected")


@pytest.mark.django_db
def test_archive_an_unknown_configuration_archives_none(api_client, connection):
    customer = CustomerFactory()
    mine = stripe_config(customer)
    stranger = uuid.uuid4()
    response = api_client.post(
        "/v1/archiveCustomerBillingProviderConfigurations",
        {
            "customer_id": str(customer.pk),
            "customer_billing_provider_configuration_ids": [str(mine.pk), str(stranger)],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"customer_billing_provider_configuration_ids: {stranger} is not a billing provider "
        "configuration of this customer."
    )
    mine.refresh_from_db()
    assert mine.archived_at is None


@pytest.mark.django_db
def test_get_configurations_of_an_unknown_customer_is_404(api_client):
    response = api_client.post(
        "/v1/getCustomerBillingProviderConfigurations",
        {"customer_id": str(uuid.uuid4())},
        format="json",
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_contract_create_with_a_configuration_the_customer_lacks(api_client, connection):
    customer = CustomerFactory()
    card = RateCardFactory()
    body = {
        "customer_id": str(customer.pk),
        "rate_card_id": str(card.pk),
        "starting_at": "2026-01-01T00:00:00Z",
    }
    none = api_client.post(
        "/v1/contracts/create",
        {**body, "billing_provider_configuration": {"billing_provider": "stripe"}},
        format="json",
    )
    unknown = uuid.uuid4()
    by_id = api_client.post(
        "/v1/contracts/create",
        {
            **body,
            "billing_provider_configuration": {"billing_provider_configuration_id": str(unknown)},
        },
        format="json",
    )
    both = api_client.post(
        "/v1/contracts/create",
        {
            **body,
            "billing_provider_configuration": {
                "billing_provider": "stripe",
                "billing_provider_configuration_id": str(unknown),
            },
        },
        format="json",
    )
    assert none.status_code == 400
    assert none.json()["message"].startswith(
        f"billing_provider_configuration: Customer {customer.pk} has no active stripe configuration"
    )
    assert by_id.status_code == 404
    assert str(unknown) in by_id.json()["message"]
    assert both.status_code == 400
    assert both.json()["message"].startswith("billing_provider_configuration: Give")
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_the_webhook_needs_no_token(client, connection):
    response = client.post("/webhooks/stripe", "{}", content_type="application/json")
    assert response.status_code == 400
