"""The contract forms' billing provider configuration follows the customer chosen: the add form
and the "create contract from package" page offer that customer's active configurations (the
posted customer's on submit, refilled by a script from a JSON page when the customer changes)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from customers.models import Contract
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import BillingProviderConfigurationFactory, CustomerFactory

from .test_admin import contract_data, page_errors

pytestmark = pytest.mark.django_db

ADD = reverse("admin:customers_contract_add")
CONFIGURATIONS = reverse("admin:customers_contract_billing_configurations")


@pytest.fixture
def configs(db):
    """Acme's active Stripe configuration, an archived one of Acme's, and another customer's."""
    acme = BillingProviderConfigurationFactory(
        customer=CustomerFactory(name="Acme"), billing_provider_customer_id="cus_Acme1"
    )
    archived = BillingProviderConfigurationFactory(
        customer=acme.customer,
        billing_provider_customer_id="cus_AcmeOld",
        archived_at=timezone.now(),
    )
    other = BillingProviderConfigurationFactory(billing_provider_customer_id="cus_Other")
    return acme, archived, other


def _staff(client, *codenames):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)


def test_the_add_form_saves_a_configuration_of_the_customer_chosen_on_the_form(
    admin_client, configs
):
    acme, _, _ = configs
    data = contract_data(acme.customer, RateCardFactory())
    data["billing_provider_configuration"] = str(acme.pk)
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, page_errors(response)
    contract = Contract.objects.get(customer=acme.customer)
    assert (contract.billing_provider_configuration, contract.billing_provider) == (acme, "stripe")


def test_the_add_form_refuses_another_customers_or_an_archived_configuration(admin_client, configs):
    acme, archived, other = configs
    for config in (other, archived):
        data = contract_data(acme.customer, RateCardFactory())
        data["billing_provider_configuration"] = str(config.pk)
        response = admin_client.post(ADD, data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["billing_provider_configuration"] == [
            "Select a valid choice. That choice is not one of the available choices."
        ]
    assert not Contract.objects.exists()


def test_the_add_page_of_a_customer_lists_its_active_configurations_and_follows_the_customer(
    admin_client, configs
):
    acme, archived, other = configs
    html = admin_client.get(f"{ADD}?customer={acme.customer_id}").content.decode()
    assert f'<option value="{acme.pk}">Stripe cus_Acme1</option>' in html
    assert str(archived.pk) not in html
    assert str(other.pk) not in html
    assert f'data-configurations-url="{CONFIGURATIONS}"' in html
    assert 'data-customer-field="customer"' in html
    assert "admin_extra/billing_configurations.js" in html
    assert "The list follows the customer field" in html


def test_the_add_page_without_a_customer_offers_no_configuration_yet(admin_client, configs):
    response = admin_client.get(ADD)
    field = response.context["adminform"].form.fields["billing_provider_configuration"]
    assert list(field.queryset) == []
    assert "choose it then" in field.help_text


def test_the_json_page_lists_a_customers_active_configurations(client, configs):
    acme, _, _ = configs
    _staff(client, "add_contract")
    response = client.get(CONFIGURATIONS, {"customer": str(acme.customer_id)})
    assert response.json() == {"results": [{"id": str(acme.pk), "text": "Stripe cus_Acme1"}]}


def test_the_json_page_answers_bad_and_unknown_customers_with_a_message(admin_client):
    response = admin_client.get(CONFIGURATIONS, {"customer": "nope"})
    assert (response.status_code, response.json()) == (
        400,
        {"message": "customer: give a customer id."},
    )
    unknown = "00000000-0000-0000-0000-000000000001"
    response = admin_client.get(CONFIGURATIONS, {"customer": unknown})
    assert (response.status_code, response.json()) == (
        404,
        {"message": f"customer: no customer {unknown}."},
    )


def test_the_json_page_needs_the_permission_to_add_or_change_contracts(client, configs):
    acme, _, _ = configs
    _staff(client, "view_contract", "view_customer")
    assert client.get(CONFIGURATIONS, {"customer": str(acme.customer_id)}).status_code == 403
    Permission.objects.get(codename="change_contract").user_set.add(User.objects.get())
    assert client.get(CONFIGURATIONS, {"customer": str(acme.customer_id)}).status_code == 200
