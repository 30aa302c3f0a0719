"""Finance staff add QUANTITY commits and credits in the admin where SPEND ones are added (the
contract page's commit and credit rows, a commit's or credit's own add page): the access type,
the usage products it holds units of, its segments typed in units. A QUANTITY balance is checked
as the API checks it (`customers.api.balance_document`): the same refusals as the API's 400s,
each on its form field. The access type is chosen once, when the balance is made. A Finance
viewer may not add one (403); a Finance admin may."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from catalog import money
from customers.models import Commit, Credit
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.admin_posts import management, page_errors, split_datetime
from tests.catalog.factories import PricingUnitFactory, ProductFactory, RateCardFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_admin import FEB, JAN, contract_data
from tests.customers.test_admin_credit_repeat import _credit, _credit_page
from tests.customers.test_admin_recurring_schedules import APR, _repeat

pytestmark = pytest.mark.django_db

MAR = APR.replace(month=3)


@pytest.fixture
def calls(db):
    return ProductFactory(name="API calls")  # a usage product


@pytest.fixture
def fixed(db):
    return ProductFactory(fixed=True, name="Prepaid calls")


def _credit_rows(fixed, calls, *, segments=(("1000", JAN, FEB),), **fields) -> dict:
    """A QUANTITY credit of the contract page: 1,000 calls for January (typed in units)."""
    data = {
        **management("credits", total=1),
        "credits-0-product": str(fixed.pk),
        "credits-0-name": "1,000 calls",
        "credits-0-priority": "1",
        "credits-0-rate_type": "LIST_RATE",
        "credits-0-credit_type": money.USD_CENTS_ID,
        "credits-0-access_type": "QUANTITY",
        "credits-0-applicable_products": [str(calls.pk)],
        "credits-0-applicable_product_tags": "",
        "credits-0-rollover_fraction": "",
        "credits-0-description": "",
        **management("credits-0-access_schedule", total=len(segments)),
    }
    for index, (amount, start, end) in enumerate(segments):
        row = f"credits-0-access_schedule-{index}"
        data[f"{row}-amount"] = amount
        data.update(split_datetime(f"{row}-starting_at", start))
        data.update(split_datetime(f"{row}-ending_before", end))
    data.update({f"credits-0-{name}": value for name, value in fields.items()})
    return data


def _inline_errors(response, index: int = 1) -> dict:
    """The errors of the first row of the page's `index`th inline (0 commits, 1 credits)."""
    return response.context["inline_admin_formsets"][index].formset.forms[0].errors


def _segments(term) -> list[tuple]:
    return [(s.amount, s.starting_at, s.ending_before) for s in term.access_schedule.all()]


def test_a_quantity_credit_is_added_on_the_contract_page_in_units(admin_client, fixed, calls):
    page = contract_data(CustomerFactory(), RateCardFactory(), **_credit_rows(fixed, calls))
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    credit = Credit.objects.get()
    assert credit.access_type == "QUANTITY"
    assert list(credit.applicable_products.all()) == [calls]
    assert _segments(credit) == [(Decimal("1000"), JAN, FEB)]  # units, not $1,000.00 in cents


def test_a_spend_credit_typed_beside_it_is_still_money(admin_client, fixed, calls):
    rows = _credit_rows(fixed, calls, access_type="SPEND", applicable_products=[])
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    assert _segments(Credit.objects.get()) == [(Decimal("100000"), JAN, FEB)]  # $1,000.00


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"applicable_products": []},
            "applicable_products",
            "A QUANTITY balance holds units of named usage products: give "
            "applicable_product_ids (or specifiers with a product_id).",
        ),
        (
            {"rate_type": "COMMIT_RATE"},
            "rate_type",
            "A QUANTITY balance covers units at the usage's own rate: use LIST_RATE.",
        ),
        (
            {"applicable_products": [], "applicable_product_tags": "ai"},
            "applicable_product_tags",
            "A QUANTITY balance holds units of named products: give applicable_product_ids.",
        ),
    ],
)
def test_a_refused_quantity_credit_is_named_on_its_field(
    admin_client, fixed, calls, change, field, message
):
    page = contract_data(
        CustomerFactory(), RateCardFactory(), **_credit_rows(fixed, calls, **change)
    )
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 200
    assert _inline_errors(response)[field] == [message]
    assert not Credit.objects.exists()


