"""A commit's specifiers typed on the contract page (JSON), refused beside applicable products or
tags; the commit page shows them."""

import json

from django.urls import reverse

from customers.models import Commit
from tests.catalog.admin_posts import page_errors
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_admin import FEB, JAN, commit_rows, contract_data


def _data(product, usage, **extra):
    rows = commit_rows(product, segments=[("100", JAN, FEB)])
    rows["commits-0-applicable_product_tags"] = ""
    rows.update(extra)
    return contract_data(CustomerFactory(), RateCardFactory(), **rows)


def test_a_commit_is_limited_by_specifiers_typed_on_the_contract_page(admin_client):
    product, usage = ProductFactory(fixed=True), ProductFactory(name="Compute")
    specifiers = [{"product_id": str(usage.pk), "pricing_group_values": {"region": "us"}}]
    data = _data(product, usage, **{"commits-0-specifiers": json.dumps(specifiers)})

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 302, page_errors(response)
    commit = Commit.objects.get(contract__name="Acme 2026")
    assert commit.specifiers == specifiers
    page = admin_client.get(reverse("admin:customers_commit_change", args=[commit.pk]))
    assert page.status_code == 200
    assert "pricing_group_values" in page.content.decode()


def test_specifiers_beside_applicable_tags_are_refused_on_the_contract_page(admin_client):
    product, usage = ProductFactory(fixed=True), ProductFactory(name="Compute")
    data = _data(
        product,
        usage,
        **{
            "commits-0-specifiers": json.dumps([{"product_tags": ["ai"]}]),
            "commits-0-applicable_product_tags": "tokens",
        },
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [
        "Specifiers cannot be used with applicable product ids or tags."
    ]
    assert not Commit.objects.exists()


def test_a_malformed_specifier_is_explained(admin_client):
    product, usage = ProductFactory(fixed=True), ProductFactory(name="Compute")
    data = _data(product, usage, **{"commits-0-specifiers": json.dumps([{"region": "us"}])})

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [
        "Each specifier names some of: product_id, product_tags, pricing_group_values, "
        "presentation_group_values."
    ]
