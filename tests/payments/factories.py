"""Factories for payments tests (and the admin smoke tests)."""

from datetime import UTC, datetime

import factory

from payments.models import BillingProviderConnection, InvoicePayment, ProviderEvent
from tests.invoicing.factories import InvoiceFactory


class BillingProviderConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingProviderConnection
        django_get_or_create = ["billing_provider"]

    billing_provider = "stripe"
    secret_key = "sk_test_factory0000wxyz"
    webhook_secret = "whsec_factory"


class InvoicePaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoicePayment

    invoice = factory.SubFactory(
        InvoiceFactory,
        status="FINALIZED",
        number=factory.Sequence(lambda n: 9000 + n),
        issued_at=datetime(2026, 4, 2, tzinfo=UTC),
    )
    provider_customer_id = "cus_Factory"
    collection_method = "charge_automatically"
    status_changed_at = datetime(2026, 4, 2, tzinfo=UTC)
    send_after = datetime(2026, 4, 2, 1, tzinfo=UTC)


class ProviderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderEvent

    id = factory.Sequence(lambda n: f"evt_factory{n}")
    type = "invoice.paid"
    occurred_at = datetime(2026, 4, 3, tzinfo=UTC)
    received_at = datetime(2026, 4, 3, tzinfo=UTC)
    outcome = "ignored"
