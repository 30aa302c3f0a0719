"""The contract admin form takes a CUSTOM_DATE usage statement day with its billing anchor date,
and the contract's periods follow the anchor."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from customers import periods
from customers.models import Contract
from tests.catalog.admin_posts import page_errors, split_datetime
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_admin import contract_data

pytestmark = pytest.mark.django_db

JAN_15 = datetime(2026, 1, 15, tzinfo=UTC)
DEC_31 = datetime(2025, 12, 31, tzinfo=UTC)


def test_a_contract_on_a_custom_date_counts_its_periods_from_the_anchor(admin_client):
    data = contract_data(
        CustomerFactory(),
        RateCardFactory(),
        usage_statement_day="CUSTOM_DATE",
        **split_datetime("starting_at", JAN_15),
        **split_datetime("billing_anchor_date", DEC_31),
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 302, page_errors(response)
    contract = Contract.objects.get(name="Acme 2026")
    assert contract.billing_anchor_date == DEC_31
    first = periods.first_period(periods.schedule_for(contract))
    assert (first.starting_at, first.ending_before) == (
        JAN_15,
        datetime(2026, 1, 31, tzinfo=UTC),
    )
    page = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))
    assert "Billing anchor date" in page.content.decode()


def test_custom_date_without_an_anchor_is_refused_on_the_form(admin_client):
    data = contract_data(CustomerFactory(), RateCardFactory(), usage_statement_day="CUSTOM_DATE")

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert "CUSTOM_DATE needs a billing anchor date." in page_errors(response)
    assert not Contract.objects.exists()
