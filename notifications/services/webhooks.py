"""Webhook endpoints and deliveries: make them, send them (at least once), retry, prune.

Sending happens in django-q2 workers, never in a request: an outbox handler queues one delivery
per endpoint that wants the event, and after its commit enqueues `tasks.send_deliveries`; the
`notifications.send_due_deliveries` schedule sends retries that fell due and deliveries whose
sender died (its lock expired). A delivery is taken by a conditional UPDATE of `locked_until`,
so two workers never send it at once; a 2xx answer within 15 s is success, anything else
(no answer, a timeout, a TLS error, 3xx/4xx/5xx) is retried with exponential backoff and jitter
until 72 hours after it was made, then it is FAILED. An endpoint that has failed without a
single success for five days is disabled, with the reason.
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import ssl
import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.models import DomainEvent

from .. import payloads
from ..models import DeliveryAttempt, SystemNotification, WebhookDelivery, WebhookEndpoint
from ..signing import secret_generate, signed_headers

logger = logging.getLogger(__name__)

TIMEOUT = 15  # seconds: a 2xx later than this is not a success
LEASE = timedelta(seconds=60)  # how long a sender holds a delivery before another may take it
RETRY_FOR = timedelta(hours=72)  # Metronome's promise
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
DISABLE_AFTER = timedelta(days=5)
ROTATION_OVERLAP = timedelta(hours=24)
RETENTION = timedelta(days=30)
EXCERPT = 1024


# --- Endpoints ----------------------------------------------------------------------------------


def webhook_endpoint_create(
    *, url: str, description: str = "", event_types=(), enabled: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once; only a hint is shown later)."""
    endpoint = WebhookEndpoint(
        url=url.strip(),
        description=description,
        event_types=sorted(set(event_types)),
        enabled=enabled,
        secret=secret_generate(),
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint, endpoint.secret


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, now: datetime) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours, so receivers can switch."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + ROTATION_OVERLAP
        locked.secret = secret_generate()
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    endpoint.refresh_from_db()
    return endpoint.secret


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Enable again (after a fix): clears the reason and the failure streak."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason="", failing_since=None
    )


def secrets_in_force(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        secrets.append(endpoint.previous_secret)
    return secrets


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint, now: datetime) -> WebhookDelivery:
    """A `webhooks.test` notification to this endpoint only, sent by a worker like any other."""
    message_id = str(uuid.uuid4())
    body = {
        "id": message_id,
        "type": payloads.TEST_TYPE,
        "properties": {
            "message": "A test notification: your endpoint receives and verifies webhooks.",
            "timestamp": now.isoformat().replace("+00:00", "Z"),
        },
    }
    with transaction.atomic():
        delivery = _delivery(endpoint, message_id, payloads.TEST_TYPE, None, body, now)
        delivery.save()
        _send_after_commit([delivery.pk])
    return delivery


# --- Deliveries ---------------------------------------------------------------------------------


def _delivery(endpoint, message_id, event_type, customer_id, body, now) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint=endpoint,
        message_id=message_id,
        event_type=event_type,
        customer_id=customer_id,
        body=payloads.encode(body),
        next_attempt_at=now,
        give_up_at=now + RETRY_FOR,
        created_at=now,
    )


def system_type_enabled(event_type: str) -> bool:
    row = SystemNotification.objects.filter(type=event_type).first()
    return row is None or row.is_enabled


def deliveries_for_event(*, event: DomainEvent) -> list:
    """One delivery per enabled endpoint that wants the event (none for internal events or a
    system type switched off); idempotent (a second run queues nothing twice). Their sending is
    enqueued for after the caller's commit."""
    if event.type in payloads.INTERNAL_TYPES:
        return []
    endpoints = [e for e in WebhookEndpoint.objects.filter(enabled=True) if e.wants(event.type)]
    switched_off = (
        payloads.is_system(event.type)
        and "offset_id" not in (event.payload or {})
        and not system_type_enabled(event.type)
    )
    if not endpoints or switched_off:
        return []
    body = payloads.notification(event)
    # The delivery's clock is the wall clock: its 72 hours start when it is queued (a handling
    # retried later still gets them all), whatever moment the event describes.
    now = timezone.now()
    rows = [
        _delivery(e, str(event.uuid), event.type, event.customer_id, body, now) for e in endpoints
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(
            message_id=str(event.uuid), status=WebhookDelivery.Status.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )
    _send_after_commit(ids)
    return ids


def _send_after_commit(ids) -> None:
    if ids:
        from django_q.tasks import async_task

        ids = [str(pk) for pk in ids]
        transaction.on_commit(partial(async_task, "notifications.tasks.send_deliveries", ids))


def delivery_resend(*, delivery: WebhookDelivery, now: datetime) -> None:
    """Send again now (same body, same webhook-id), with a fresh 72 hours of retries."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        locked_until=None,
        give_up_at=now + RETRY_FOR,
        delivered_at=None,
    )
    _send_after_commit([delivery.pk])


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... at most an hour, each +/- 20% (jitter spreads a recovering
    receiver's load)."""
    # The exponent is capped first: 10 s * 2**42 would overflow a timedelta.
    base = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), LONGEST_RETRY)
    return base * random.uniform(0.8, 1.2)


