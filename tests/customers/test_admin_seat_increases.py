"""The seat increase setting in the admin, where recurring commits and credits are shown: someone
who may change the term sets it (and what has not started follows), a viewer reads it and may
not change it; a commit's or credit's page says how many seats each access segment grants."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from customers.models import Credit, RecurringBalance
from customers.services import recurring_balances_materialize
from tests.api.test_term_edits import _recurring_admin_data
from tests.catalog.admin_posts import page_errors
from tests.customers.factories import (
    START,
    RecurringBalanceFactory,
    SubscriptionFactory,
    SubscriptionQuantityFactory,
)

pytestmark = pytest.mark.django_db


def _seat_credit(**fields) -> RecurringBalance:
    """A recurring credit of 10.00 a seat a month pooled over a SEAT_BASED subscription of 3."""
    subscription = SubscriptionFactory(
        quantity_management_mode="SEAT_BASED", seat_group_key="user_id"
    )
    SubscriptionQuantityFactory(subscription=subscription, unassigned_seats=Decimal(3))
    return RecurringBalanceFactory(
        contract=subscription.contract,
        subscription=subscription,
        access_quantity=None,
        name="Seat pool",
        **fields,
    )


def _form(term: RecurringBalance, **changes) -> dict:
    return _recurring_admin_data(
        term,
        subscription=str(term.subscription_id),
        access_quantity="",
        invoice_unit_price="",
        invoice_quantity="",
        **changes,
    )


def _staff(*codenames) -> User:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_the_change_page_sets_whether_seat_increases_are_prorated(admin_client):
    term = _seat_credit()
    url = reverse("admin:customers_recurringbalance_change", args=[term.pk])
    form = admin_client.get(url).context["adminform"].form
    assert form.initial["prorate_seat_increases"] is True
    # An unticked box is left out of the post.
    response = admin_client.post(url, _form(term))
    assert response.status_code == 302, page_errors(response)
    term.refresh_from_db()
    assert term.prorate_seat_increases is False
    response = admin_client.post(url, _form(term, prorate_seat_increases="on"))
    assert response.status_code == 302, page_errors(response)
    term.refresh_from_db()
    assert term.prorate_seat_increases is True


def test_a_viewer_reads_the_setting_and_may_not_change_it(client):
    term = _seat_credit(prorate_seat_increases=False)
    client.force_login(_staff("view_recurringbalance"))
    url = reverse("admin:customers_recurringbalance_change", args=[term.pk])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Prorate seat increases" in body
    assert 'name="prorate_seat_increases"' not in body
    assert client.post(url, _form(term, prorate_seat_increases="on")).status_code == 403
    term.refresh_from_db()
    assert term.prorate_seat_increases is False


def test_a_credit_page_shows_the_seats_each_segment_grants(client):
    term = _seat_credit()
    recurring_balances_materialize(contract=term.contract, now=START)
    credit = Credit.objects.get(recurring=term, recurrence_start=START)
    client.force_login(_staff("view_credit", "view_accesssegment"))
    page = client.get(reverse("admin:customers_credit_change", args=[credit.pk]))
    assert page.status_code == 200
    cells = " ".join(page.content.decode().split())
    assert '<th class="column-seats_shown">Seats </th>' in cells
    assert '<td class="field-seats_shown"> <p>3</p> </td>' in cells
