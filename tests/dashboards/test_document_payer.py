"""The invoice document of an account hierarchy's child paid for by its parent: the bill-to is
the payer, and the document says whose usage it is."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from dashboards.models import FrozenDocument
from invoicing.services import invoice_finalize
from tests.invoicing.factories import ContractFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_by_parent(world):
    umbrella = CustomerFactory(
        name="Umbrella",
        billing_name="Umbrella Holdings",
        billing_address="9 Tower Road",
        billing_email="payables@umbrella.example",
    )
    parent = ContractFactory(customer=umbrella, rate_card=world.contract.rate_card)
    world.contract.parent_contract = parent
    world.contract.hierarchy_payer = "PARENT"
    world.contract.save()
    return world


def _page(client, invoice) -> str:
    response = client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_draft_paid_by_the_parent_is_billed_to_the_parent(admin_client, paid_by_parent):
    body = _page(admin_client, paid_by_parent.december())
    bill_to = body[body.index('aria-label="Bill to"') :][:600]
    for text in ("Umbrella Holdings", "9 Tower Road", "payables@umbrella.example"):
        assert text in bill_to, text
    assert "For the usage of Globex Corporation" in bill_to
    assert "1 Main Street" not in bill_to


def test_finalizing_freezes_the_payer_as_bill_to(admin_client, paid_by_parent):
    invoice = invoice_finalize(
        invoice=paid_by_parent.december(), now=datetime(2027, 1, 3, 9, tzinfo=UTC)
    ).invoice
    assert FrozenDocument.objects.get(invoice=invoice).bill_to == {
        "name": "Umbrella Holdings",
        "address_lines": ["9 Tower Road"],
        "email": "payables@umbrella.example",
        "account": "Globex Corporation",
    }
    assert "For the usage of Globex Corporation" in _page(admin_client, invoice)


def test_a_child_paying_for_itself_is_billed_to_itself(admin_client, paid_by_parent):
    paid_by_parent.contract.hierarchy_payer = "SELF"
    paid_by_parent.contract.save()
    body = _page(admin_client, paid_by_parent.december())
    assert "Globex Corporation" in body and "Umbrella Holdings" not in body
    assert "For the usage of" not in body
