"""The invoice admin in an account hierarchy: who pays (a child paid by its parent names the
parent), a consolidated invoice's constituents with their totals, and the permission it needs
(view_invoice: a Finance viewer reads it, staff without it are refused)."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from roles.definitions import FINANCE_VIEWER
from tests.customers.test_hierarchy_api import _contract, _tokens, world  # noqa: F401
from tests.invoicing.test_consolidated_invoices import _child, _consolidated, _usage

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(api_client):
    def _post(path: str, body: dict):
        return api_client.post(path, body, format="json")

    return _post


@pytest.fixture
def lot(post, world):  # noqa: F811
    parent = _contract(post, world)
    a = _child(post, world, parent)
    b = _child(post, world, parent)
    _tokens(a, 3)
    _tokens(b, 9)
    return parent, a, b


def _page(client, invoice):
    return client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))


def test_the_consolidated_invoice_lists_its_constituents_and_payer(admin_client, lot):
    parent, a, b = lot
    response = _page(admin_client, _consolidated(parent))
    assert response.status_code == 200
    body = response.content.decode()
    for child, total in ((a, "$300.00"), (b, "$900.00")):
        link = reverse("admin:invoicing_invoice_change", args=[_usage(child).pk])
        assert f'<a href="{link}">' in body
        assert total in body
    assert "$1,200.00" in body
    assert f"Its own customer ({parent.customer})" in body


def test_a_constituent_names_its_payer_and_its_consolidated_invoice(admin_client, lot):
    parent, a, _ = lot
    body = _page(admin_client, _usage(a)).content.decode()
    contract_link = reverse("admin:customers_contract_change", args=[parent.pk])
    assert f'{parent.customer} (<a href="{contract_link}">' in body
    consolidated = reverse("admin:invoicing_invoice_change", args=[_consolidated(parent).pk])
    assert consolidated in body


def test_a_finance_viewer_reads_it_and_staff_without_view_invoice_are_refused(client, lot):
    parent, *_ = lot
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert _page(client, _consolidated(parent)).status_code == 403
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    response = _page(client, _consolidated(parent))
    assert response.status_code == 200
    assert "$1,200.00" in response.content.decode()
