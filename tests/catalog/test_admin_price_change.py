"""The quickstart's "Edit the rate to change the rate and select the start date of the new rate":
one edit ends the current rate at that date and starts the new price (`rate_price_change`)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from catalog.models import Rate
from roles.definitions import FINANCE_VIEWER
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateFactory,
    RateTierFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
JUL = datetime(2026, 7, 1, tzinfo=UTC)


def _url(rate) -> str:
    return reverse("admin:catalog_rate_change_price", args=[rate.pk])


def _data(when: datetime, **fields) -> dict:
    return {"starting_at_0": f"{when:%Y-%m-%d}", "starting_at_1": f"{when:%H:%M:%S}", **fields}


def _flat_rate():
    product = ProductFactory(
        name="Input Tokens", billable_metric=BillableMetricFactory(group_keys=[])
    )
    return RateFactory(product=product, price=Decimal("150"), starting_at=JAN)


def test_one_edit_ends_the_rate_and_starts_the_new_price(admin_client):
    rate = _flat_rate()

    answer = admin_client.post(_url(rate), _data(JUL, price="1.60"), follow=True)

    assert answer.redirect_chain[-1][0] == reverse(
        "admin:catalog_ratecard_change", args=[rate.rate_card_id]
    )
    stored = list(
        Rate.objects.order_by("starting_at").values_list("price", "starting_at", "ending_before")
    )
    assert stored == [(Decimal("150"), JAN, JUL), (Decimal("160"), JUL, None)]
    message = next(str(m) for m in answer.context["messages"])
    assert message == "Input Tokens: $1.60 from 2026-07-01 00:00 UTC; the rate before it ends then."


def test_new_tiers_from_a_date(admin_client):
    rate = RateFactory(
        rate_type="TIERED", price=None, starting_at=JAN, product__billable_metric__group_keys=[]
    )
    RateTierFactory(rate=rate, level=1, size=Decimal("1000"), price=Decimal("100"))
    RateTierFactory(rate=rate, level=2, size=None, price=Decimal("80"))
    page = admin_client.get(_url(rate))
    assert 'value="1"' in page.content.decode()  # the current tiers, in dollars, to edit

    answer = admin_client.post(
        _url(rate),
        _data(
            JUL,
            **{
                "tiers-TOTAL_FORMS": "3",
                "tiers-INITIAL_FORMS": "2",
                "tiers-0-size": "1000",
                "tiers-0-price": "0.90",
                "tiers-1-size": "",
                "tiers-1-price": "0.70",
                "tiers-2-size": "",
                "tiers-2-price": "",
            },
        ),
    )

    assert answer.status_code == 302
    new = Rate.objects.get(starting_at=JUL)
    assert list(new.tiers.order_by("level").values_list("size", "price")) == [
        (Decimal("1000"), Decimal("90")),
        (None, Decimal("70")),
    ]
    assert Rate.objects.get(pk=rate.pk).ending_before == JUL


def test_a_start_off_the_hour_is_refused_and_nothing_changes(admin_client):
    rate = _flat_rate()

    answer = admin_client.post(
        _url(rate), _data(datetime(2026, 7, 1, 9, 30, tzinfo=UTC), price="1.60")
    )

    assert answer.status_code == 200
    assert "hour boundary" in answer.content.decode()
    assert Rate.objects.count() == 1
    assert Rate.objects.get().ending_before is None


def test_an_unusual_new_price_asks_for_confirmation(admin_client):
    rate = _flat_rate()

    refused = admin_client.post(_url(rate), _data(JUL, price="15"))
    confirmed = admin_client.post(_url(rate), _data(JUL, price="15", confirm_unusual_price="on"))

    assert refused.context["form"].errors["confirm_unusual_price"] == [
        "$15.00 is 10x the current price of Input Tokens on this card ($1.50). "
        "Tick “Confirm an unusual price” to save it anyway."
    ]
    assert confirmed.status_code == 302
    assert Rate.objects.get(starting_at=JUL).price == Decimal("1500")


def test_changing_a_price_needs_the_change_permission(client):
    rate = _flat_rate()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_rate", "view_ratecard"])
    )
    client.force_login(viewer)

    assert client.get(_url(rate)).status_code == 403
    assert client.post(_url(rate), _data(JUL, price="1.60")).status_code == 403
    assert Rate.objects.count() == 1


def test_the_price_book_and_the_rate_page_link_to_it(admin_client):
    rate = _flat_rate()

    card = admin_client.get(reverse("admin:catalog_ratecard_change", args=[rate.rate_card_id]))
    page = admin_client.get(reverse("admin:catalog_rate_change", args=[rate.pk]))

    assert _url(rate) in card.content.decode()
    assert _url(rate) in page.content.decode()


def test_a_viewer_is_not_offered_the_price_change(client):
    rate = _flat_rate()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    rate_page = reverse("admin:catalog_rate_change", args=[rate.pk])

    card = client.get(reverse("admin:catalog_ratecard_change", args=[rate.rate_card_id]))
    page = client.get(rate_page)

    assert card.status_code == 200 and page.status_code == 200
    assert _url(rate) not in card.content.decode()
    assert _url(rate) not in page.content.decode()
    assert f'<a href="{rate_page}">View</a>' in card.content.decode()
    assert "Every rate is shown in full" in card.content.decode()
