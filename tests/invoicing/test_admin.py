"""Admin smoke tests: invoice list, read-only change page with lines, printable page, actions."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize, invoice_void
from tests.invoicing.factories import ingest
from tests.invoicing.golden_support import case_paths, load_case
from tests.invoicing.golden_world import build_world

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def world():
    case = load_case(case_paths()[0])
    world = build_world(case)
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 20))
    ingest([world.event(data) for data in case["events"]])
    return world


def march(world) -> Invoice:
    return Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))


def test_index_lists_invoices_in_the_customers_section(admin_client):
    response = admin_client.get(reverse("admin:index"))
    sections = {
        app["name"]: [m["object_name"] for m in app["models"]]
        for app in response.context["app_list"]
    }
    assert "Invoice" in sections["Customers"]


def test_invoice_list_shows_money_formatted(admin_client, world):
    response = admin_client.get(reverse("admin:invoicing_invoice_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "$6.15" in body  # the draft of March, rated on read
    assert "Acme AI" in body


def test_draft_change_page_shows_lines_and_links_to_print(admin_client, world):
    invoice = march(world)
    response = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Input Tokens" in body
    assert "model_name=model-A" in body
    assert "$1.50" in body  # the unit price of model A per million tokens
    assert "$6.15" in body
    assert reverse("admin:invoicing_invoice_print", args=[invoice.pk]) in body
    assert 'name="_save"' not in body


def test_finalized_change_page_is_read_only_with_number(admin_client, world):
    invoice = march(world)
    invoice_finalize(invoice=invoice, now=t(2026, 4, 3))
    response = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in body
    assert "$6.15" in body
    post = admin_client.post(
        reverse("admin:invoicing_invoice_change", args=[invoice.pk]), {"status": "DRAFT"}
    )
    assert post.status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "FINALIZED"


def test_printable_invoice(admin_client, world):
    invoice = march(world)
    invoice_finalize(invoice=invoice, now=t(2026, 4, 3))
    response = admin_client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Invoice 1" in body
    assert "$6.15" in body
    assert "@media print" in body


def test_no_add_or_delete(admin_client, world):
    assert admin_client.get(reverse("admin:invoicing_invoice_add")).status_code == 403
    invoice = march(world)
    assert (
        admin_client.get(reverse("admin:invoicing_invoice_delete", args=[invoice.pk])).status_code
        == 403
    )


def action(admin_client, name, invoices):
    return admin_client.post(
        reverse("admin:invoicing_invoice_changelist"),
        {"action": name, "_selected_action": [str(i.pk) for i in invoices]},
        follow=True,
    )


def test_finalize_void_and_regenerate_actions(admin_client, world):
    invoice = march(world)
    response = action(admin_client, "void_selected", [invoice])
    assert "cannot become VOID" in response.content.decode()
    action(admin_client, "finalize_selected", [invoice])
    invoice.refresh_from_db()
    assert invoice.status == "FINALIZED"
    assert invoice.total == 615
    action(admin_client, "void_selected", [invoice])
    invoice.refresh_from_db()
    assert invoice.status == "VOID"
    response = action(admin_client, "regenerate_selected", [invoice])
    assert "Regenerated 1 invoice" in response.content.decode()
    new = Invoice.objects.get(regenerated_from=invoice)
    assert new.status == "DRAFT"


def test_void_page_stays_viewable(admin_client, world):
    invoice = march(world)
    invoice_finalize(invoice=invoice, now=t(2026, 4, 3))
    invoice_void(invoice=invoice, now=t(2026, 4, 4))
    response = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
    assert response.status_code == 200
    assert "Void" in response.content.decode()