def _claim(pk, now: datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=pk, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=now + LEASE)
    )


def delivery_send(*, delivery_id, now: datetime | None = None) -> bool | None:
    """Try one delivery if it is due and nobody holds it: True on success, False on a failed
    attempt, None when it was not this sender's to try. Never raises for the receiver's faults."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        # Kept (not sent) while the endpoint is off; re-enabled in time, it goes out then.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            locked_until=None, next_attempt_at=now + LONGEST_RETRY
        )
        return None
    headers = signed_headers(
        secrets_in_force=secrets_in_force(endpoint, now),
        message_id=delivery.message_id,
        timestamp=now,
        body=delivery.body,
    )
    started = time.monotonic()
    status, excerpt, error = post(endpoint.url, delivery.body, headers)
    elapsed = time.monotonic() - started
    if status is not None and elapsed > TIMEOUT:
        error = f"Answered after {elapsed:.1f} s (more than {TIMEOUT} s)."
    succeeded = status is not None and 200 <= status < 300 and not error
    if status is not None and not succeeded and not error:
        error = f"HTTP {status}"
    _record(delivery, endpoint, now, status, excerpt, error, succeeded, int(elapsed * 1000))
    return succeeded


def _record(delivery, endpoint, now, status, excerpt, error, succeeded, latency_ms) -> None:
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status,
            latency_ms=latency_ms,
            succeeded=succeeded,
            response=excerpt,
            error=error[:500],
        )
        attempts = delivery.attempts + 1
        rows = WebhookDelivery.objects.filter(pk=delivery.pk)
        if succeeded:
            rows.update(
                status=WebhookDelivery.Status.SUCCEEDED,
                attempts=F("attempts") + 1,
                delivered_at=now,
                locked_until=None,
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
                failing_since=None
            )
            return
        next_at = now + retry_delay(attempts)
        if next_at > delivery.give_up_at:
            rows.update(
                status=WebhookDelivery.Status.FAILED, attempts=F("attempts") + 1, locked_until=None
            )
            logger.warning("webhook delivery %s failed for good: %s", delivery.pk, error)
        else:
            rows.update(attempts=F("attempts") + 1, next_attempt_at=next_at, locked_until=None)
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        WebhookEndpoint.objects.filter(
            pk=endpoint.pk, enabled=True, failing_since__lte=now - DISABLE_AFTER
        ).update(
            enabled=False,
            disabled_reason=(
                f"Disabled on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for five days "
                f"(last: {error[:200]})."
            ),
        )


def post(url: str, body: str, headers: dict) -> tuple[int | None, str, str]:
    """POST `body` to `url`, redirects not followed: (status or None, first 1 KB of the answer,
    error text or "")."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        connection.request("POST", path, body.encode(), {**headers, "user-agent": "billing"})
        response = connection.getresponse()
        excerpt = response.read(EXCERPT).decode("utf-8", errors="replace")
        return response.status, excerpt, ""
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        kind = "Timed out" if isinstance(exc, socket.timeout | TimeoutError) else "No answer"
        return None, "", f"{kind}: {type(exc).__name__}: {exc}"[:500]
    finally:
        connection.close()


def deliveries_send(*, ids, now: datetime | None = None) -> int:
    """Send these deliveries (the task queued after their commit). Returns how many succeeded."""
    sent = 0
    for pk in ids:
        try:
            sent += bool(delivery_send(delivery_id=pk, now=now))
        except Exception:
            logger.exception("webhook delivery %s: sending failed; the schedule retries it", pk)
    return sent


def deliveries_send_due(*, now: datetime, batch: int = 500, budget: float = 50.0) -> int:
    """The schedule: send deliveries whose retry is due or whose sender died (lock expired),
    oldest first, batch after batch for at most `budget` seconds of wall time (then the task
    enqueues itself again, so other tasks get the worker in between). Returns how many
    succeeded."""
    started = time.monotonic()
    sent = 0
    while True:
        elapsed = time.monotonic() - started
        moment = now + timedelta(seconds=elapsed)
        due = list(
            WebhookDelivery.objects.filter(
                status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=moment
            )
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=moment))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not due:
            return sent
        for pk in due:
            elapsed = time.monotonic() - started
            if elapsed > budget:
                from django_q.tasks import async_task

                async_task("notifications.tasks.send_due_deliveries")
                return sent
            try:
                sent += bool(delivery_send(delivery_id=pk, now=now + timedelta(seconds=elapsed)))
            except Exception:
                logger.exception("webhook delivery %s: sending failed; the schedule retries it", pk)


def deliveries_prune(*, now: datetime) -> int:
    """Forget deliveries (and their attempts) made more than 30 days ago that are not pending."""
    old = WebhookDelivery.objects.filter(created_at__lt=now - RETENTION).exclude(
        status=WebhookDelivery.Status.PENDING
    )
    _, deleted = old.delete()
    return deleted.get(WebhookDelivery._meta.label, 0)
