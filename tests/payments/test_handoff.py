from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from core import outbox
from core.models import DomainEvent
from payments import stripe_api
from payments.models import HandoffAttempt, InvoicePayment
from payments.services import (
    invoice_payment_queue,
    invoice_payment_send,
    invoice_payment_void_request,
    invoice_payments_send_due,
)

from .conftest import FINALIZED_AT, finalized_invoice

DUE = FINALIZED_AT + timedelta(hours=1)


def _finalized_event(invoice):
    with transaction.atomic():
        outbox.record(
            type="invoice.finalized",
            subject_id=invoice.pk,
            occurred_at=FINALIZED_AT,
            customer_id=invoice.customer_id,
            payload={"invoice_id": str(invoice.pk)},
        )


@pytest.mark.django_db
def test_a_finalized_invoice_of_a_stripe_contract_is_queued_for_after_the_delay(
    connection, invoice
):
    _finalized_event(invoice)
    payment = InvoicePayment.objects.get(invoice=invoice)
    assert payment.status == "queued"
    assert payment.send_after == FINALIZED_AT + timedelta(minutes=60)
    assert payment.provider_customer_id == "cus_Acme123"


@pytest.mark.django_db
def test_an_invoice_of_a_contract_without_billing_provider_is_not_queued(connection, invoice):
    invoice.contract.billing_provider_configuration = None
    invoice.contract.billing_provider = ""
    invoice.contract.save()
    _finalized_event(invoice)
    assert not InvoicePayment.objects.exists()