def test_a_quantity_credit_of_a_fixed_product_or_a_custom_unit_is_refused_as_the_api_does(
    admin_client, fixed, calls
):
    rows = _credit_rows(fixed, calls, applicable_products=[str(fixed.pk)])
    response = admin_client.post(
        reverse("admin:customers_contract_add"),
        contract_data(CustomerFactory(), RateCardFactory(), **rows),
    )
    assert _inline_errors(response)["applicable_products"] == [
        f"A QUANTITY balance holds units of usage products; Prepaid calls ({fixed.pk}) is a "
        "FIXED product."
    ]
    unit = PricingUnitFactory(name="Cloud credits")
    rows = _credit_rows(fixed, calls, credit_type=str(unit.pk))
    response = admin_client.post(
        reverse("admin:customers_contract_add"),
        contract_data(CustomerFactory(), RateCardFactory(), **rows),
    )
    assert _inline_errors(response)["credit_type"] == [
        "A QUANTITY balance covers usage priced in the contract's currency: leave "
        "credit_type_id out."
    ]
    assert not Credit.objects.exists()


def test_a_quantity_commit_is_added_on_the_contract_page_and_a_postpaid_one_refused(
    admin_client, fixed, calls
):
    commit = {
        **management("commits", total=1),
        "commits-0-product": str(fixed.pk),
        "commits-0-type": "PREPAID",
        "commits-0-name": "Prepaid calls",
        "commits-0-priority": "0",
        "commits-0-rate_type": "LIST_RATE",
        "commits-0-credit_type": money.USD_CENTS_ID,
        "commits-0-access_type": "QUANTITY",
        "commits-0-applicable_products": [str(calls.pk)],
        "commits-0-applicable_product_tags": "",
        "commits-0-rollover_fraction": "",
        "commits-0-description": "",
        **management("commits-0-access_schedule", total=1),
        "commits-0-access_schedule-0-amount": "5000",
        **split_datetime("commits-0-access_schedule-0-starting_at", JAN),
        **split_datetime("commits-0-access_schedule-0-ending_before", APR),
        **management("commits-0-invoice_schedule", total=1),
        **split_datetime("commits-0-invoice_schedule-0-timestamp", JAN),
        "commits-0-invoice_schedule-0-amount": "40",
        "commits-0-invoice_schedule-0-unit_price": "",
        "commits-0-invoice_schedule-0-quantity": "",
    }
    url = reverse("admin:customers_contract_add")
    refused = admin_client.post(
        url,
        contract_data(
            CustomerFactory(), RateCardFactory(), **{**commit, "commits-0-type": "POSTPAID"}
        ),
    )
    assert _inline_errors(refused, 0)["type"] == [
        "A POSTPAID commit is trued up in money: a QUANTITY commit is PREPAID."
    ]
    response = admin_client.post(url, contract_data(CustomerFactory(), RateCardFactory(), **commit))
    assert response.status_code == 302, page_errors(response)
    made = Commit.objects.get()
    assert made.access_type == "QUANTITY"
    assert _segments(made) == [(Decimal("5000"), JAN, APR)]  # 5,000 calls
    # What is paid for them is money: $40.00.
    assert list(made.invoice_schedule.values_list("amount", flat=True)) == [Decimal("4000")]


def test_a_quantity_credit_repeated_monthly_gets_its_units_each_month(admin_client, fixed, calls):
    rows = _credit_rows(fixed, calls, segments=())
    rows.update(_repeat("credits-0-", amount="500"))
    page = contract_data(CustomerFactory(), RateCardFactory(), **rows)
    response = admin_client.post(reverse("admin:customers_contract_add"), page)
    assert response.status_code == 302, page_errors(response)
    assert sorted(_segments(Credit.objects.get())) == [
        (Decimal("500"), JAN, FEB),
        (Decimal("500"), FEB, MAR),
        (Decimal("500"), MAR, APR),
    ]


