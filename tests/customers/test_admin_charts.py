"""The chart endpoints of the contract page (one JSON endpoint per chart) and the canvases on
the contract and customer pages."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import Product
from tests.catalog.factories import ProductFactory
from tests.invoicing.test_admin import world  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_the_usage_and_spend_endpoints_answer_chart_json(admin_client, world):  # noqa: F811
    product = Product.objects.get(name="Input Tokens")
    usage_url = reverse("admin:customers_contract_chart_usage", args=[world.contract.pk])
    spend_url = reverse("admin:customers_contract_chart_spend", args=[world.contract.pk])

    usage = admin_client.get(usage_url, {"product": str(product.pk)})
    spend = admin_client.get(spend_url)

    assert usage.status_code == 200 and spend.status_code == 200
    assert usage.json()["title"] == "Input Tokens: usage by day"
    assert {"labels", "datasets", "unit", "stacked"} <= set(spend.json())


def test_a_usage_chart_needs_a_usage_product(admin_client, world):  # noqa: F811
    url = reverse("admin:customers_contract_chart_usage", args=[world.contract.pk])
    subscription = ProductFactory(subscription=True)

    missing = admin_client.get(url)
    malformed = admin_client.get(url, {"product": "not-a-uuid"})
    not_usage = admin_client.get(url, {"product": str(subscription.pk)})

    assert missing.status_code == 400
    assert missing.json() == {"message": "product: Give the id of a usage product."}
    assert malformed.status_code == 400
    assert malformed.json() == {"message": "product: 'not-a-uuid' is not a valid UUID."}
    assert not_usage.status_code == 404
    assert not_usage.json() == {"message": f"usage product {subscription.pk} not found."}


def test_an_unknown_contract_is_a_json_404(admin_client, world):  # noqa: F811
    url = reverse("admin:customers_contract_chart_spend", args=[uuid.UUID(int=7)])

    answer = admin_client.get(url)

    assert answer.status_code == 404
    assert answer.json() == {"message": f"contract {uuid.UUID(int=7)} not found."}


def test_the_chart_endpoints_need_the_view_permission(client, world):  # noqa: F811
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))

    url = reverse("admin:customers_contract_chart_spend", args=[world.contract.pk])

    answer = client.get(url)

    assert answer.status_code == 403
    assert answer.json() == {
        "message": "Viewing contracts needs the customers.view_contract permission."
    }


def test_the_chart_endpoints_need_a_staff_login(client, world):  # noqa: F811
    url = reverse("admin:customers_contract_chart_spend", args=[world.contract.pk])

    assert client.get(url).status_code == 403
    client.force_login(User.objects.create_user("customer", password="pw"))
    assert client.get(url).status_code == 403


def test_the_contract_and_customer_pages_carry_the_canvases(admin_client, world):  # noqa: F811
    contract_page = admin_client.get(
        reverse("admin:customers_contract_change", args=[world.contract.pk])
    ).content.decode()
    spend_url = reverse("admin:customers_contract_chart_spend", args=[world.contract.pk])

    assert f'data-chart-url="{spend_url}"' in contract_page
    assert "charts/chart.umd.min.js" in contract_page
    assert "charts/billing_charts.js" in contract_page
