"""Money typed in the pricing unit's display unit: dollars for `USD (cents)` (converted once, in
`catalog.money`), the unit itself for custom units; a price 10x or more away from the current one
asks for confirmation."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog import money
from catalog.models import CreditTypeConversion, Rate
from tests.catalog.admin_posts import (
    JAN,
    management,
    page_errors,
    rate_card_data,
    rate_rows,
)
from tests.catalog.factories import (
    BillableMetricFactory,
    PricingUnitFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)

pytestmark = pytest.mark.django_db

JUN = JAN.replace(month=6)


def test_dollars_become_cents_and_back_exactly():
    assert money.from_display_amount(Decimal("0.02"), "USD (cents)") == Decimal("2")
    assert money.from_display_amount(Decimal("1.5"), "USD (cents)") == Decimal("150")
    assert money.from_display_amount(Decimal("0.0000015"), "USD (cents)") == Decimal("0.00015")
    assert money.to_display_amount(Decimal("150.000000000000"), "USD (cents)") == Decimal("1.5")
    assert money.to_display_amount(Decimal("2"), "USD (cents)") == Decimal("0.02")
    assert money.from_display_amount(Decimal("5"), "credits") == Decimal("5")
    assert money.display_unit_label("USD (cents)") == "$"
    assert money.display_unit_label("credits") == "credits"


def _usage_product():
    return ProductFactory(billable_metric=BillableMetricFactory(group_keys=[]))


def test_typing_two_cents_as_dollars_stores_two_cents(admin_client):
    data = rate_card_data("Card", [rate_rows(0, product=_usage_product(), price="0.02")])

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    assert Rate.objects.get().price == Decimal("2")


def test_the_price_box_shows_dollars_with_the_symbol(admin_client):
    rate = RateFactory(price=Decimal("150"))

    html = admin_client.get(
        reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk])
    ).content.decode()

    assert (
        '<span class="money-input"><span class="money-symbol">$</span>'
        '<input type="text" name="rates-0-price" value="1.5"'
    ) in html


def test_tier_prices_are_typed_in_dollars(admin_client):
    data = rate_card_data(
        "Card",
        [
            rate_rows(
                0,
                product=_usage_product(),
                rate_type="TIERED",
                tiers=[("100", "0.02"), ("", "0.015")],
            )
        ],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    assert list(Rate.objects.get().tiers.values_list("price", flat=True)) == [
        Decimal("2"),
        Decimal("1.5"),
    ]


def test_a_percentage_stays_a_fraction(admin_client):
    product = ProductFactory(type="COMPOSITE", billable_metric=None)
    data = rate_card_data(
        "Card", [rate_rows(0, product=product, rate_type="PERCENTAGE", price="0.1")]
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    assert Rate.objects.get().price == Decimal("0.1")


def test_a_custom_unit_is_typed_as_itself(admin_client):
    credits = PricingUnitFactory(name="credits", is_currency=False)
    card = RateCardFactory()
    CreditTypeConversion.objects.create(
        rate_card=card, custom_credit_type=credits, fiat_per_custom_credit=Decimal("50")
    )
    row = rate_rows(0, product=_usage_product(), price="5")
    row["rates-0-credit_type"] = str(credits.pk)
    data = rate_card_data(card.name, [row])
    data.update(management("credit_type_conversions", total=1, initial=1))
    conversion = CreditTypeConversion.objects.get()
    data.update(
        {
            "credit_type_conversions-0-id": str(conversion.pk),
            "credit_type_conversions-0-rate_card": str(card.pk),
            "credit_type_conversions-0-custom_credit_type": str(credits.pk),
            "credit_type_conversions-0-fiat_per_custom_credit": "0.5",
        }
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_change", args=[card.pk]), data)

    assert response.status_code == 302, page_errors(response)
    assert Rate.objects.get().price == Decimal("5")
    # The conversion is typed in the card's dollars too: $0.50 per credit is 50 cents.
    assert CreditTypeConversion.objects.get().fiat_per_custom_credit == Decimal("50")


def _new_price(rate, price: str, **extra) -> dict:
    data = rate_card_data(
        rate.rate_card.name,
        [
            rate_rows(0, product=rate.product, price="0.02", rate=rate, ending_before=JUN),
            rate_rows(1, product=rate.product, price=price, starting_at=JUN),
        ],
        stored_rates=1,
    )
    data.update(extra)
    return data


def test_a_price_ten_times_the_current_one_asks_for_confirmation(admin_client):
    rate = RateFactory(
        price=Decimal("2"), starting_at=JAN, ending_before=JUN, product=_usage_product()
    )
    url = reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk])

    refused = admin_client.post(url, _new_price(rate, "2"))

    assert refused.status_code == 200
    assert page_errors(refused) == [
        f"$2.00 is 100x the current price of {rate.product} on this card ($0.02). "
        "Tick “Confirm an unusual price” to save it anyway."
    ]
    assert Rate.objects.count() == 1

    confirmed = admin_client.post(
        url, _new_price(rate, "2", **{"rates-1-confirm_unusual_price": "on"})
    )

    assert confirmed.status_code == 302, page_errors(confirmed)
    assert sorted(Rate.objects.values_list("price", flat=True)) == [Decimal("2"), Decimal("200")]


def test_a_usual_price_change_needs_no_confirmation(admin_client):
    rate = RateFactory(
        price=Decimal("2"), starting_at=JAN, ending_before=JUN, product=_usage_product()
    )

    response = admin_client.post(
        reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]), _new_price(rate, "0.03")
    )

    assert response.status_code == 302, page_errors(response)
