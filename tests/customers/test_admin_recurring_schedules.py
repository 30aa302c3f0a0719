"""A recurring schedule typed in the admin (repeat monthly/quarterly/..., each or divided, from a
date until another, an amount in dollars) adds the dated items the API's recurring_schedule
would: on a commit's invoice schedule, a scheduled charge and a discount; errors are shown on the
fields; a viewer sees no inputs for it and may not post."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.models import Commit, Discount, ScheduledCharge
from customers.services import CommitSpec, InvoiceItemSpec, SegmentSpec
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.admin_posts import management, page_errors, split_datetime
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import ContractFactory, CustomerFactory
from tests.customers.test_admin import FEB, JAN, commit_rows, contract_data
from tests.customers.test_admin_drafts import _commit_page_data, _contract, _scheduled_drafts

pytestmark = pytest.mark.django_db

APR = datetime(2026, 4, 1, tzinfo=UTC)


def _repeat(prefix: str, frequency="MONTHLY", distribution="EACH", amount="100", end=APR, **more):
    data = {
        f"{prefix}recurring_frequency": frequency,
        f"{prefix}recurring_distribution": distribution,
        **split_datetime(f"{prefix}recurring_starting_at", JAN),
        **split_datetime(f"{prefix}recurring_ending_before", end),
        f"{prefix}recurring_amount": amount,
        f"{prefix}recurring_unit_price": "",
        f"{prefix}recurring_quantity": "",
    }
    data.update({f"{prefix}{k}": v for k, v in more.items()})
    return data


def _commit_page(**repeat) -> dict:
    rows = commit_rows(ProductFactory(fixed=True), segments=[("3000", JAN, APR)])
    rows.update(management("commits-0-invoice_schedule", total=0))
    rows.update(_repeat("commits-0-", **repeat))
    return contract_data(CustomerFactory(), RateCardFactory(), **rows)


def _invoice_dates(commit) -> list[tuple]:
    return [(i.timestamp, i.amount) for i in commit.invoice_schedule.order_by("timestamp")]


def test_a_commit_is_invoiced_on_each_date_of_its_recurring_schedule(admin_client):
    response = admin_client.post(reverse("admin:customers_contract_add"), _commit_page())
    assert response.status_code == 302, page_errors(response)
    commit = Commit.objects.get()
    assert _invoice_dates(commit) == [
        (JAN, Decimal("10000")),
        (FEB, Decimal("10000")),
        (datetime(2026, 3, 1, tzinfo=UTC), Decimal("10000")),
    ]


def test_divided_rounded_shares_the_amount_to_the_cent(admin_client):
    page = _commit_page(distribution="DIVIDED_ROUNDED", amount="1000")
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    assert [a for _, a in _invoice_dates(Commit.objects.get())] == [
        Decimal("33333"),
        Decimal("33333"),
        Decimal("33334"),
    ]


def test_a_unit_price_and_quantity_instead_of_an_amount(admin_client):
    page = _commit_page(amount="", recurring_unit_price="2.50", recurring_quantity="4")
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    commit = Commit.objects.get()
    assert [(i.unit_price, i.quantity, i.total) for i in commit.invoice_schedule.all()] == [
        (Decimal("250"), Decimal("4"), Decimal("1000"))
    ] * 3


@pytest.mark.parametrize(
    "repeat, message",
    [
        ({"end": None}, "Give the end."),
        ({"end": JAN}, "Must be after the first date."),
        ({"amount": ""}, "Give an amount, or a unit price and a quantity."),
        (
            {"recurring_unit_price": "2", "recurring_quantity": ""},
            "Give an amount, or a unit price and a quantity.",
        ),
        ({"amount": "-5"}, "Cannot be negative."),
    ],
)
def test_a_recurring_schedule_error_is_shown_on_its_field(admin_client, repeat, message):
    response = admin_client.post(reverse("admin:customers_contract_add"), _commit_page(**repeat))
    assert response.status_code == 200
    assert message in page_errors(response)
    assert not Commit.objects.exists()


def test_no_frequency_adds_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:customers_contract_add"), _commit_page(frequency="")
    )
    assert response.status_code == 302, page_errors(response)
    assert _invoice_dates(Commit.objects.get()) == []


def test_a_scheduled_charge_typed_with_a_quarterly_schedule(admin_client):
    product = ProductFactory(fixed=True)
    rows = {
        **management("scheduled_charges", total=1),
        "scheduled_charges-0-product": str(product.pk),
        "scheduled_charges-0-name": "Support",
        **management("scheduled_charges-0-schedule_items", total=0),
        **_repeat(
            "scheduled_charges-0-",
            frequency="QUARTERLY",
            distribution="DIVIDED",
            amount="900",
            end=datetime(2027, 1, 1, tzinfo=UTC),
        ),
    }
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    charge = ScheduledCharge.objects.get()
    assert [(i.timestamp.month, i.amount) for i in charge.schedule_items.all()] == [
        (1, Decimal("22500")),
        (4, Decimal("22500")),
        (7, Decimal("22500")),
        (10, Decimal("22500")),
    ]


def _discount_page(contract, product, **repeat) -> dict:
    return {
        "contract": str(contract.pk),
        "product": str(product.pk),
        "name": "Loyalty",
        "custom_fields": "{}",
        **management("schedule_items", total=0),
        **_repeat("", **repeat),
    }


def test_a_discount_with_a_recurring_schedule_reaches_the_draft(admin_client):
    contract = ContractFactory(starting_at=JAN)
    contract_drafts_ensure(contract=contract, now=datetime(2026, 1, 2, tzinfo=UTC))
    page = _discount_page(contract, ProductFactory(fixed=True), amount="2.50")
    response = admin_client.post(reverse("admin:customers_discount_add"), page)
    assert response.status_code == 302, page_errors(response)
    discount = Discount.objects.get()
    assert [(i.timestamp.month, i.amount) for i in discount.schedule_items.all()] == [
        (1, Decimal("250")),
        (2, Decimal("250")),
        (3, Decimal("250")),
    ]
    draft = Invoice.objects.get(contract=contract, start_timestamp=JAN)
    assert [line.type for line in invoice_view(invoice=draft).lines] == ["discount"]


@pytest.mark.parametrize("role, may", [(FINANCE_ADMIN, True), (FINANCE_VIEWER, False)])
def test_who_may_enter_a_recurring_schedule(client, role, may):
    contract = ContractFactory(starting_at=JAN)
    product = ProductFactory(fixed=True)
    discount = Discount.objects.create(contract=contract, product=product, name="Loyalty")
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    url = reverse("admin:customers_discount_change", args=[discount.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert ('name="recurring_frequency"' in page.content.decode()) is may
    contract_page = client.get(reverse("admin:customers_contract_change", args=[contract.pk]))
    assert ("recurring_frequency" in contract_page.content.decode()) is may
    response = client.post(url, _discount_page(contract, product))
    assert response.status_code == (302 if may else 403)
    assert discount.schedule_items.count() == (3 if may else 0)


def test_a_recurring_schedule_on_the_commits_own_page_makes_its_scheduled_drafts(admin_client):
    product = ProductFactory(fixed=True, name="Commitment")
    contract = _contract(
        commits=[
            CommitSpec(
                product=product,
                name="Prepaid commitment",
                priority=Decimal(1),
                access_schedule=[
                    SegmentSpec(
                        amount=Decimal("3000"),
                        starting_at=JAN,
                        ending_before=datetime(2027, 1, 1, tzinfo=UTC),
                    )
                ],
                invoice_schedule=[InvoiceItemSpec(timestamp=JAN, amount=Decimal("1000"))],
            )
        ]
    )
    commit = contract.commits.get()
    data = _commit_page_data(
        commit,
        commit.access_schedule.get(),
        commit.invoice_schedule.get(),
        timestamp=JAN,
        amount="10",
    )
    data.update(_repeat("", frequency="MONTHLY", amount="10", end=APR))
    data["recurring_starting_at_0"] = "2026-02-01"
    url = reverse("admin:customers_commit_change", args=[commit.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, page_errors(response)
    assert _invoice_dates(commit) == [
        (JAN, Decimal("1000")),
        (FEB, Decimal("1000")),
        (datetime(2026, 3, 1, tzinfo=UTC), Decimal("1000")),
    ]
    assert _scheduled_drafts(contract) == [JAN, FEB, datetime(2026, 3, 1, tzinfo=UTC)]
