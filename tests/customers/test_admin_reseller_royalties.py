"""A contract's marketplace reseller royalties on its admin page (read-only, for every role that
may view the contract)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.models import ResellerRoyalty
from roles.definitions import FINANCE_VIEWER
from tests.customers.factories import ContractFactory

pytestmark = pytest.mark.django_db


def test_the_contract_page_lists_its_reseller_royalties(client):
    contract = ContractFactory()
    ResellerRoyalty.objects.create(
        contract=contract,
        reseller_type="AWS",
        fraction=Decimal("0.035"),
        netsuite_reseller_id="aws-reseller",
        starting_at=datetime(2026, 1, 1, tzinfo=UTC),
        applicable_product_tags=["cloud"],
    )
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)

    page = client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Marketplace reseller royalties" in text
    assert (
        "<td>AWS Marketplace</td><td>3.50%</td><td>aws-reseller</td><td>cloud</td>"
        "<td>2026-01-01 00:00</td><td>open-ended</td>" in text
    )
