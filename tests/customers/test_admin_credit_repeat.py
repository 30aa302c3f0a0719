"""The admin's Repeat on credits: each date of the schedule grants an access segment of the
amount (typed in dollars for USD), usable until the next date, the last until the end; on the
contract page and on the credit's own page. A Finance viewer sees no Repeat and may not post.
Also the recurring commit or credit page's proration rounding fields."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from catalog import money
from customers.models import Credit, RecurringBalance
from customers.services import CreditSpec, SegmentSpec
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.admin_posts import management, page_errors, split_datetime
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_admin import FEB, JAN, contract_data
from tests.customers.test_admin_drafts import _contract
from tests.customers.test_admin_recurring_schedules import APR, _repeat

pytestmark = pytest.mark.django_db

MAR = datetime(2026, 3, 1, tzinfo=UTC)


def _segments(credit) -> list[tuple]:
    return [
        (s.amount, s.starting_at, s.ending_before)
        for s in credit.access_schedule.order_by("starting_at")
    ]


def _credit_rows(product, **repeat) -> dict:
    return {
        **management("credits", total=1),
        "credits-0-product": str(product.pk),
        "credits-0-name": "Monthly credit",
        "credits-0-priority": "0",
        "credits-0-rate_type": "LIST_RATE",
        "credits-0-credit_type": money.USD_CENTS_ID,
        "credits-0-applicable_product_tags": "",
        "credits-0-rollover_fraction": "",
        "credits-0-description": "",
        **management("credits-0-access_schedule", total=0),
        **_repeat("credits-0-", **repeat),
    }


def test_a_credit_repeated_monthly_gets_a_segment_each_month(admin_client):
    rows = _credit_rows(ProductFactory(fixed=True))
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    assert _segments(Credit.objects.get()) == [
        (Decimal("10000"), JAN, FEB),
        (Decimal("10000"), FEB, MAR),
        (Decimal("10000"), MAR, APR),
    ]


def test_a_divided_credit_shares_the_amount_to_the_cent(admin_client):
    rows = _credit_rows(ProductFactory(fixed=True), distribution="DIVIDED_ROUNDED", amount="1000")
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    assert [a for a, _, _ in _segments(Credit.objects.get())] == [
        Decimal("33333"),
        Decimal("33333"),
        Decimal("33334"),
    ]


def test_a_credit_repeat_error_is_shown_on_its_field(admin_client):
    rows = _credit_rows(ProductFactory(fixed=True), end=JAN)
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 200
    assert "Must be after the first date." in page_errors(response)
    assert not Credit.objects.exists()


def _credit():
    contract = _contract(
        credits=[
            CreditSpec(
                product=ProductFactory(fixed=True),
                name="Welcome credit",
                access_schedule=[
                    SegmentSpec(amount=Decimal("500"), starting_at=JAN, ending_before=FEB)
                ],
            )
        ]
    )
    return contract.credits.get()


def _credit_page(credit, **repeat) -> dict:
    segment = credit.access_schedule.get()
    return {
        "customer": str(credit.customer_id),
        "contract": str(credit.contract_id),
        "product": str(credit.product_id),
        "name": credit.name,
        "description": "",
        "priority": "0",
        "rate_type": "LIST_RATE",
        "applicable_product_tags": "",
        "credit_type": money.USD_CENTS_ID,
        "rollover_fraction": "",
        **management("access_schedule", total=1, initial=1),
        "access_schedule-0-id": str(segment.pk),
        "access_schedule-0-credit": str(credit.pk),
        "access_schedule-0-amount": "5",
        **split_datetime("access_schedule-0-starting_at", JAN),
        **split_datetime("access_schedule-0-ending_before", FEB),
        **_repeat("", **repeat),
    }


def test_a_repeat_on_the_credits_own_page_adds_segments(admin_client):
    credit = _credit()
    page = _credit_page(credit, amount="2.50", end=APR)
    page.update(split_datetime("recurring_starting_at", FEB))
    response = admin_client.post(reverse("admin:customers_credit_change", args=[credit.pk]), page)
    assert response.status_code == 302, page_errors(response)
    assert _segments(credit) == [
        (Decimal("500"), JAN, FEB),
        (Decimal("250"), FEB, MAR),
        (Decimal("250"), MAR, APR),
    ]


@pytest.mark.parametrize("role, may", [(FINANCE_ADMIN, True), (FINANCE_VIEWER, False)])
def test_who_may_repeat_a_credit(client, role, may):
    credit = _credit()
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    url = reverse("admin:customers_credit_change", args=[credit.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert ('name="recurring_frequency"' in page.content.decode()) is may
    contract_page = client.get(
        reverse("admin:customers_contract_change", args=[credit.contract_id])
    )
    assert ('name="credits-0-recurring_frequency"' in contract_page.content.decode()) is may
    response = client.post(url, _credit_page(credit))
    assert response.status_code == (302 if may else 403)
    assert credit.access_schedule.count() == (4 if may else 1)


def test_a_recurring_credits_page_takes_its_proration_rounding(admin_client):
    credit = _credit()
    term = RecurringBalance.objects.create(
        contract=credit.contract,
        kind=RecurringBalance.Kind.CREDIT,
        product=credit.product,
        access_unit_price=Decimal(1000),
        access_quantity=Decimal(1),
        starting_at=datetime(2026, 1, 11, tzinfo=UTC),
        ending_before=FEB,
    )
    page = admin_client.get(reverse("admin:customers_recurringbalance_change", args=[term.pk]))
    form = page.context["adminform"].form
    assert {"access_rounding_places", "access_rounding_method"} <= set(form.fields)
    data = {
        key: ("" if value is None else value)
        for key, value in form.initial.items()
        if key in form.fields and not isinstance(value, list | dict)
    }
    data.update(
        {
            "contract": str(term.contract_id),
            "product": str(term.product_id),
            "access_unit_price": "10",
            "access_quantity": "1",
            "invoice_unit_price": "",
            "invoice_quantity": "",
            "priority": "0",
            "duration_periods": "1",
            "rollover_fraction": "",
            "custom_fields": "{}",
            "applicable_product_tags": "",
            "subscription": "",
            "credit_type": money.USD_CENTS_ID,
            "access_rounding_places": "-2",
            "access_rounding_method": "FLOOR",
            "invoice_rounding_places": "",
            "invoice_rounding_method": "",
            **split_datetime("starting_at", datetime(2026, 1, 11, tzinfo=UTC)),
            **split_datetime("ending_before", FEB),
            **split_datetime("archived_at", None),
        }
    )
    url = reverse("admin:customers_recurringbalance_change", args=[term.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, page_errors(response)
    term.refresh_from_db()
    assert term.rounding("access") == (-2, "FLOOR")
    # 11 to 31 January: 21 of 31 days of 1000 cents is 677.41..., floored to 600.
    (made,) = Credit.objects.filter(recurring=term)
    assert [s.amount for s in made.access_schedule.all()] == [Decimal(600)]
