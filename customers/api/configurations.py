"""Revenue system configurations and contract configuration updates over the API:
`customer_revenue_system_configurations` on customer create, `revenue_system_configuration` on
contract create, a v2 edit's `add_billing_provider_configuration_update` and
`add_revenue_system_configuration_update`, and their answers (the customer's configurations,
the contract's `revenue_system_configuration_schedule` and
`billing_provider_configuration_schedule`).

This product has no revenue system client (no NetSuite, no Salesforce): a revenue system
configuration is stored, returned, and carried in the `invoice.finalized` event (and webhook) of
the contract's invoices (`revenue_system_configuration`), so an integration can deliver it.
Nothing is sent to the revenue system."""

from __future__ import annotations

from rest_framework import exceptions, serializers

from core.api import (
    LowercaseEnumField,
    UUIDStringField,
)
from core.api import format_timestamp as ts
from customers import selectors, services
from customers.models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    Customer,
    RevenueSystemConfiguration,
)
from customers.services.configurations import EDIT_KEYS

REVENUE_PROVIDERS = list(RevenueSystemConfiguration.Provider.values)
DELIVERY_METHODS = list(BillingProviderConfiguration.DeliveryMethod.values)
BILLING_PROVIDERS = list(BillingProviderConfiguration.Provider.values)
EFFECTIVE_AT = list(ContractConfigurationChange.EffectiveAt.values)
DIRECT = BillingProviderConfiguration.DeliveryMethod.DIRECT
Kind = ContractConfigurationChange.Kind


class CustomerRevenueSystemConfigurationIn(serializers.Serializer):
    """One of `customer_revenue_system_configurations` on customer create."""

    provider = LowercaseEnumField(REVENUE_PROVIDERS)
    configuration = serializers.DictField(required=False)
    delivery_method = LowercaseEnumField(DELIVERY_METHODS, required=False)
    delivery_method_id = UUIDStringField(required=False)

    def validate(self, attrs):
        if ("delivery_method" in attrs) == ("delivery_method_id" in attrs):
            raise serializers.ValidationError(
                {"delivery_method": "Give delivery_method or delivery_method_id (one of them)."}
            )
        return attrs


class RevenueSystemConfigurationIn(serializers.Serializer):
    """A contract's revenue system: a configuration id, or a provider and delivery method that
    name exactly one of the customer's active configurations."""

    provider = LowercaseEnumField(REVENUE_PROVIDERS, required=False)
    delivery_method = LowercaseEnumField(DELIVERY_METHODS, required=False)
    revenue_system_configuration_id = UUIDStringField(required=False, allow_null=True)

    def validate(self, attrs):
        by_id = attrs.get("revenue_system_configuration_id") is not None
        by_provider = "provider" in attrs or "delivery_method" in attrs
        if by_id == by_provider:
            raise serializers.ValidationError(
                "Give revenue_system_configuration_id, or provider and delivery_method."
            )
        return attrs


class ConfigurationScheduleIn(serializers.Serializer):
    effective_at = serializers.ChoiceField(EFFECTIVE_AT)


class BillingProviderUpdateConfigurationIn(serializers.Serializer):
    billing_provider = LowercaseEnumField(BILLING_PROVIDERS, required=False)
    billing_provider_configuration_id = UUIDStringField(required=False, allow_null=True)
    delivery_method = LowercaseEnumField(DELIVERY_METHODS, required=False)

    def validate(self, attrs):
        by_id = attrs.get("billing_provider_configuration_id") is not None
        by_provider = "billing_provider" in attrs
        if by_id == by_provider:
            raise serializers.ValidationError(
                "Give billing_provider_configuration_id, or billing_provider and delivery_method."
            )
        return attrs


class BillingProviderConfigurationUpdateIn(serializers.Serializer):
    billing_provider_configuration = BillingProviderUpdateConfigurationIn()
    schedule = ConfigurationScheduleIn()


class RevenueSystemConfigurationUpdateIn(serializers.Serializer):
    revenue_system_configuration = RevenueSystemConfigurationIn()
    schedule = ConfigurationScheduleIn()


# --- Requests into services ---------------------------------------------------------------------


def customer_configurations_create(customer: Customer, items: list[dict], now) -> None:
    """Customer create's `customer_revenue_system_configurations`."""
    for index, item in enumerate(items):
        services.revenue_system_configuration_create(
            customer=customer,
            provider=item["provider"],
            delivery_method=item.get("delivery_method") or DIRECT,
            delivery_method_id=item.get("delivery_method_id"),
            configuration=item.get("configuration"),
            now=now,
            prefix=f"customer_revenue_system_configurations[{index}]",
        )


def _one(queryset, field: str, what: str, *, customer: Customer, id_name: str, hint: str):
    """The one configuration `queryset` finds (`what`: "netsuite revenue system configuration
    delivered by ..."), else a 400 naming `field`."""
    matches = list(queryset[:2])
    if not matches:
        raise exceptions.ValidationError(
            {field: f"Customer {customer.pk} has no active {what}{hint}."}
        )
    if len(matches) > 1:
        raise exceptions.ValidationError(
            {field: f"Customer {customer.pk} has several active ones ({what}): give {id_name}."}
        )
    return matches[0]


