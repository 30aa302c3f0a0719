"""Signed, at-least-once webhook delivery to a real local receiver that verifies signatures with
the standardwebhooks library: retries with backoff, give-up after 72 hours, endpoints disabled
after five failing days, a worker killed mid-delivery, rotation, resend, test events, pruning."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from core import outbox
from core.models import DomainEvent, DomainEventHandling
from customers.models import Customer
from notifications.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from notifications.services import (
    deliveries_prune,
    deliveries_send_due,
    delivery_resend,
    delivery_send,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_send_test,
)
from notifications.services import webhooks as sending

pytestmark = pytest.mark.django_db


def _record(event_type="invoice.finalized", payload=None, customer_id=None):
    now = datetime.now(UTC)
    with transaction.atomic():
        return outbox.record(
            type=event_type,
            subject_id="subject",
            customer_id=customer_id,
            occurred_at=now,
            payload=payload
            or {
                "invoice_id": "de99894e-f9ce-4b6c-92b0-f4ec0d09b6f1",
                "customer_id": "3c9e87ba-0e49-44a3-9aa9-6917f8da3491",
                "contract_id": "6c0e3b65-3c2d-4b4a-8d4c-b6e1d6f0c2a1",
                "invoice_type": "USAGE",
                "number": 7,
            },
        )


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_an_event_is_signed_and_delivered_in_metronomes_shape(endpoint, receiver):
    event = _record()

    [request] = receiver.received
    body = receiver.verify(endpoint.raw_secret, request)
    assert request.id == str(event.uuid)
    assert body == {
        "id": str(event.uuid),
        "type": "invoice.finalized",
        "properties": {
            "invoice_id": "de99894e-f9ce-4b6c-92b0-f4ec0d09b6f1",
            "customer_id": "3c9e87ba-0e49-44a3-9aa9-6917f8da3491",
            "contract_id": "6c0e3b65-3c2d-4b4a-8d4c-b6e1d6f0c2a1",
            "invoice_finalized_date": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "invoice_type": "USAGE",
        },
    }
    assert receiver.rejects("whsec_" + "A" * 32, request)
    delivery = _delivery()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    [attempt] = delivery.delivery_attempts.all()
    assert attempt.status_code == 200
    assert attempt.response == '{"ok": true, "try": 1}'
    assert attempt.succeeded


def test_only_subscribed_enabled_endpoints_get_it_and_any_type_works(receiver, db):
    wanted, _ = webhook_endpoint_create(url=receiver.url, event_types=["invoice.*"])
    webhook_endpoint_create(url=receiver.url + "/other", event_types=["contract.create"])
    webhook_endpoint_create(url=receiver.url + "/off", enabled=False)

    event = _record(
        "invoice.payment_status.updated",
        {"invoice_id": "i-1", "customer_id": "c-1", "payment_status": "paid"},
    )

    assert [(d.endpoint_id, d.event_type) for d in WebhookDelivery.objects.all()] == [
        (wanted.pk, "invoice.payment_status.updated")
    ]
    [request] = receiver.received
    assert request.json["properties"]["payment_status"] == "paid"
    assert request.id == str(event.uuid)


def test_nothing_is_recorded_for_an_event_nobody_subscribes_to(db):
    event = _record()
    handlers = list(event.handlings.values_list("handler", flat=True))
    assert not [h for h in handlers if h.startswith("notifications.")]
    assert not WebhookDelivery.objects.exists()


def test_500_twice_then_200_is_retried_with_backoff_under_the_same_id(endpoint, receiver):
    receiver.answers = [500, 500]
    event = _record()
    delivery = _delivery()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.attempts == 1
    first_retry = delivery.next_attempt_at - delivery.created_at
    assert timedelta(seconds=7) < first_retry < timedelta(seconds=13)

    assert deliveries_send_due(now=delivery.created_at + timedelta(seconds=5)) == 0
    assert len(receiver.received) == 1  # not due yet
    deliveries_send_due(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    second_retry = delivery.next_attempt_at - _attempts(delivery)[-1].attempted_at
    assert timedelta(seconds=15) < second_retry < timedelta(seconds=25)
    deliveries_send_due(now=delivery.next_attempt_at)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.status_code for a in _attempts(delivery)] == [500, 500, 200]
    assert [a.error for a in _attempts(delivery)] == ["HTTP 500", "HTTP 500", ""]
    assert {r.id for r in receiver.received} == {str(event.uuid)}
    assert len({r.body for r in receiver.received}) == 1
    assert all(receiver.verify(endpoint.raw_secret, r) for r in receiver.received)
    assert WebhookEndpoint.objects.get().failing_since is None


def _attempts(delivery):
    return list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempted_at", "id"))


def test_receiver_down_redirecting_slow_or_tls_broken_is_retried_never_raised(
    receiver, db, monkeypatch
):
    closed, _ = webhook_endpoint_create(url="http://127.0.0.1:9/down")
    tls, _ = webhook_endpoint_create(url=receiver.url.replace("http://", "https://"))
    _record()
    by_endpoint = {d.endpoint_id: d for d in WebhookDelivery.objects.all()}
    assert by_endpoint[closed.pk].status == WebhookDelivery.Status.PENDING
    assert _attempts(by_endpoint[closed.pk])[0].error.startswith("No answer: ConnectionRefused")
    assert _attempts(by_endpoint[tls.pk])[0].status_code is None
    assert "SSL" in _attempts(by_endpoint[tls.pk])[0].error

    WebhookEndpoint.objects.all().delete()
    receiver.answers = [302, 404]
    webhook_endpoint_create(url=receiver.url)
    _record()
    delivery = _delivery()
    deliveries_send_due(now=delivery.next_attempt_at)
    assert [a.status_code for a in _attempts(delivery)] == [302, 404]
    assert len(receiver.received) == 2  # the redirect was not followed

    monkeypatch.setattr(sending, "TIMEOUT", 0.2)
    receiver.delay = 0.5
    WebhookEndpoint.objects.all().delete()
    webhook_endpoint_create(url=receiver.url)
    _record()
    [attempt] = _attempts(_delivery())
    assert attempt.status_code is None
    assert attempt.error.startswith("Timed out")
    assert _delivery().status == WebhookDelivery.Status.PENDING


def test_after_72_hours_the_delivery_fails_and_five_failing_days_disable_the_endpoint(db):
    endpoint, _ = webhook_endpoint_create(url="http://127.0.0.1:9/down")
    _record()
    delivery = _delivery()
    moment = delivery.created_at
    while True:
        delivery.refresh_from_db()
        if delivery.status != WebhookDelivery.Status.PENDING:
            break
        moment = delivery.next_attempt_at
        deliveries_send_due(now=moment)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert moment <= delivery.created_at + timedelta(hours=72)
    assert moment > delivery.created_at + timedelta(hours=70)
    attempts = delivery.attempts
    assert 70 < attempts < 90  # 10 s doubling to an hour, then hourly
    endpoint.refresh_from_db()
    assert endpoint.enabled
    first = _attempts(delivery)[0].attempted_at
    assert endpoint.failing_since == first

    later = delivery.created_at + timedelta(days=5, minutes=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=later,
        give_up_at=later + timedelta(days=3),
    )
    deliveries_send_due(now=later)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason.startswith(
        f"Disabled on {later:%Y-%m-%d %H:%M} UTC: every delivery failed for five days"
    )


class Killed(BaseException):
    """What a SIGKILL does to a worker: nothing after it runs, nothing catches it."""


def test_a_worker_killed_mid_delivery_leaves_it_to_be_sent_again(endpoint, receiver, monkeypatch):
    real_post = sending.post

    def post_then_die(url, body, headers):
        real_post(url, body, headers)  # the receiver got it, the answer is lost
        raise Killed

    monkeypatch.setattr(sending, "post", post_then_die)
    with pytest.raises(Killed):
        _record()
    monkeypatch.setattr(sending, "post", real_post)
    delivery = _delivery()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.locked_until is not None
    assert (
        delivery_send(delivery_id=delivery.pk, now=delivery.locked_until - timedelta(seconds=1))
        is None
    )

    assert deliveries_send_due(now=delivery.locked_until) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [r.id for r in receiver.received] == [delivery.message_id] * 2


def test_a_sending_error_is_logged_with_the_delivery_id_and_retried(endpoint, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(sending, "signed_headers", broken)
    event = _record()  # the recording side never sees the failure
    delivery = _delivery()
    assert f"webhook delivery {delivery.pk}: sending failed" in caplog.text
    assert event.pk
    monkeypatch.undo()
    assert deliveries_send_due(now=delivery.locked_until) == 1


def test_rotation_signs_with_both_secrets_for_24_hours(endpoint, receiver):
    old = endpoint.raw_secret
    now = datetime.now(UTC)
    new = webhook_endpoint_rotate_secret(endpoint=endpoint, now=now)
    assert new != old
    _record()
    [request] = receiver.received
    assert receiver.verify(old, request)
    assert receiver.verify(new, request)
    assert len(request.headers["webhook-signature"].split(" ")) == 2

    endpoint.refresh_from_db()
    assert sending.secrets_in_force(endpoint, now + timedelta(hours=24)) == [new]


def test_resend_and_test_event(endpoint, receiver):
    _record()
    delivery = _delivery()
    with transaction.atomic():
        delivery_resend(delivery=delivery, now=datetime.now(UTC))
    assert [r.id for r in receiver.received] == [delivery.message_id] * 2

    with transaction.atomic():
        test = webhook_endpoint_send_test(endpoint=endpoint, now=datetime.now(UTC))
    body = receiver.verify(endpoint.raw_secret, receiver.received[-1])
    assert body["type"] == "webhooks.test"
    assert body["id"] == test.message_id


def test_system_notifications_are_flat_with_custom_fields(endpoint, receiver, world):
    [created] = [r for r in receiver.received if r.json["type"] == "contract.create"]
    body = receiver.verify(endpoint.raw_secret, created)
    assert set(body) == {
        "id",
        "type",
        "timestamp",
        "environment_type",
        "contract_id",
        "customer_id",
        "contract_custom_fields",
        "customer_custom_fields",
    }
    assert body["contract_id"] == world["contract"]
    assert body["customer_id"] == world["customer"]


def test_old_deliveries_are_pruned_after_30_days(endpoint):
    _record()
    delivery = _delivery()
    assert deliveries_prune(now=delivery.created_at + timedelta(days=29)) == 0
    assert deliveries_prune(now=delivery.created_at + timedelta(days=31)) == 1
    assert not DeliveryAttempt.objects.exists()
    assert DomainEvent.objects.exists()


def test_a_failing_handler_never_fails_the_recording_side_and_is_retried(endpoint, monkeypatch):
    def broken(*, event):
        raise RuntimeError("queue down")

    monkeypatch.setattr("notifications.handlers.deliveries_for_event", broken)
    customer = Customer.objects.create(name="Initech")
    with transaction.atomic():
        outbox.record(
            type="contract.archive",
            subject_id="c",
            customer_id=customer.pk,
            occurred_at=datetime.now(UTC),
            payload={"customer_id": str(customer.pk)},
        )
    handling = DomainEventHandling.objects.get(handler="notifications.handlers.deliver")
    assert handling.done_at is None
    assert "queue down" in handling.last_error
    assert handling.next_attempt_at is not None