def _own_page(customer, fixed, calls, **fields) -> dict:
    """A customer-level QUANTITY credit on its own add page: 300 calls for January."""
    data = {
        "customer": str(customer.pk),
        "contract": "",
        "product": str(fixed.pk),
        "name": "300 calls",
        "description": "",
        "priority": "1",
        "rate_type": "LIST_RATE",
        "applicable_products": [str(calls.pk)],
        "applicable_product_tags": "",
        "credit_type": money.USD_CENTS_ID,
        "access_type": "QUANTITY",
        "rollover_fraction": "",
        **management("access_schedule", total=1),
        "access_schedule-0-amount": "300",
        **split_datetime("access_schedule-0-starting_at", JAN),
        **split_datetime("access_schedule-0-ending_before", FEB),
        **_repeat("", frequency=""),
    }
    data.update(fields)
    return data


def _role_client(client, role):
    user = User.objects.create_user(f"someone-{role}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


@pytest.mark.parametrize(("role", "status"), [(FINANCE_ADMIN, 302), (FINANCE_VIEWER, 403)])
def test_who_may_add_a_customer_level_quantity_credit(client, fixed, calls, role, status):
    client = _role_client(client, role)
    url = reverse("admin:customers_credit_add")
    assert client.get(url).status_code == (200 if status == 302 else 403)
    response = client.post(url, _own_page(CustomerFactory(), fixed, calls))
    assert response.status_code == status, page_errors(response) if status == 302 else ""
    if status == 302:
        credit = Credit.objects.get()
        assert (credit.access_type, credit.contract) == ("QUANTITY", None)
        assert _segments(credit) == [(Decimal("300"), JAN, FEB)]
    else:
        assert not Credit.objects.exists()


def test_the_own_page_refuses_what_the_api_refuses_on_the_field(admin_client, fixed, calls):
    page = _own_page(CustomerFactory(), fixed, calls, applicable_products=[str(fixed.pk)])
    response = admin_client.post(reverse("admin:customers_credit_add"), page)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["applicable_products"] == [
        f"A QUANTITY balance holds units of usage products; Prepaid calls ({fixed.pk}) is a "
        "FIXED product."
    ]
    assert not Credit.objects.exists()


def test_the_add_page_offers_the_access_type_and_a_change_page_keeps_it(admin_client):
    html = admin_client.get(reverse("admin:customers_commit_add")).content.decode()
    assert 'name="access_type"' in html and 'value="QUANTITY"' in html
    credit = _credit()  # a SPEND credit of $5.00 for January
    url = reverse("admin:customers_credit_change", args=[credit.pk])
    assert admin_client.get(url).context["adminform"].form.fields["access_type"].disabled
    page = {**_credit_page(credit, frequency=""), "access_type": "QUANTITY"}
    response = admin_client.post(url, page)
    assert response.status_code == 302, page_errors(response)
    credit.refresh_from_db()
    assert credit.access_type == "SPEND"
    assert _segments(credit) == [(Decimal("500"), JAN, FEB)]


@pytest.mark.parametrize(("role", "status"), [(FINANCE_ADMIN, 302), (FINANCE_VIEWER, 403)])
def test_who_may_add_a_quantity_credit_on_the_contract_page(client, fixed, calls, role, status):
    client = _role_client(client, role)
    url = reverse("admin:customers_contract_add")
    assert client.get(url).status_code == (200 if status == 302 else 403)
    page = contract_data(CustomerFactory(), RateCardFactory(), **_credit_rows(fixed, calls))
    response = client.post(url, page)
    assert response.status_code == status, page_errors(response) if status == 302 else ""
    assert Credit.objects.filter(access_type="QUANTITY").exists() == (status == 302)
