"""A customer's billing provider configurations: add, replace (the one-per-provider
`billing-config` calls), archive. What the account's connection to the provider is, and whether
it exists, is the payments app's concern: it checks before calling these."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError

from customers.models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    Customer,
)

from .common import clean


def billing_configuration_create(
    *,
    customer: Customer,
    billing_provider: str,
    billing_provider_customer_id: str,
    now: datetime,
    stripe_collection_method: str = "",
    delivery_method: str = BillingProviderConfiguration.DeliveryMethod.DIRECT,
    delivery_method_id: uuid.UUID | None = None,
    configuration: dict | None = None,
    tax_provider: str = "",
) -> BillingProviderConfiguration:
    """A new active configuration of the customer (several may exist per provider)."""
    if customer.archived_at is not None:
        raise ValidationError({"customer": "This customer is archived."})
    config = BillingProviderConfiguration(
        customer=customer,
        billing_provider=billing_provider,
        billing_provider_customer_id=(billing_provider_customer_id or "").strip(),
        stripe_collection_method=stripe_collection_method or "",
        delivery_method=delivery_method,
        delivery_method_id=delivery_method_id,
        configuration=configuration or {},
        tax_provider=tax_provider or "",
    )
    clean(config)
    config.save()
    return config


def billing_configuration_replace(
    *, customer: Customer, billing_provider: str, now: datetime, **fields
) -> BillingProviderConfiguration:
    """The customer's one configuration of this provider (the `billing-config/{provider}` call):
    the active ones are archived, and the contracts that used them use the new one."""
    config = billing_configuration_create(
        customer=customer, billing_provider=billing_provider, now=now, **fields
    )
    previous = customer.billing_provider_configurations.filter(
        billing_provider=billing_provider, archived_at__isnull=True
    ).exclude(pk=config.pk)
    Contract.objects.filter(billing_provider_configuration__in=previous).update(
        billing_provider_configuration=config
    )
    ContractConfigurationChange.objects.filter(billing_provider_configuration__in=previous).update(
        billing_provider_configuration=config
    )
    previous.update(archived_at=now)
    return config


def billing_configurations_archive(
    *, customer: Customer, ids: Sequence[uuid.UUID], now: datetime
) -> list[BillingProviderConfiguration]:
    """Archive these configurations of the customer, all or none: an id that is not one of its
    configurations refuses the whole call. Contracts using them send nothing more."""
    configs = list(customer.billing_provider_configurations.filter(pk__in=ids))
    unknown = sorted(set(map(str, ids)) - {str(c.pk) for c in configs})
    if unknown:
        raise ValidationError(
            {
                "customer_billing_provider_configuration_ids": (
                    f"{unknown[0]} is not a billing provider configuration of this customer."
                )
            }
        )
    for config in configs:
        if config.archived_at is None:
            config.archived_at = now
            config.save(update_fields=["archived_at"])
    return configs


def billing_configurations_archive_provider(
    *, customer: Customer, billing_provider: str, now: datetime
) -> int:
    """Archive the customer's active configurations of one provider (`DELETE billing-config`)."""
    return customer.billing_provider_configurations.filter(
        billing_provider=billing_provider, archived_at__isnull=True
    ).update(archived_at=now)