@pytest.mark.django_db
def test_nothing_is_sent_before_the_delay(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    counts = invoice_payments_send_due(now=DUE - timedelta(seconds=1))
    assert (counts.sent, fake_stripe.calls) == (0, [])


@pytest.mark.django_db
def test_hand_off_creates_the_invoice_one_item_per_nonzero_line_and_finalizes(
    connection, invoice, fake_stripe
):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    counts = invoice_payments_send_due(now=DUE)
    assert (counts.sent, counts.calls) == (1, 5)
    create, *items, finalize = fake_stripe.calls
    assert (create.method, create.path) == ("POST", "/v1/invoices")
    assert create.params["customer"] == "cus_Acme123"
    assert create.params["currency"] == "usd"
    assert create.params["collection_method"] == "send_invoice"
    assert create.params["days_until_due"] == "15"
    assert create.params["pending_invoice_items_behavior"] == "exclude"
    assert create.params["metadata"]["invoice_id"] == str(invoice.pk)
    assert create.idempotency_key.startswith(f"billing-{invoice.pk}-invoice-")
    lines = {line.position: line for line in invoice.line_items.all()}
    assert [(c.path, c.params["amount"], c.params["description"]) for c in items] == [
        ("/v1/invoiceitems", "1500", "Line 0 · region: eu"),
        ("/v1/invoiceitems", "-250", "Line 2"),
        ("/v1/invoiceitems", "99", "Line 3"),
    ]
    assert [c.idempotency_key for c in items] == [
        f"billing-{invoice.pk}-line-{lines[p].pk}-{create.idempotency_key.rsplit('-', 1)[1]}"
        for p in (0, 2, 3)
    ]
    assert items[0].params["period"] == {"start": "1772323200", "end": "1775001600"}
    payment = InvoicePayment.objects.get(invoice=invoice)
    assert finalize.path == f"/v1/invoices/{payment.external_id}/finalize"
    assert finalize.idempotency_key == f"billing-{invoice.pk}-finalize"
    stripe_invoice = fake_stripe.invoices[payment.external_id]
    assert (payment.status, payment.sent_at, payment.invoiced_total) == ("sent", DUE, 1349)
    assert stripe_invoice["total"] == 1349
    assert stripe_invoice["status"] == "open"
    assert payment.hosted_invoice_url == f"{fake_stripe.url}/i/{payment.external_id}"
    event = DomainEvent.objects.get(type="invoice.payment_status.updated")
    assert event.payload["payment_status"] == "sent"
    assert event.payload["previous_status"] == "queued"
    assert event.payload["external_invoice_id"] == payment.external_id
    attempt = HandoffAttempt.objects.get()
    assert (attempt.succeeded, attempt.provider_calls) == (True, 5)


@pytest.mark.django_db
def test_running_the_task_twice_sends_once(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payments_send_due(now=DUE)
    counts = invoice_payments_send_due(now=DUE + timedelta(minutes=1))
    assert counts.sent == 0
    assert len(fake_stripe.invoices) == 1
    assert len(fake_stripe.calls) == 5


@pytest.mark.django_db
def test_a_500_on_an_item_is_retried_by_the_library_with_the_same_key(
    connection, invoice, fake_stripe
):
    fake_stripe.fail_next("create_item", "500")
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    counts = invoice_payments_send_due(now=DUE)
    assert counts.sent == 1
    items = [c for c in fake_stripe.calls if c.path == "/v1/invoiceitems"]
    assert [c.status for c in items] == [500, 200, 200, 200]
    assert items[0].idempotency_key == items[1].idempotency_key
    assert len(fake_stripe.items) == 3
    assert len(fake_stripe.invoices) == 1


@pytest.mark.django_db
def test_a_timeout_after_stripe_made_the_invoice_replays_it_instead_of_making_another(
    connection, invoice, fake_stripe
):
    fake_stripe.fail_next("create_invoice", "timeout")
    fake_stripe.fail_next("create_item", "timeout")
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    counts = invoice_payments_send_due(now=DUE)
    assert counts.sent == 1
    creates = [c for c in fake_stripe.calls if c.path == "/v1/invoices"]
    assert [c.replayed for c in creates] == [False, True]
    assert len(fake_stripe.invoices) == 1
    assert len(fake_stripe.items) == 3
    assert fake_stripe.invoices[InvoicePayment.objects.get().external_id]["total"] == 1349


@pytest.mark.django_db
def test_a_failure_records_the_error_raises_the_event_and_backs_off(
    connection, invoice, fake_stripe, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake_stripe.fail_next("finalize", "500")
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    counts = invoice_payments_send_due(now=DUE)
    assert (counts.sent, counts.failed, counts.calls) == (0, 1, 5)
    payment = InvoicePayment.objects.get()
    assert payment.status == "queued"
    assert payment.external_id == next(iter(fake_stripe.invoices))
    assert "HTTP 500" in payment.last_error
    assert DUE + timedelta(seconds=10) <= payment.next_attempt_at <= DUE + timedelta(seconds=13)
    event = DomainEvent.objects.get(type="invoice.billing_provider_error")
    assert event.payload["error"] == payment.last_error
    assert HandoffAttempt.objects.get().succeeded is False
    # Not due yet; then the retry finishes the same Stripe invoice: its items are there already.
    assert invoice_payments_send_due(now=DUE + timedelta(seconds=5)).sent == 0
    counts = invoice_payments_send_due(now=DUE + timedelta(minutes=1))
    assert counts.sent == 1
    assert len(fake_stripe.invoices) == 1
    assert len(fake_stripe.items) == 3
    assert [c.path for c in fake_stripe.made("/v1/invoices")] == [
        "/v1/invoices",
        f"/v1/invoices/{payment.external_id}/finalize",
    ]
    payment.refresh_from_db()
    assert (payment.status, payment.last_error, payment.attempts) == ("sent", "", 2)


@pytest.mark.django_db
def test_an_unknown_stripe_customer_is_an_error_until_the_configuration_is_fixed(
    connection, invoice, fake_stripe
):
    fake_stripe.missing_customers.add("cus_Acme123")
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    assert invoice_payments_send_due(now=DUE).failed == 1
    payment = InvoicePayment.objects.get()
    assert "No such customer: 'cus_Acme123'" in payment.last_error
    assert payment.next_attempt_at == DUE + timedelta(hours=1)
    config = invoice.contract.billing_provider_configuration
    config.billing_provider_customer_id = "cus_Fixed456"
    config.save()
    assert invoice_payments_send_due(now=DUE + timedelta(hours=1)).sent == 1
    payment.refresh_from_db()
    assert payment.provider_customer_id == "cus_Fixed456"
    assert fake_stripe.invoices[payment.external_id]["customer"] == "cus_Fixed456"


@pytest.mark.django_db
def test_without_a_stripe_connection_nothing_is_called_and_the_error_says_why(invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    assert invoice_payments_send_due(now=DUE).failed == 1
    assert fake_stripe.calls == []
    assert InvoicePayment.objects.get().last_error.startswith("Stripe is not connected")


@pytest.mark.django_db
def test_voiding_our_invoice_voids_the_stripe_invoice(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payments_send_due(now=DUE)
    invoice_payment_void_request(invoice=invoice, now=DUE + timedelta(days=1))
    counts = invoice_payments_send_due(now=DUE + timedelta(days=1))
    assert counts.voided == 1
    payment = InvoicePayment.objects.get()
    void = fake_stripe.calls[-1]
    assert void.path == f"/v1/invoices/{payment.external_id}/void"
    assert void.idempotency_key == f"billing-{invoice.pk}-void"
    assert fake_stripe.invoices[payment.external_id]["status"] == "void"
    assert payment.status == "voided"


@pytest.mark.django_db
def test_an_invoice_voided_before_its_hand_off_is_never_sent(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payment_void_request(invoice=invoice, now=FINALIZED_AT + timedelta(minutes=5))
    assert invoice_payments_send_due(now=DUE).sent == 0
    assert fake_stripe.calls == []
    assert InvoicePayment.objects.get().status == "voided"


@pytest.mark.django_db
def test_a_regenerated_invoice_is_sent_as_a_new_stripe_invoice(connection, invoice, fake_stripe):
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payments_send_due(now=DUE)
    invoice_payment_void_request(invoice=invoice, now=DUE)
    invoice_payments_send_due(now=DUE)
    invoice.status = "VOID"
    invoice.save()
    again = finalized_invoice(invoice.contract, number=102)
    again.regenerated_from = invoice
    again.save()
    invoice_payment_queue(invoice=again, now=DUE)
    assert invoice_payments_send_due(now=DUE + timedelta(hours=1)).sent == 1
    old, new = (InvoicePayment.objects.get(invoice=i) for i in (invoice, again))
    assert old.external_id != new.external_id
    assert fake_stripe.invoices[old.external_id]["status"] == "void"
    assert fake_stripe.invoices[new.external_id]["status"] == "open"


@pytest.mark.django_db
def test_the_command_sends_what_is_due_at_once(connection, invoice, fake_stripe, capsys):
    payment = invoice_payment_queue(invoice=invoice, now=datetime.now(UTC) - timedelta(hours=2))
    call_command("invoices_send_to_providers")
    assert "sent 1" in capsys.readouterr().out
    payment.refresh_from_db()
    assert payment.status == "sent"


@pytest.mark.django_db
def test_a_claimed_payment_is_not_sent_by_a_second_worker(connection, invoice, fake_stripe):
    payment = invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    InvoicePayment.objects.filter(pk=payment.pk).update(claimed_until=DUE + timedelta(minutes=5))
    assert invoice_payment_send(payment_id=payment.pk, now=DUE) == ("skipped", 0)
    assert fake_stripe.calls == []


# --- Retries after Stripe forgot the idempotency keys (24 hours) ----------------------------------

LATER = DUE + timedelta(hours=25)


def _line_ids(calls):
    return [call.params["metadata"]["invoice_line_id"] for call in calls]


@pytest.mark.django_db
def test_a_retry_after_stripe_forgot_the_keys_creates_only_the_missing_items(
    connection, invoice, fake_stripe, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake_stripe.fail_next("create_item", "500", after=1)
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    assert invoice_payments_send_due(now=DUE).failed == 1
    payment = InvoicePayment.objects.get()
    assert len(fake_stripe.items) == 1
    fake_stripe.forget_keys()
    fake_stripe.reset()
    counts = invoice_payments_send_due(now=LATER)
    assert (counts.sent, counts.calls) == (1, 5)
    retrieve, listing, *created, finalize = fake_stripe.calls
    assert (retrieve.method, retrieve.path) == ("GET", f"/v1/invoices/{payment.external_id}")
    assert (listing.method, listing.path) == ("GET", "/v1/invoiceitems")
    assert listing.params == {"invoice": payment.external_id, "limit": "100"}
    lines = {line.position: str(line.pk) for line in invoice.line_items.all()}
    assert _line_ids(created) == [lines[2], lines[3]]
    assert finalize.path == f"/v1/invoices/{payment.external_id}/finalize"
    assert len(fake_stripe.invoices) == 1
    assert sorted(_line_ids(fake_stripe.made("/v1/invoiceitems"))) == sorted([lines[2], lines[3]])
    assert len(fake_stripe.items) == 3
    assert fake_stripe.invoices[payment.external_id]["total"] == 1349
    payment.refresh_from_db()
    assert (payment.status, payment.invoiced_total) == ("sent", 1349)


@pytest.mark.django_db
def test_a_retry_lists_the_items_page_by_page(connection, fake_stripe, settings, monkeypatch):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    monkeypatch.setattr(stripe_api, "LIST_PAGE", 2)
    invoice = finalized_invoice(totals=("100", "200", "300", "400", "500"))
    fake_stripe.fail_next("create_item", "500", after=3)
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    invoice_payments_send_due(now=DUE)
    fake_stripe.forget_keys()
    fake_stripe.reset()
    assert invoice_payments_send_due(now=LATER).sent == 1
    listings = [call for call in fake_stripe.calls if call.path == "/v1/invoiceitems"]
    first, second, *created = listings
    assert (first.method, "starting_after" in first.params) == ("GET", False)
    assert second.method == "GET"
    assert second.params["starting_after"] in fake_stripe.items
    lines = {line.position: str(line.pk) for line in invoice.line_items.all()}
    assert _line_ids(created) == [lines[3], lines[4]]
    assert len(fake_stripe.items) == 5
    assert next(iter(fake_stripe.invoices.values()))["total"] == 1500


@pytest.mark.django_db
def test_a_retry_of_an_invoice_stripe_finalized_after_the_keys_expired_is_sent_as_it_is(
    connection, invoice, fake_stripe, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake_stripe.fail_next("finalize", "timeout")
    invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    assert invoice_payments_send_due(now=DUE).failed == 1
    fake_stripe.forget_keys()
    fake_stripe.reset()
    assert invoice_payments_send_due(now=LATER).sent == 1
    payment = InvoicePayment.objects.get()
    assert [(call.method, call.path) for call in fake_stripe.calls] == [
        ("GET", f"/v1/invoices/{payment.external_id}")
    ]
    assert (payment.status, payment.invoiced_total, payment.last_error) == ("sent", 1349, "")
    assert payment.hosted_invoice_url == f"{fake_stripe.url}/i/{payment.external_id}"
    assert len(fake_stripe.items) == 3


# --- The client ------------------------------------------------------------------------------------


def test_the_environments_proxy_is_taken_unless_no_proxy_names_the_host(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert stripe_api.environment_proxy("https://api.stripe.com") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert stripe_api.environment_proxy("https://api.stripe.com") == {
        "https": "http://proxy.internal:3128"
    }
    monkeypatch.setenv("NO_PROXY", "api.stripe.com")
    assert stripe_api.environment_proxy("https://api.stripe.com") is None


def test_a_thread_keeps_its_client_until_the_settings_change(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    first = stripe_api.client_for("sk_test_one")
    assert stripe_api.client_for("sk_test_one") is first
    second = stripe_api.client_for("sk_test_two")
    assert second is not first
    settings.STRIPE_API_BASE = "http://127.0.0.1:10"
    assert stripe_api.client_for("sk_test_two") is not second
