"""The Billing providers page (secrets write-only and masked), payments with "retry now" (the
change permission), and the revenue schedule download (the permission to view invoices)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection as db
from django.urls import reverse

from payments.models import BillingProviderConnection, InvoicePayment
from payments.services import invoice_payment_queue

from .conftest import FINALIZED_AT

pytestmark = pytest.mark.django_db

CONNECTIONS = reverse("admin:payments_billingproviderconnection_changelist")
PAYMENTS = reverse("admin:payments_invoicepayment_changelist")
REVENUE = reverse("admin:payments_revenue_schedule")


def _staff(client, *codenames):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_secrets_are_stored_encrypted_and_shown_masked(admin_client):
    response = admin_client.post(
        reverse("admin:payments_billingproviderconnection_add"),
        {
            "billing_provider": "stripe",
            "secret_key": "sk_live_51SuperSecretKey9876",
            "webhook_secret": "whsec_TopSecret1234",
            "default_collection_method": "send_invoice",
            "handoff_delay_minutes": "30",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    connection = BillingProviderConnection.objects.get()
    assert connection.secret_key == "sk_live_51SuperSecretKey9876"
    with db.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM payments_billingproviderconnection")
        stored = cursor.fetchone()
    assert "SuperSecret" not in stored[0] and "TopSecret" not in stored[1]
    page = admin_client.get(CONNECTIONS).content.decode()
    change = admin_client.get(
        reverse("admin:payments_billingproviderconnection_change", args=[connection.pk])
    ).content.decode()
    for html in (page, change):
        assert "sk_live_…9876" in html
        assert "SuperSecretKey" not in html and "TopSecret" not in html


def test_an_empty_secret_field_keeps_the_stored_secret(admin_client, connection):
    response = admin_client.post(
        reverse("admin:payments_billingproviderconnection_change", args=[connection.pk]),
        {
            "billing_provider": "stripe",
            "secret_key": "",
            "webhook_secret": "",
            "default_collection_method": "charge_automatically",
            "handoff_delay_minutes": "5",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.secret_key, connection.webhook_secret, connection.handoff_delay_minutes) == (
        "sk_test_51FakeKey0000abcd",
        "whsec_fake_signing_secret",
        5,
    )


def test_a_wrong_kind_of_key_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:payments_billingproviderconnection_add"),
        {
            "billing_provider": "stripe",
            "secret_key": "pk_live_publishable",
            "default_collection_method": "charge_automatically",
            "handoff_delay_minutes": "60",
        },
    )
    assert response.status_code == 200
    assert "A Stripe secret key starts with sk_" in response.content.decode()
    assert not BillingProviderConnection.objects.exists()


def test_the_payments_list_shows_errors_and_needs_the_view_permission(client, invoice):
    payment = invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    InvoicePayment.objects.filter(pk=payment.pk).update(last_error="Stripe APIError: HTTP 500")
    _staff(client)
    assert client.get(PAYMENTS).status_code == 403
    client.logout()
    User.objects.all().delete()
    _staff(client, "view_invoicepayment")
    page = client.get(PAYMENTS + "?error=yes").content.decode()
    assert "Stripe APIError: HTTP 500" in page
    assert "Revenue schedule (CSV)" in page


def test_retry_now_needs_the_change_permission_and_sends_at_once(
    client, invoice, connection, fake_stripe
):
    payment = invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    InvoicePayment.objects.filter(pk=payment.pk).update(
        last_error="Stripe APIError", next_attempt_at=FINALIZED_AT + timedelta(days=365)
    )
    body = {"action": "retry_now", "_selected_action": [str(payment.pk)]}
    _staff(client, "view_invoicepayment")
    client.post(PAYMENTS, body)
    assert fake_stripe.calls == []
    client.logout()
    User.objects.all().delete()
    _staff(client, "view_invoicepayment", "change_invoicepayment")
    response = client.post(PAYMENTS, body, follow=True)
    assert "1 payment(s) handed to a worker" in response.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.last_error) == ("sent", "")
    assert len(fake_stripe.invoices) == 1


def test_the_revenue_download_needs_the_invoice_view_permission(client, invoice):
    _staff(client, "view_invoicepayment")
    assert client.get(REVENUE + "?month=2026-03").status_code == 403
    client.logout()
    User.objects.all().delete()
    _staff(client, "view_invoicepayment", "view_invoice")
    form = client.get(REVENUE)
    assert form.status_code == 200
    assert "Download CSV" in form.content.decode()
    bad = client.get(REVENUE + "?month=2026-13")
    assert "is not a month" in bad.content.decode()
    response = client.get(REVENUE + "?month=2026-03")
    assert response["Content-Disposition"] == 'attachment; filename="revenue-2026-03.csv"'
    rows = response.content.decode().splitlines()
    assert len(rows) == 1 + 31 * 3  # three nonzero lines, every day of March
    amounts = sum(Decimal(row.split(",")[2]) for row in rows[1:])
    assert amounts == Decimal("1349")


def test_the_customer_page_shows_its_billing_configurations(admin_client, invoice):
    page = admin_client.get(
        reverse("admin:customers_customer_change", args=[invoice.customer_id])
    ).content.decode()
    assert "cus_Acme123" in page
    assert "Billing provider configurations" in page
