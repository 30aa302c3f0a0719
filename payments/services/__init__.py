"""Writes of the payments app, one module per concern: `configurations` (customers' billing
provider configurations as the API sets them), `handoff` (queue, send and void invoices in
Stripe), `webhooks` (Stripe's events move the payment status)."""

from .configurations import (  # noqa: F401
    ConfigurationSpec,
    ProviderNotOffered,
    customer_billing_config_put,
    customer_billing_configurations_set,
    provider_check,
    stripe_connection_id,
)
from .handoff import (  # noqa: F401
    invoice_payment_queue,
    invoice_payment_retry_now,
    invoice_payment_send,
    invoice_payment_void_request,
    invoice_payments_queue,
    invoice_payments_send_due,
    payment_gate_payment_queue,
)
from .webhooks import StripeEventRefused, stripe_webhook_receive  # noqa: F401
