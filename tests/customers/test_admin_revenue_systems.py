"""The admin shows a customer's revenue system configurations and, on the contract page, the
billing provider and revenue system configurations a contract uses over time; reading them
takes the view permission. A spend tracker's errors land on its field in a form."""

from datetime import UTC, datetime

import pytest
from django import forms
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from customers.models import SpendTracker
from tests.customers.factories import (
    BillingProviderConfigurationFactory,
    ContractConfigurationChangeFactory,
    RevenueSystemConfigurationFactory,
)

pytestmark = pytest.mark.django_db


def _staff(client, *codenames):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)


@pytest.fixture
def change():
    """A contract from 2026-01-01 on NS-A, on NS-B from 2026-02-01, with a Stripe account."""
    change = ContractConfigurationChangeFactory(
        revenue_system_configuration__configuration={"netsuite_customer_id": "NS-B"}
    )
    contract = change.contract
    contract.revenue_system_configuration = RevenueSystemConfigurationFactory(
        customer=contract.customer, configuration={"netsuite_customer_id": "NS-A"}
    )
    contract.billing_provider_configuration = BillingProviderConfigurationFactory(
        customer=contract.customer, billing_provider_customer_id="cus_Page1"
    )
    contract.billing_provider = "stripe"
    contract.save()
    return change


def test_the_customer_page_lists_its_revenue_system_configurations(client, change):
    _staff(client, "view_customer", "view_revenuesystemconfiguration")
    page = client.get(
        reverse("admin:customers_customer_change", args=[change.contract.customer_id])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Revenue system configurations (stored and carried" in text
    assert "NS-A" in text and "NS-B" in text


def test_the_contract_page_shows_the_configurations_over_time(client, change):
    _staff(client, "view_contract")
    page = client.get(reverse("admin:customers_contract_change", args=[change.contract_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        '<td data-label="Kind">Revenue system</td><td data-label="Configuration">NetSuite via '
        'Direct to billing provider (netsuite_customer_id: NS-A)</td><td data-label="From">'
        '2026-01-01 00:00</td><td data-label="Until">2026-02-01 00:00</td>'
    ) in text
    assert (
        '<td data-label="Configuration">NetSuite via Direct to billing provider '
        '(netsuite_customer_id: NS-B)</td><td data-label="From">2026-02-01 00:00</td>'
        '<td data-label="Until">—</td>'
    ) in text
    assert (
        '<td data-label="Kind">Billing provider</td><td data-label="Configuration">Stripe cus_Page1'
        in text
    )


def test_the_customer_page_leaves_them_out_without_their_view_permission(client, change):
    _staff(client, "view_customer")
    page = client.get(
        reverse("admin:customers_customer_change", args=[change.contract.customer_id])
    )
    assert page.status_code == 200
    assert "NS-A" not in page.content.decode()


def test_the_pages_need_the_view_permission(client, change):
    _staff(client, "view_invoice")
    customer = reverse("admin:customers_customer_change", args=[change.contract.customer_id])
    contract = reverse("admin:customers_contract_change", args=[change.contract_id])
    assert client.get(customer).status_code == 403
    assert client.get(contract).status_code == 403


def test_a_spend_trackers_errors_are_shown_on_its_field():
    form_class = forms.modelform_factory(
        SpendTracker,
        fields=["alias", "applicable_spend_specifiers", "credit_type", "reset_frequency"],
    )
    tracker = SpendTracker(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    form = form_class(
        data={
            "alias": "promo",
            "applicable_spend_specifiers": (
                '[{"sources": ["GIFT"]}, {"sources": ["MANUAL"], "discounted": "SOMETIMES"}]'
            ),
            "credit_type": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
            "reset_frequency": "BILLING_PERIOD",
        },
        instance=tracker,
    )
    assert not form.is_valid()
    assert form.non_field_errors() == []
    assert form.errors["applicable_spend_specifiers"] == [
        "Specifier 1: sources must be THRESHOLD_RECHARGE and/or MANUAL.",
        "Specifier 2: discounted must be ANY, DISCOUNTED_ONLY or UNDISCOUNTED_ONLY.",
    ]
