"""Customers' billing provider configurations as the API sets them: the provider must be offered
and the account connected to it (its secret key known) before a customer can be sent there.
The rows themselves belong to customers (contracts point at them); this checks, then calls down."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from customers import services as customers_services
from customers.models import BillingProviderConfiguration, Customer

from ..selectors import stripe_account

OFFERED = {"stripe"}
STRIPE = "stripe"


class ProviderNotOffered(ValidationError):
    """A provider Metronome knows that this product does not deliver to (yet)."""


def provider_check(provider: str, *, field: str = "billing_provider") -> None:
    if provider not in OFFERED:
        raise ProviderNotOffered(
            {
                field: f"{provider} is not offered: invoices can be sent to Stripe only "
                "(marketplaces and other providers come later)."
            }
        )


def stripe_connection_id(*, field: str = "billing_provider") -> uuid.UUID:
    """The connection's id (the configurations' delivery_method_id); refuses when Stripe is not
    connected, since nothing could be sent."""
    account = stripe_account()
    if account is None or not account.secret_key:
        raise ValidationError(
            {
                field: "Stripe is not connected: enter its secret key in the admin's Billing "
                "providers page (or set STRIPE_SECRET_KEY) first."
            }
        )
    return account.id


@dataclass(frozen=True)
class ConfigurationSpec:
    """One configuration to add, as `setCustomerBillingProviderConfigurations` gives it."""

    customer: Customer
    billing_provider: str
    billing_provider_customer_id: str
    stripe_collection_method: str = ""
    delivery_method: str = BillingProviderConfiguration.DeliveryMethod.DIRECT
    delivery_method_id: uuid.UUID | None = None
    configuration: dict | None = None
    tax_provider: str = ""


def customer_billing_configurations_set(
    *, specs: Sequence[ConfigurationSpec], now: datetime
) -> list[BillingProviderConfiguration]:
    """Add every configuration or none. Errors are keyed `data[i].field`."""
    made = []
    with transaction.atomic():
        for index, spec in enumerate(specs):
            where = f"data[{index}]"
            provider_check(spec.billing_provider, field=f"{where}.billing_provider")
            connection = stripe_connection_id(field=f"{where}.billing_provider")
            if spec.delivery_method != BillingProviderConfiguration.DeliveryMethod.DIRECT:
                raise ValidationError(
                    {f"{where}.delivery_method": "Stripe is delivered direct_to_billing_provider."}
                )
            if spec.delivery_method_id not in (None, connection):
                raise ValidationError(
                    {
                        f"{where}.delivery_method_id": f"{spec.delivery_method_id} is not a "
                        "configured delivery method (listConfiguredBillingProviders)."
                    }
                )
            try:
                made.append(
                    customers_services.billing_configuration_create(
                        customer=spec.customer,
                        billing_provider=spec.billing_provider,
                        billing_provider_customer_id=spec.billing_provider_customer_id,
                        stripe_collection_method=spec.stripe_collection_method,
                        delivery_method=spec.delivery_method,
                        delivery_method_id=connection,
                        configuration=spec.configuration,
                        tax_provider=spec.tax_provider,
                        now=now,
                    )
                )
            except ValidationError as exc:
                raise customers_services.prefixed(exc, where) from None
    return made


def customer_billing_config_put(
    *,
    customer: Customer,
    billing_provider: str,
    billing_provider_customer_id: str,
    stripe_collection_method: str,
    now: datetime,
) -> BillingProviderConfiguration:
    """`POST /v1/customers/{id}/billing-config/{provider}`: the customer's one configuration of
    that provider, replacing the active ones."""
    provider_check(billing_provider, field="billing_provider_type")
    connection = stripe_connection_id(field="billing_provider_type")
    with transaction.atomic():
        return customers_services.billing_configuration_replace(
            customer=customer,
            billing_provider=billing_provider,
            billing_provider_customer_id=billing_provider_customer_id,
            stripe_collection_method=stripe_collection_method,
            delivery_method_id=connection,
            now=now,
        )
