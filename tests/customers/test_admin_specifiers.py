"""A commit's specifiers typed as rows on the contract page (a product chosen from a list, tags,
group values as key=value; no JSON), refused beside applicable products or tags, explained when
malformed; the commit page shows them as rows, and a viewer reads them without inputs."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.form_editors import SpecifierRowsField
from customers.models import Commit, RecurringBalance
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.admin_posts import page_errors
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import CommitFactory, CustomerFactory, RecurringBalanceFactory
from tests.customers.test_admin import FEB, JAN, commit_rows, contract_data


def _rows(prefix: str, *rows: tuple[str, str, str, str]) -> dict[str, str]:
    """Specifier rows as the browser posts them (product id, tags, pricing, presentation)."""
    data = {}
    for index, (product, tags, pricing, presentation) in enumerate([*rows, ("", "", "", "")]):
        data[f"{prefix}-{index}-product_id"] = product
        data[f"{prefix}-{index}-product_tags"] = tags
        data[f"{prefix}-{index}-pricing_group_values"] = pricing
        data[f"{prefix}-{index}-presentation_group_values"] = presentation
    return data


def _data(product, **extra):
    rows = commit_rows(product, segments=[("100", JAN, FEB)])
    rows["commits-0-applicable_product_tags"] = ""
    rows.update(extra)
    return contract_data(CustomerFactory(), RateCardFactory(), **rows)


def test_a_commit_is_limited_by_specifier_rows_typed_on_the_contract_page(admin_client):
    product, usage = ProductFactory(fixed=True), ProductFactory(name="Compute")
    rows = _rows(
        "commits-0-specifiers",
        (str(usage.pk), "", "region=us", ""),
        ("", "ai, batch", "", "user=u1"),
    )
    response = admin_client.post(reverse("admin:customers_contract_add"), _data(product, **rows))

    assert response.status_code == 302, page_errors(response)
    commit = Commit.objects.get(contract__name="Acme 2026")
    assert commit.specifiers == [
        {"product_id": str(usage.pk), "pricing_group_values": {"region": "us"}},
        {"product_tags": ["ai", "batch"], "presentation_group_values": {"user": "u1"}},
    ]
    page = admin_client.get(reverse("admin:customers_commit_change", args=[commit.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<option value="{usage.pk}" selected>Compute</option>' in html
    assert 'name="specifiers-0-pricing_group_values" value="region=us"' in html
    assert 'name="specifiers-1-product_tags" value="ai, batch"' in html
    assert "[{" not in html.split('class="specifier-rows"')[1].split("</table>")[0]


def test_specifiers_beside_applicable_tags_are_refused_on_the_contract_page(admin_client):
    product = ProductFactory(fixed=True)
    data = _data(
        product,
        **_rows("commits-0-specifiers", ("", "ai", "", "")),
        **{"commits-0-applicable_product_tags": "tokens"},
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [
        "Specifiers cannot be used with applicable product ids or tags."
    ]
    assert not Commit.objects.exists()


@pytest.mark.parametrize(
    "row, message",
    [
        (("", "", "region", ""), "Specifier 1: Write each value as key=value (got 'region')."),
        (
            ("00000000-0000-4000-8000-000000000000", "", "", ""),
            "Specifier 1: No product 00000000-0000-4000-8000-000000000000.",
        ),
        (("not-a-product", "", "", ""), "Specifier 1: No product not-a-product."),
    ],
)
def test_a_malformed_specifier_row_is_explained_and_kept(admin_client, row, message):
    product = ProductFactory(fixed=True)
    data = _data(product, **_rows("commits-0-specifiers", row))

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [message]
    assert not Commit.objects.exists()
    # What was typed is shown again, to be corrected.
    html = response.content.decode()
    assert f'name="commits-0-specifiers-0-pricing_group_values" value="{row[2]}"' in html


def test_blank_rows_are_no_specifier(db):
    field = SpecifierRowsField()
    blank = dict.fromkeys(("product_id", "product_tags", "pricing_group_values"), " ")
    assert field.clean([blank, {**blank, "product_tags": "ai"}, blank]) == [
        {"product_tags": ["ai"]}
    ]
    assert field.clean([]) == []


def test_a_recurring_commits_specifiers_are_rows_too(admin_client):
    term = RecurringBalanceFactory(specifiers=[{"product_tags": ["ai"]}])
    html = admin_client.get(
        reverse("admin:customers_recurringbalance_change", args=[term.pk])
    ).content.decode()
    assert 'name="specifiers-0-product_tags" value="ai"' in html
    assert RecurringBalance.objects.get().specifiers == [{"product_tags": ["ai"]}]


@pytest.mark.parametrize("role, inputs", [(FINANCE_ADMIN, True), (FINANCE_VIEWER, False)])
def test_who_types_specifier_rows(db, client, role, inputs):
    commit = CommitFactory(specifiers=[{"product_tags": ["ai"]}], applicable_product_tags=[])
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    page = client.get(reverse("admin:customers_commit_change", args=[commit.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert ('name="specifiers-0-product_tags"' in html) is inputs
    assert "ai" in html
