"""A customer's revenue system configurations (Metronome's `customer_revenue_system_configurations`,
set on customer create), and the billing provider and revenue system configuration a contract
uses over time (a v2 edit's `add_billing_provider_configuration_update` /
`add_revenue_system_configuration_update`: from the start of the current or the next billing
period). Nothing here talks to a revenue system: this product has no NetSuite client; the
configuration is stored, shown, and carried in the `invoice.finalized` event of the contract's
invoices for an integration to deliver."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError

from .. import periods
from ..models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    Customer,
    RevenueSystemConfiguration,
)
from .common import clean

Kind = ContractConfigurationChange.Kind
EffectiveAt = ContractConfigurationChange.EffectiveAt
# The edit history's key for each kind (the v2 edit's request field).
EDIT_KEYS = {
    Kind.BILLING_PROVIDER: "add_billing_provider_configuration_update",
    Kind.REVENUE_SYSTEM: "add_revenue_system_configuration_update",
}


def revenue_system_configuration_create(
    *,
    customer: Customer,
    provider: str,
    now: datetime,
    delivery_method: str = BillingProviderConfiguration.DeliveryMethod.DIRECT,
    delivery_method_id: uuid.UUID | None = None,
    configuration: dict | None = None,
    prefix: str = "",
) -> RevenueSystemConfiguration:
    """A new active revenue system configuration of the customer (errors under `prefix`)."""
    config = RevenueSystemConfiguration(
        customer=customer,
        provider=provider,
        delivery_method=delivery_method,
        delivery_method_id=delivery_method_id,
        configuration=configuration if configuration is not None else {},
        created_at=now,
    )
    clean(config, prefix)
    config.save()
    return config


@dataclass(frozen=True)
class ConfigurationChangeSpec:
    """A contract's configuration of one kind replaced from `effective_at`
    (START_OF_CURRENT_PERIOD or START_OF_NEXT_PERIOD); `key` names the request's field."""

    kind: str
    configuration: BillingProviderConfiguration | RevenueSystemConfiguration
    effective_at: str
    key: str


def _effective_at(contract: Contract, spec: ConfigurationChangeSpec, now: datetime) -> datetime:
    """The start of the contract's billing period containing `now` (its first period before it
    starts), or of the one after it."""
    field = f"{spec.key}.schedule.effective_at"
    schedule = periods.schedule_for(contract)
    current = periods.period_containing(schedule, max(now, contract.starting_at))
    if current is None:
        raise ValidationError({field: "The contract has ended: it has no current period."})
    if spec.effective_at == EffectiveAt.START_OF_CURRENT_PERIOD:
        return current.starting_at
    following = periods.next_period(schedule, current)
    if following is None:
        raise ValidationError({field: "The contract ends with its current period."})
    return following.starting_at


def configuration_changes_build(
    *, contract: Contract, specs: Sequence[ConfigurationChangeSpec], now: datetime
) -> list[ContractConfigurationChange]:
    """The changes, checked and dated but not saved (a v2 edit saves them with its edit)."""
    made = []
    for spec in specs:
        is_billing = spec.kind == Kind.BILLING_PROVIDER
        change = ContractConfigurationChange(
            id=uuid.uuid4(),
            contract=contract,
            kind=spec.kind,
            effective_at=_effective_at(contract, spec, now),
            billing_provider_configuration=spec.configuration if is_billing else None,
            revenue_system_configuration=None if is_billing else spec.configuration,
            created_at=now,
        )
        clean(change, spec.key, exclude=["edit"])
        made.append(change)
    return made


def configuration_changes_edit_keys(changes: Sequence[ContractConfigurationChange]) -> dict:
    """What an edit records of its changes: their ids under the request's field."""
    keys: dict[str, list[str]] = {}
    for change in changes:
        keys.setdefault(EDIT_KEYS[change.kind], []).append(str(change.pk))
    return keys
