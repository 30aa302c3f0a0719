"""The customer-facing methods through the official SDK in strict mode: the invoice PDF, the
billing fields as custom fields, breakdowns, costs and embeddable dashboard URLs."""

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from invoicing.services import invoice_finalize
from tests.dashboards.world import company_profile, video_world


def test_retrieve_pdf_answers_the_invoice_document(client):
    company_profile()
    world = video_world()
    invoice = invoice_finalize(invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC))

    response = client.v1.customers.invoices.retrieve_pdf(
        customer_id=str(world.customer.pk), invoice_id=str(invoice.invoice.pk)
    )

    content = response.read()
    assert content.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "Invoice INV-1" in text
    assert "$496.60" in text


def test_billing_fields_are_custom_fields_over_the_api(client):
    created = client.v1.customers.create(
        name="Globex",
        custom_fields={"billing_name": "Globex Corporation", "region": "emea"},
    ).data
    assert created.custom_fields == {"region": "emea", "billing_name": "Globex Corporation"}

    client.v1.custom_fields.set_values(
        entity="customer",
        entity_id=created.id,
        custom_fields={"billing_email": "ap@globex.example", "billing_address": "1 Main St"},
    )
    client.v1.custom_fields.delete_values(
        entity="customer", entity_id=created.id, keys=["billing_name"]
    )

    fields = client.v1.customers.retrieve(customer_id=created.id).data.custom_fields
    assert fields == {
        "region": "emea",
        "billing_email": "ap@globex.example",
        "billing_address": "1 Main St",
    }
