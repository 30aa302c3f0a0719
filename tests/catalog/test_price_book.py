"""The rate card page opens on a compact price book: product, group values, price and tiers,
from and to, one row a rate."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.catalog.factories import RateCardFactory, RateFactory, RateTierFactory

pytestmark = pytest.mark.django_db


def test_the_price_book_lists_every_rate_in_one_table(admin_client):
    card = RateCardFactory(name="Standard")
    RateFactory(
        rate_card=card,
        price=Decimal("150"),
        pricing_group_values={"model_name": "model-A"},
        product__name="Input Tokens",
        product__pricing_group_key=["model_name"],
        product__billable_metric__group_keys=[["model_name"]],
        ending_before=datetime(2026, 6, 1, tzinfo=UTC),
    )
    tiered = RateFactory(
        rate_card=card,
        rate_type="TIERED",
        price=None,
        product__name="Images",
        product__billable_metric__group_keys=[],
    )
    RateTierFactory(rate=tiered, level=1, size=Decimal("100"), price=Decimal("2"))
    RateTierFactory(rate=tiered, level=2, size=None, price=Decimal("1.5"))

    page = admin_client.get(reverse("admin:catalog_ratecard_change", args=[card.pk]))

    html = page.content.decode()
    book = html[
        html.index('<table class="price-book') : html.index(
            "</table>", html.index('<table class="price-book')
        )
    ]
    assert book.index("Images") < book.index("Input Tokens")
    assert "model_name=model-A" in book
    assert "$1.50" in book
    assert "first 100 at $0.02, then $0.015" in book
    assert "2026-01-01 00:00" in book and "2026-06-01 00:00" in book and "open-ended" in book
    assert "(ended)" in book


def test_a_products_unit_is_its_display_unit_else_its_conversion_name_else_its_metric():
    from django.utils import timezone

    from catalog.selectors import product_unit_label
    from tests.catalog.factories import BillableMetricFactory, ProductFactory

    now = timezone.now()
    metric = BillableMetricFactory(aggregation_type="SUM", aggregation_key="seconds")
    plain = ProductFactory(billable_metric=metric)
    converted = ProductFactory(
        billable_metric=metric,
        quantity_conversion_factor=Decimal(60),
        quantity_conversion_operation="DIVIDE",
        quantity_conversion_name="minutes of compute",
    )
    named = ProductFactory(billable_metric=metric, display_unit="minutes")

    assert product_unit_label(plain, at=now) == "sum of seconds"
    assert product_unit_label(converted, at=now) == "minutes of compute"
    assert product_unit_label(named, at=now) == "minutes"
