"""What the customer receives in an account hierarchy: the document of a child's invoice paid
for by its parent is billed to the payer and says whose usage it is; a consolidated invoice
groups its lines by account; the invoices dashboard's billable_status_filter tells the
statements billed on a consolidated invoice (unbillable) from the others."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from dashboards.models import FrozenDocument
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize
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


@pytest.fixture
def consolidated(paid_by_parent):
    """The world's contract consolidating onto its parent's invoice."""
    world = paid_by_parent
    world.contract.hierarchy_usage_statement_behavior = "CONSOLIDATE"
    world.contract.save()
    contract_drafts_ensure(contract=world.contract, now=datetime(2026, 12, 20, tzinfo=UTC))
    return Invoice.objects.get(type="USAGE_CONSOLIDATED", contract=world.contract.parent_contract)


def test_a_consolidated_document_groups_lines_by_account(
    admin_client, paid_by_parent, consolidated
):
    body = _page(admin_client, consolidated)
    bill_to = body[body.index('aria-label="Bill to"') :][:600]
    assert "Umbrella Holdings" in bill_to and "For the usage of" not in bill_to
    assert "(Globex Corporation)" in body
    own = _page(admin_client, paid_by_parent.december())
    assert "$496.60" in own and "$496.60" in body


@pytest.mark.parametrize("value,listed", [("billable", False), ("all", True), ("unbillable", True)])
def test_a_consolidated_statement_is_unbillable_on_the_dashboard(
    client, api_client, paid_by_parent, consolidated, value, listed
):
    statement = paid_by_parent.december()
    response = api_client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {
            "customer_id": str(paid_by_parent.customer.pk),
            "dashboard": "invoices",
            "dashboard_options": [{"key": "billable_status_filter", "value": value}],
        },
        format="json",
    )
    page = response.json()["data"]["url"].removeprefix("http://testserver")
    ids = [invoice["id"] for invoice in client.get(page + "data.json").json()["invoices"]]
    assert (str(statement.pk) in ids) is listed
