import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from core.models import DomainEvent
from payments.models import InvoicePayment, ProviderEvent
from payments.services import invoice_payment_queue, invoice_payments_send_due

from .conftest import FINALIZED_AT, SIGNING

URL = "/webhooks/stripe"


def _event(event_id, type_, invoice_id, created=1_780_000_000, **fields):
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": created,
        "data": {"object": {"id": invoice_id, "object": "invoice", **fields}},
    }


def _post(client, body: dict, secret=SIGNING, signature=None):
    payload = json.dumps(body)
    header = signature or stripe.WebhookSignature.generate_signature_header(payload, secret)
    return client.post(URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


@pytest.fixture
def sent(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payments_send_due(now=FINALIZED_AT + timedelta(hours=1))
    return InvoicePayment.objects.get(invoice=invoice)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("invoice.paid", "paid"),
        ("invoice.payment_failed", "failed"),
        ("invoice.voided", "voided"),
        ("invoice.marked_uncollectible", "uncollectible"),
    ],
)
def test_a_signed_event_moves_the_payment_status_with_its_time(client, sent, type_, status):
    response = _post(client, _event("evt_1", type_, sent.external_id, payment_intent="pi_123"))
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "applied"}
    sent.refresh_from_db()
    moment = datetime.fromtimestamp(1_780_000_000, UTC)
    assert (sent.status, sent.status_changed_at, sent.external_payment_id) == (
        status,
        moment,
        "pi_123",
    )
    event = DomainEvent.objects.filter(type="invoice.payment_status.updated").latest("id")
    assert (event.payload["payment_status"], event.payload["previous_status"]) == (status, "sent")
    assert event.occurred_at == moment


@pytest.mark.django_db
def test_a_bad_signature_is_400_and_changes_nothing(client, sent):
    response = _post(client, _event("evt_1", "invoice.paid", sent.external_id), secret="whsec_x")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Stripe-Signature: No signatures found")
    sent.refresh_from_db()
    assert sent.status == "sent"
    assert not ProviderEvent.objects.exists()


@pytest.mark.django_db
def test_a_missing_signature_is_400(client, sent):
    response = client.post(URL, "{}", content_type="application/json")
    assert response.status_code == 400
    assert "No Stripe-Signature header" in response.json()["message"]


@pytest.mark.django_db
def test_a_stale_signature_is_400(client, sent):
    payload = json.dumps(_event("evt_1", "invoice.paid", sent.external_id))
    header = stripe.WebhookSignature.generate_signature_header(
        payload, SIGNING, timestamp=int(time.time()) - 3600
    )
    response = _post(client, json.loads(payload), signature=header)
    assert response.status_code == 400
    assert "tolerance" in response.json()["message"]


@pytest.mark.django_db
def test_without_a_signing_secret_nothing_can_be_verified(client, sent, connection):
    connection.webhook_secret = ""
    connection.save()
    response = _post(client, _event("evt_1", "invoice.paid", sent.external_id))
    assert response.status_code == 400
    assert "no webhook signing secret is configured" in response.json()["message"]


@pytest.mark.django_db
def test_a_replayed_event_is_acknowledged_and_ignored(client, sent):
    _post(client, _event("evt_1", "invoice.payment_failed", sent.external_id))
    _post(client, _event("evt_2", "invoice.paid", sent.external_id, created=1_780_000_100))
    response = _post(client, _event("evt_1", "invoice.payment_failed", sent.external_id))
    assert response.json() == {"received": True, "outcome": "replayed"}
    sent.refresh_from_db()
    assert sent.status == "paid"
    assert DomainEvent.objects.filter(type="invoice.payment_status.updated").count() == 3


@pytest.mark.django_db
def test_an_older_event_arriving_late_does_not_undo_a_newer_one(client, sent):
    _post(client, _event("evt_2", "invoice.paid", sent.external_id, created=1_780_000_100))
    response = _post(client, _event("evt_1", "invoice.payment_failed", sent.external_id))
    assert response.json()["outcome"] == "ignored"
    sent.refresh_from_db()
    assert sent.status == "paid"


@pytest.mark.django_db
def test_unknown_events_and_invoices_are_acknowledged_and_ignored(client, sent):
    other = _post(client, _event("evt_3", "customer.created", "cus_1"))
    stranger = _post(client, _event("evt_4", "invoice.paid", "in_not_ours"))
    assert (other.status_code, stranger.status_code) == (200, 200)
    assert other.json()["outcome"] == stranger.json()["outcome"] == "ignored"
    assert ProviderEvent.objects.get(pk="evt_4").note == (
        "No invoice of ours was sent as this Stripe invoice."
    )
    sent.refresh_from_db()
    assert sent.status == "sent"


@pytest.mark.django_db
def test_the_invoice_api_shows_external_invoice(api_client, client, sent):
    _post(client, _event("evt_1", "invoice.paid", sent.external_id, payment_intent="pi_9"))
    url = f"/v1/customers/{sent.invoice.customer_id}/invoices/{sent.invoice_id}"
    data = api_client.get(url).json()["data"]
    assert data["external_invoice"] == {
        "billing_provider_type": "stripe",
        "external_status": "PAID",
        "invoice_id": sent.external_id,
        "external_payment_id": "pi_9",
        "invoiced_total": 1349,
        "issued_at_timestamp": "2026-04-02T01:00:00Z",
        "pdf_url": f"{sent.hosted_invoice_url}/pdf",
    }
    listed = api_client.get(f"/v1/customers/{sent.invoice.customer_id}/invoices").json()["data"]
    assert [row.get("external_invoice", {}).get("external_status") for row in listed] == ["PAID"]