def revenue_system_configuration(
    given: dict | None, customer: Customer, field: str
) -> RevenueSystemConfiguration | None:
    """The customer's active revenue system configuration `given` names (by id, or by provider
    and delivery method when exactly one matches); a 400 naming `field` otherwise."""
    if not given:
        return None
    configs = selectors.customer_revenue_system_configurations(customer=customer)
    pk = given.get("revenue_system_configuration_id")
    if pk is not None:
        config = configs.filter(pk=pk).first()
        if config is None:
            raise exceptions.ValidationError(
                {
                    f"{field}.revenue_system_configuration_id": f"{pk} is not an active revenue "
                    f"system configuration of customer {customer.pk}."
                }
            )
        return config
    provider = given.get("provider") or RevenueSystemConfiguration.Provider.NETSUITE
    method = given.get("delivery_method") or DIRECT
    return _one(
        configs.filter(provider=provider, delivery_method=method),
        field,
        f"{provider} revenue system configuration delivered by {method}",
        customer=customer,
        id_name="revenue_system_configuration_id",
        hint=" (add one with customer_revenue_system_configurations on customer create)",
    )


def _billing_provider_configuration(
    given: dict, customer: Customer, field: str
) -> BillingProviderConfiguration:
    configs = selectors.customer_billing_configurations(customer=customer)
    pk = given.get("billing_provider_configuration_id")
    if pk is not None:
        config = configs.filter(pk=pk).first()
        if config is None:
            raise exceptions.ValidationError(
                {
                    f"{field}.billing_provider_configuration_id": f"{pk} is not an active "
                    f"billing provider configuration of customer {customer.pk}."
                }
            )
        return config
    provider = given["billing_provider"]
    method = given.get("delivery_method") or DIRECT
    return _one(
        configs.filter(billing_provider=provider, delivery_method=method),
        field,
        f"{provider} billing provider configuration delivered by {method}",
        customer=customer,
        id_name="billing_provider_configuration_id",
        hint=" (set one with setCustomerBillingProviderConfigurations)",
    )


def configuration_changes(contract: Contract, data: dict) -> list[services.ConfigurationChangeSpec]:
    """A v2 edit's configuration updates as the service's specs."""
    updates = (
        (
            "add_billing_provider_configuration_update",
            "billing_provider_configuration",
            _billing_provider_configuration,
            Kind.BILLING_PROVIDER,
        ),
        (
            "add_revenue_system_configuration_update",
            "revenue_system_configuration",
            revenue_system_configuration,
            Kind.REVENUE_SYSTEM,
        ),
    )
    specs = []
    for key, field, resolve, kind in updates:
        if key not in data:
            continue
        update = data[key]
        specs.append(
            services.ConfigurationChangeSpec(
                kind=kind,
                configuration=resolve(update[field], contract.customer, f"{key}.{field}"),
                effective_at=update["schedule"]["effective_at"],
                key=key,
            )
        )
    return specs


# --- Answers --------------------------------------------------------------------------------------


def revenue_system_configuration_json(config: RevenueSystemConfiguration) -> dict:
    """The SDK's revenue system configuration (ContractV2's schedule entries)."""
    return {
        "id": str(config.pk),
        "archived_at": ts(config.archived_at),
        "configuration": dict(config.configuration or {}),
        "customer_id": str(config.customer_id),
        "delivery_method": config.delivery_method,
        "delivery_method_configuration": {},
        "delivery_method_id": str(config.delivery_method_id or ""),
        "provider": config.provider,
    }


def _present(kind: str):
    """(the answer's field, its presenter) for a kind of configuration."""
    # presenters imports the request serializers, which import this module.
    from .presenters import billing_configuration_json

    if kind == Kind.BILLING_PROVIDER:
        return "billing_provider_configuration", billing_configuration_json
    return "revenue_system_configuration", revenue_system_configuration_json


def configuration_schedule_json(contract: Contract, kind: str) -> list[dict] | None:
    """`billing_provider_configuration_schedule` / `revenue_system_configuration_schedule`."""
    entries = selectors.contract_configuration_schedule(contract=contract, kind=kind)
    if not entries:
        return None
    name, present = _present(kind)
    return [
        {
            "effective_at": ts(entry.effective_at),
            "effective_until": ts(entry.effective_until),
            name: present(entry.configuration) if entry.configuration is not None else None,
        }
        for entry in entries
    ]


def contract_configurations_json(contract: Contract) -> dict:
    """What contract get and list add: both schedules (left out when empty)."""
    schedules = {
        "billing_provider_configuration_schedule": configuration_schedule_json(
            contract, Kind.BILLING_PROVIDER
        ),
        "revenue_system_configuration_schedule": configuration_schedule_json(
            contract, Kind.REVENUE_SYSTEM
        ),
    }
    return {key: value for key, value in schedules.items() if value is not None}


def customer_revenue_systems_json(customer: Customer) -> list[dict]:
    """The customer's active revenue system configurations (customer get; beyond the SDK's
    customer shape)."""
    return [
        revenue_system_configuration_json(config)
        for config in selectors.customer_revenue_system_configurations(customer=customer)
    ]


def edit_configurations_json(changes: dict) -> dict:
    """What a v2 edit changed of the configurations (its `changes`), for the edit and its history
    (beyond the SDK's edit shape): the configuration and the moment it takes effect."""
    ids = [pk for key in EDIT_KEYS.values() for pk in changes.get(key, ())]
    if not ids:
        return {}
    found = {}
    for change in ContractConfigurationChange.objects.filter(pk__in=ids).select_related(
        "billing_provider_configuration", "revenue_system_configuration"
    ):
        name, present = _present(change.kind)
        found[EDIT_KEYS[change.kind]] = {
            name: present(change.configuration),
            "schedule": {"effective_at": ts(change.effective_at)},
        }
    return found
