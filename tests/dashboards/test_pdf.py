"""GET /v1/customers/{id}/invoices/{id}/pdf: the document as PDF, its text, byte stability."""

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from catalog.models import Rate
from dashboards.models import CompanyProfile
from tests.dashboards.world import event
from tests.invoicing.factories import ingest

pytestmark = pytest.mark.django_db


def pdf(api_client, invoice, **headers):
    return api_client.get(
        f"/v1/customers/{invoice.customer_id}/invoices/{invoice.pk}/pdf",
        HTTP_ACCEPT="application/pdf",
        **headers,
    )


def text_of(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_has_number_seller_bill_to_each_amount_and_the_total(api_client, finalized):
    response = pdf(api_client, finalized)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="invoice-INV-1.pdf"'
    text = text_of(response.content)
    for expected in (
        "Invoice INV-1",
        "Initech Billing LLC",
        "Globex Corporation",
        "1 Main Street",
        "December 1-31, 2026",
        "February 2, 2027",
        "First 2 minutes",
        "$2.00",
        "$2.40",
        "$1.00",
        "$1.20",
        "$500.00",
        "-$10.00",
        "Total due (USD)",
        "$496.60",
    ):
        assert expected in text, expected
    assert "4k" not in text


def test_a_finalized_pdf_is_the_same_bytes_on_every_render_whatever_changed(
    api_client, world, finalized
):
    first = pdf(api_client, finalized).content
    CompanyProfile.objects.filter(pk=1).update(name="Renamed Corp", address="Elsewhere")
    world.customer.billing_address = "Moved away"
    world.customer.save()
    Rate.objects.filter(product=world.transcoding).update(price=Decimal(12345))
    ingest(
        [event(world.customer, "1080p", "marketing", 6000, 20, n=9)],
        now=datetime(2027, 1, 4, tzinfo=UTC),
    )

    second = pdf(api_client, finalized).content

    assert second == first
    # Its creation date is the invoice's issue date, not the moment it was rendered.
    assert "Renamed Corp" not in text_of(second)
    info = PdfReader(io.BytesIO(second)).metadata
    assert info.creation_date == datetime(2027, 1, 3, 9, tzinfo=UTC)


def test_a_draft_pdf_is_watermarked_and_current(api_client, world):
    response = pdf(api_client, world.december())

    text = text_of(response.content)
    assert "DRAFT" in text
    assert "$496.60" in text
    assert response["Content-Disposition"] == 'inline; filename="invoice-draft-2026-12-01.pdf"'


def test_an_invoice_of_another_customer_is_not_found(api_client, world, finalized):
    other = world.customer.__class__.objects.create(name="Other")

    response = api_client.get(
        f"/v1/customers/{other.pk}/invoices/{finalized.pk}/pdf", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "message": f"Invoice {finalized.pk} not found for customer {other.pk}."
    }


def test_malformed_ids_are_a_400_naming_the_field(api_client, finalized):
    response = api_client.get(
        f"/v1/customers/{finalized.customer_id}/invoices/nope/pdf", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 400
    assert "invoice_id" in response.json()["message"]


def test_the_pdf_needs_a_token(client, finalized):
    response = client.get(f"/v1/customers/{finalized.customer_id}/invoices/{finalized.pk}/pdf")

    assert response.status_code == 401
    assert re.search("credentials", response.json()["message"])
