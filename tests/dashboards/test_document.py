"""The invoice document in the admin: the customer's copy, the staff view, drafts and frozen
parties."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from catalog.models import Rate
from dashboards.models import CompanyProfile, FrozenDocument
from invoicing.services import invoice_void

pytestmark = pytest.mark.django_db


def page(client, invoice, **params) -> str:
    response = client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_customers_copy_has_seller_bill_to_dates_and_money(admin_client, finalized):
    body = page(admin_client, finalized)

    for text in (
        "Invoice INV-1",
        "Initech Billing LLC",
        "500 Market Street",
        "Tax ID: US-12-3456789",
        "Globex Corporation",
        "1 Main Street",
        "ap@globex.example",
        "January 3, 2027",  # issued
        "February 2, 2027",  # due: net 30
        "December 1-31, 2026",
        "<td>USD</td>",
        "Net 30 days",
    ):
        assert text in body, text
    assert "USD (cents)" not in body


def test_lines_are_grouped_by_product_in_its_unit_with_tiers_in_words(admin_client, finalized):
    body = page(admin_client, finalized)

    assert body.count("1080p - marketing") == 3
    for text in (
        "First 2 minutes",
        "Next 3 minutes",
        "Over 5 minutes",
        "2 minutes",
        "3 minutes",
        "$2.00",
        "$2.40",
        "$1.00",
        "720p - sales",
        "$1.20",
        "Video transcoding subtotal",
        "$6.60",
        "Platform fee",
        "$500.00",
    ):
        assert text in body, text
    assert "resolution=" not in body


def test_the_customers_copy_leaves_out_lines_without_a_price_and_zero_lines(
    admin_client, finalized
):
    body = page(admin_client, finalized)

    assert "4k - marketing" not in body
    assert "480p - sales" not in body
    assert "usage without a price" not in body.lower()


def test_the_staff_view_shows_the_left_out_lines_and_says_why(admin_client, finalized):
    body = page(admin_client, finalized, lines="all")

    assert "4k - marketing" in body
    assert "Usage without a price: not charged" in body
    assert "480p - sales" in body
    assert "Zero amount" in body
    assert "2 lines shown in grey are left out" in body


def test_commits_and_credits_are_their_own_section_and_the_total_is_due(admin_client, finalized):
    body = page(admin_client, finalized)

    assert "Commits and credits applied" in body
    assert "Welcome credit" in body
    assert "-$10.00" in body
    assert "$506.60" in body  # subtotal
    assert "Total due (USD)</th><td>$496.60" in body
    assert "Bank transfer to IBAN US00 1234 5678" in body
    assert "Please pay by February 2, 2027, quoting INV-1." in body


def test_a_draft_is_watermarked_and_not_yet_issued(admin_client, world):
    body = page(admin_client, world.december())

    assert '<div class="watermark" aria-hidden="true">DRAFT</div>' in body
    assert "Invoice (draft)" in body
    assert "Not issued yet (draft)" in body
    assert "$496.60" in body


def test_a_void_invoice_is_watermarked_void(admin_client, finalized):
    invoice_void(invoice=finalized, now=datetime(2027, 1, 5, tzinfo=UTC))

    body = page(admin_client, finalized)

    assert '<div class="watermark" aria-hidden="true">VOID</div>' in body
    assert "not payable" in body


def test_finalizing_freezes_seller_bill_to_and_units(finalized):
    frozen = FrozenDocument.objects.get(invoice=finalized)

    assert frozen.seller["name"] == "Initech Billing LLC"
    assert frozen.bill_to == {
        "name": "Globex Corporation",
        "address_lines": ["1 Main Street", "Springfield, OR 97477"],
        "email": "ap@globex.example",
    }
    assert {v["unit"] for v in frozen.products.values()} == {"minutes", ""}
    assert frozen.frozen_at == datetime(2027, 1, 3, 9, tzinfo=UTC)


def test_a_finalized_document_does_not_follow_todays_data(admin_client, world, finalized):
    CompanyProfile.objects.filter(pk=1).update(name="Renamed Corp")
    world.customer.billing_name = "Someone Else"
    world.customer.save()
    world.transcoding.display_unit = "hours"
    world.transcoding.save()
    Rate.objects.filter(product=world.transcoding).update(price=Decimal(99999))

    body = page(admin_client, finalized)

    assert "Initech Billing LLC" in body and "Renamed Corp" not in body
    assert "Globex Corporation" in body and "Someone Else" not in body
    assert "3 minutes" in body and "hours" not in body
    assert "$496.60" in body


def test_a_draft_follows_todays_profile_and_customer(admin_client, world):
    CompanyProfile.objects.filter(pk=1).update(name="Renamed Corp")

    assert "Renamed Corp" in page(admin_client, world.december())


def test_the_invoice_page_has_document_and_pdf_buttons(admin_client, finalized):
    response = admin_client.get(reverse("admin:invoicing_invoice_change", args=[finalized.pk]))

    body = response.content.decode()
    document = reverse("admin:invoicing_invoice_print", args=[finalized.pk])
    pdf = reverse("admin:invoicing_invoice_pdf", args=[finalized.pk])
    assert f'<li><a href="{document}" target="_blank">Invoice document</a></li>' in body
    assert f'<li><a href="{pdf}">Download PDF</a></li>' in body


def test_the_admin_pdf_downloads(admin_client, finalized):
    response = admin_client.get(reverse("admin:invoicing_invoice_pdf", args=[finalized.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-INV-1.pdf"'
    assert response.content.startswith(b"%PDF-")


def staff(*codenames) -> User:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_the_document_and_pdf_need_the_view_invoice_permission(client, finalized):
    client.force_login(staff())
    for name in ("admin:invoicing_invoice_print", "admin:invoicing_invoice_pdf"):
        assert client.get(reverse(name, args=[finalized.pk])).status_code == 403


def test_a_viewer_opens_the_document_and_the_pdf(client, finalized):
    client.force_login(staff("view_invoice"))
    for name in ("admin:invoicing_invoice_print", "admin:invoicing_invoice_pdf"):
        assert client.get(reverse(name, args=[finalized.pk])).status_code == 200
