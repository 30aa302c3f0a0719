"""Factories for the notifications models the admin shows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from notifications.models import Alert, DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from notifications.signing import secret_generate
from tests.catalog.factories import usd_cents

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = factory.Sequence(lambda n: f"https://hooks.example.com/{n}")
    description = "Billing events"
    secret = factory.LazyFunction(secret_generate)


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    message_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    event_type = "invoice.finalized"
    body = factory.LazyAttribute(
        lambda o: f'{{"id":"{o.message_id}","type":"invoice.finalized","properties":{{}}}}'
    )
    next_attempt_at = NOW
    give_up_at = NOW + timedelta(hours=72)
    created_at = NOW


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    attempted_at = NOW
    status_code = 503
    latency_ms = 42
    response = "upstream down"
    error = "HTTP 503"


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    name = factory.Sequence(lambda n: f"Alert {n}")
    type = Alert.Type.SPEND
    threshold = Decimal("10000")
    credit_type = factory.LazyFunction(usd_cents)
