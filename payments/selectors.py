"""Reads: the account's Stripe connection (the admin's row, or the environment), the providers
configured, the payments due for hand-off, and invoices' `external_invoice` for the invoice API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet

from catalog.money import to_json_number
from core.api import format_timestamp
from invoicing.models import Invoice

from .models import BillingProviderConnection, InvoicePayment

# The delivery method id of a connection that exists only in the environment (no admin row).
ENVIRONMENT_CONNECTION_ID = uuid.uuid5(uuid.NAMESPACE_URL, "billing:stripe:environment")

# Our payment status as Metronome's `external_invoice.external_status`.
EXTERNAL_STATUS = {
    InvoicePayment.Status.QUEUED: "QUEUED",
    InvoicePayment.Status.SENT: "SENT",
    InvoicePayment.Status.PAID: "PAID",
    InvoicePayment.Status.FAILED: "PAYMENT_FAILED",
    InvoicePayment.Status.VOIDED: "VOID",
    InvoicePayment.Status.UNCOLLECTIBLE: "UNCOLLECTIBLE",
}


@dataclass(frozen=True)
class StripeAccount:
    """The Stripe connection in force: the admin's values, the environment's where those are
    empty."""

    id: uuid.UUID
    secret_key: str
    webhook_secret: str
    default_collection_method: str
    handoff_delay: timedelta
    enabled: bool
    source: str  # "admin" or "environment"


def stripe_account() -> StripeAccount | None:
    """None when Stripe is connected neither in the admin nor in the environment."""
    row = BillingProviderConnection.objects.filter(billing_provider="stripe").first()
    env_key, env_hook = settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET
    if row is None:
        if not env_key:
            return None
        return StripeAccount(
            id=ENVIRONMENT_CONNECTION_ID,
            secret_key=env_key,
            webhook_secret=env_hook,
            default_collection_method="charge_automatically",
            handoff_delay=timedelta(hours=1),
            enabled=True,
            source="environment",
        )
    return StripeAccount(
        id=row.pk,
        secret_key=row.secret_key or env_key,
        webhook_secret=row.webhook_secret or env_hook,
        default_collection_method=row.default_collection_method,
        handoff_delay=timedelta(minutes=row.handoff_delay_minutes),
        enabled=row.enabled,
        source="admin",
    )


def configured_providers() -> list[dict]:
    """`listConfiguredBillingProviders`: the Stripe connection, when it has a secret key.
    Secrets are left out (Metronome: "some configuration may be omitted for security")."""
    account = stripe_account()
    if account is None or not account.secret_key:
        return []
    return [
        {
            "billing_provider": "stripe",
            "delivery_method": "direct_to_billing_provider",
            "delivery_method_id": str(account.id),
            "delivery_method_configuration": {
                "default_collection_method": account.default_collection_method,
                "handoff_delay_minutes": int(account.handoff_delay.total_seconds() // 60),
                "enabled": account.enabled,
            },
        }
    ]


def payments_due(*, now: datetime, limit: int) -> list[InvoicePayment]:
    """Payments to hand off (queued, past their delay) or to void in the provider, whose retry
    time has come and that no worker holds."""
    ready = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    send = Q(status=InvoicePayment.Status.QUEUED, send_after__lte=now, void_requested_at=None)
    void = Q(void_requested_at__isnull=False)
    return list(
        InvoicePayment.objects.filter(ready, free)
        .filter(send | void)
        .order_by("send_after", "pk")[:limit]
    )


def payments_with_errors() -> QuerySet[InvoicePayment]:
    return InvoicePayment.objects.exclude(last_error="")


def _scaled(value: int, invoice: Invoice):
    """An amount in the currency's smallest unit back in the invoice's pricing unit."""
    return to_json_number(Decimal(value).scaleb(-invoice.credit_type.decimal_places))


def external_invoice(payment: InvoicePayment) -> dict:
    """Metronome's `external_invoice` of one invoice."""
    invoice = payment.invoice
    data = {
        "billing_provider_type": payment.billing_provider,
        "external_status": EXTERNAL_STATUS[payment.status],
        "invoice_id": payment.external_id or None,
        "billing_provider_error": payment.last_error or None,
        "external_payment_id": payment.external_payment_id or None,
        "invoiced_total": None
        if payment.invoiced_total is None
        else _scaled(payment.invoiced_total, invoice),
        "issued_at_timestamp": format_timestamp(payment.sent_at),
        "pdf_url": payment.pdf_url or None,
    }
    return {key: value for key, value in data.items() if value is not None}


def external_invoices(invoices: Sequence[Invoice]) -> dict:
    """The invoice API's extension (registered in apps.py): `external_invoice` for each invoice
    that has a payment, in one query."""
    by_id = {invoice.pk: invoice for invoice in invoices}
    payments = InvoicePayment.objects.filter(invoice_id__in=list(by_id))
    answer = {}
    for payment in payments:
        payment.invoice = by_id[payment.invoice_id]
        answer[payment.invoice_id] = {"external_invoice": external_invoice(payment)}
    return answer
