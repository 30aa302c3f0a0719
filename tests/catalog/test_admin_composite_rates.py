"""Composite rates in the rate card admin: tiered percentages as tier rows, the minimum and the
scope (change permission on rate cards, like every rate)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.admin.display import rate_price_summary
from catalog.models import Rate
from tests.catalog.admin_posts import page_errors, rate_card_data, rate_rows
from tests.catalog.factories import ProductFactory, RateFactory

pytestmark = pytest.mark.django_db


def composite_rows(product, **fields):
    rows = rate_rows(0, product=product, **fields)
    rows["rates-0-composite_minimum"] = "500"  # dollars: $500 is 50000 cents
    rows["rates-0-composite_scope"] = "CUSTOMER"
    return rows


def test_a_tiered_percentage_rate_with_a_minimum_and_scope_is_created(admin_client):
    support = ProductFactory(composite=True, name="Support", composite_tags=["infra"])
    data = rate_card_data(
        "Standard",
        [
            composite_rows(
                support,
                rate_type="TIERED_PERCENTAGE",
                tiers=[("1000000", "0.1"), ("", "0.05")],
            )
        ],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    rate = Rate.objects.get(rate_card__name="Standard")
    assert (rate.rate_type, rate.composite_minimum, rate.composite_scope) == (
        "TIERED_PERCENTAGE",
        Decimal("50000"),
        "CUSTOMER",
    )
    assert list(rate.tiers.values_list("level", "size", "price")) == [
        (1, Decimal("1000000"), Decimal("0.1")),
        (2, None, Decimal("0.05")),
    ]
    assert rate_price_summary(rate) == (
        "first $10,000.00 at 10%, then 5% of spend, at least $500.00 "
        "(the customer's spend on all its contracts)"
    )


def test_a_tiered_percentage_above_one_is_refused(admin_client):
    support = ProductFactory(composite=True)
    data = rate_card_data(
        "Card",
        [composite_rows(support, rate_type="TIERED_PERCENTAGE", tiers=[("10", "0.5"), ("", "2")])],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert page_errors(response) == ["Tier 2: a percentage is a fraction between 0 and 1."]


def test_a_minimum_on_a_usage_rate_is_refused(admin_client):
    product = ProductFactory()
    data = rate_card_data("Card", [composite_rows(product, price="150")])

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert sorted(page_errors(response)) == [
        "Only a composite (percentage) rate has a minimum.",
        "Only a composite (percentage) rate has a scope.",
    ]


def test_a_percentage_rate_page_shows_its_minimum(admin_client):
    rate = RateFactory(
        product=ProductFactory(composite=True),
        rate_type="PERCENTAGE",
        price=Decimal("0.1"),
        composite_minimum=Decimal("50000"),
    )

    assert rate_price_summary(rate) == "10% of spend, at least $500.00"
    page = admin_client.get(reverse("admin:catalog_rate_change", args=[rate.pk]))
    assert page.status_code == 200
    assert "Composite rates" in page.content.decode()
