"""What a Finance viewer reads on the rate card and rate pages: money as money and group values as
key=value (never the stored cents), the tiers as rows that cannot be edited or added to."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from roles.definitions import FINANCE_VIEWER
from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory, RateTierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    return client


@pytest.fixture
def card():
    card = RateCardFactory(name="Standard")
    RateFactory(
        rate_card=card,
        price=Decimal("150"),
        commit_rate_type="FLAT",
        commit_rate_price=Decimal("120"),
        pricing_group_values={"model_name": "model-A"},
        product__name="Input Tokens",
        product__pricing_group_key=["model_name"],
        product__billable_metric__group_keys=[["model_name"]],
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
    return card


def _rates_part(html: str) -> str:
    return html[html.index('id="rates-group"') :]


def test_a_viewer_reads_money_on_the_rate_card_page(viewer_client, card):
    page = viewer_client.get(reverse("admin:catalog_ratecard_change", args=[card.pk]))

    assert page.status_code == 200
    rates = _rates_part(page.content.decode())
    assert "150.000000000000" not in rates and "120.000000000000" not in rates
    assert "$1.50" in rates and "$1.20" in rates
    assert "model_name=model-A" in rates and '{"model_name"' not in rates
    assert "Confirm unusual price" not in rates
    # The tiers: the two stored rows, disabled, in dollars; no row to add.
    assert "<fieldset disabled>" in rates
    assert 'value="0.02"' in rates and 'value="0.015"' in rates
    assert "Add a row" not in rates and "<template>" not in rates


def test_a_viewer_reads_money_on_the_rate_page(viewer_client, card):
    tiered = card.rates.get(rate_type="TIERED")
    flat = card.rates.get(rate_type="FLAT")

    tiered_page = viewer_client.get(reverse("admin:catalog_rate_change", args=[tiered.pk]))
    flat_page = viewer_client.get(reverse("admin:catalog_rate_change", args=[flat.pk]))

    tiers = "".join(tiered_page.content.decode().split())  # without the template's whitespace
    assert '<tdclass="field-tier_price"><p>$0.02</p></td>' in tiers
    assert '<tdclass="field-tier_price"><p>$0.015</p></td>' in tiers
    assert '<tdclass="field-tier_size"><p>100</p></td>' in tiers
    assert '<tdclass="field-tier_size"><p>rest</p></td>' in tiers
    assert "2.000000000000" not in tiers
    flat_html = flat_page.content.decode()
    assert "150.000000000000" not in flat_html
    assert "$1.50" in flat_html and "$1.20" in flat_html


def test_a_finance_admin_still_types_the_fields(admin_client, card):
    page = admin_client.get(reverse("admin:catalog_ratecard_change", args=[card.pk]))

    rates = _rates_part(page.content.decode())
    assert 'name="rates-0-price"' in rates
    assert 'name="rates-0-pricing_group_values"' in rates
    assert "Add a row" in rates and "<fieldset disabled>" not in rates


def test_a_viewer_reads_a_products_keys_and_factor_as_written(viewer_client, admin_client):
    product = ProductFactory(
        name="Input Tokens",
        tags=["ai", "tokens"],
        pricing_group_key=["model_name"],
        billable_metric__group_keys=[["model_name", "user_id"]],
        quantity_conversion_factor=Decimal(1_000_000),
        quantity_conversion_operation="DIVIDE",
    )
    url = reverse("admin:catalog_product_change", args=[product.pk])

    read = " ".join(viewer_client.get(url).content.decode().split())
    typed = admin_client.get(url).content.decode()

    assert "1000000.000000000000" not in read and "[&quot;" not in read
    assert '<div class="readonly">1,000,000</div>' in read
    assert '<div class="readonly">model_name</div>' in read
    assert '<div class="readonly">ai, tokens</div>' in read
    assert 'name="pricing_group_key"' in typed and "field-pricing_keys" not in typed
