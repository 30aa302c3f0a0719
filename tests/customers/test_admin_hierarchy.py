"""The contract page shows its account hierarchy (read-only): a child's parent, payer and
usage statement behavior; a parent's children, consolidation and shared commits. A Finance
viewer reads it; a staff user without the contract's view permission is refused."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from roles.definitions import FINANCE_VIEWER
from tests.customers.factories import CommitFactory, ContractFactory

pytestmark = pytest.mark.django_db


def _text(html: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


@pytest.fixture
def family():
    parent = ContractFactory(name="Parent contract", invoice_consolidation_type="CONCATENATE")
    CommitFactory(contract=parent, name="Shared commit", child_access={"type": "ALL"})
    child = ContractFactory(
        name="Child contract",
        rate_card=parent.rate_card,
        parent_contract=parent,
        hierarchy_payer="PARENT",
        hierarchy_usage_statement_behavior="CONSOLIDATE",
    )
    return parent, child


def _page(client, contract):
    return client.get(reverse("admin:customers_contract_change", args=[contract.pk]))


def test_a_viewer_reads_both_sides_of_the_link(client, family):
    parent, child = family
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    parent_page = _page(client, parent)
    assert parent_page.status_code == 200
    text = _text(parent_page.content)
    assert "Parent of Child contract" in text
    assert "Invoice consolidation: Concatenate the children" in text
    assert "Shared commit is shared with every child" in text
    child_text = _text(_page(client, child).content)
    assert "Child of Parent contract (payer: PARENT; usage statements: CONSOLIDATE)" in child_text


def test_a_contract_outside_a_hierarchy_says_so(admin_client):
    text = _text(_page(admin_client, ContractFactory()).content)
    assert "None: this contract has no parent and no children." in text


def test_staff_without_the_view_permission_is_refused(client, family):
    parent, _ = family
    stranger = User.objects.create_user("stranger", password="pw", is_staff=True)
    client.force_login(stranger)
    assert _page(client, parent).status_code == 403
