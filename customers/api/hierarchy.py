"""Account hierarchies on the wire: a contract's `hierarchy_configuration` (a child's parent,
payer and usage statement behavior; a parent's `parent_behavior`) and a commit's or credit's
`hierarchy_configuration.child_access`, in the SDK's shapes."""

from __future__ import annotations

from rest_framework import serializers

from core.api import EnumField, UUIDStringField
from customers import services
from customers.hierarchy import ACCESS_TYPES, child_access_errors, child_access_json
from customers.models import Contract


class ParentIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()


class ParentBehaviorIn(serializers.Serializer):
    invoice_consolidation_type = EnumField(["CONCATENATE", "NONE"], required=False)


class HierarchyConfigurationIn(serializers.Serializer):
    """A contract's hierarchy_configuration: a child's (parent, payer, usage statement
    behavior) and/or a parent's parent_behavior."""

    parent = ParentIn(required=False)
    parent_behavior = ParentBehaviorIn(required=False)
    payer = EnumField(["SELF", "PARENT"], required=False)
    usage_statement_behavior = EnumField(["CONSOLIDATE", "SEPARATE"], required=False)

    def validate(self, attrs):
        for key in ("payer", "usage_statement_behavior"):
            if key in attrs and "parent" not in attrs:
                raise serializers.ValidationError({key: "Only a child contract (with a parent)."})
        return attrs


class ChildAccessIn(serializers.Serializer):
    type = EnumField(list(ACCESS_TYPES))
    contract_ids = serializers.ListField(child=UUIDStringField(), required=False)

    def validate(self, attrs):
        problem = child_access_errors(dict(attrs))
        if problem:
            raise serializers.ValidationError(problem)
        return attrs


class CommitHierarchyIn(serializers.Serializer):
    child_access = ChildAccessIn()


def child_access(term: dict) -> dict | None:
    """A validated commit's or credit's `hierarchy_configuration` as the model stores it."""
    config = term.get("hierarchy_configuration")
    return None if config is None else dict(config["child_access"])


def hierarchy_spec(data: dict) -> services.HierarchySpec | None:
    """A validated contract create's hierarchy_configuration as the service takes it."""
    config = data.get("hierarchy_configuration")
    if config is None:
        return None
    parent = config.get("parent") or {}
    return services.HierarchySpec(
        parent_contract_id=parent.get("contract_id"),
        parent_customer_id=parent.get("customer_id"),
        payer=config.get("payer", ""),
        usage_statement_behavior=config.get("usage_statement_behavior", ""),
        invoice_consolidation_type=(config.get("parent_behavior") or {}).get(
            "invoice_consolidation_type", ""
        ),
    )


def contract_hierarchy_json(contract: Contract) -> dict | None:
    """The contract's `hierarchy_configuration`: a child's {parent, payer,
    usage_statement_behavior}; a parent's {children, parent_behavior}; None for neither."""
    if contract.parent_contract_id is not None:
        parent = contract.parent_contract
        data = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
        if contract.hierarchy_payer:
            data["payer"] = contract.hierarchy_payer
        if contract.hierarchy_usage_statement_behavior:
            data["usage_statement_behavior"] = contract.hierarchy_usage_statement_behavior
        return data
    children = [
        {"contract_id": str(pk), "customer_id": str(customer_id)}
        for pk, customer_id in contract.child_contracts.order_by("starting_at", "id").values_list(
            "pk", "customer_id"
        )
    ]
    if not children and not contract.invoice_consolidation_type:
        return None
    data = {"children": children}
    if contract.invoice_consolidation_type:
        data["parent_behavior"] = {
            "invoice_consolidation_type": contract.invoice_consolidation_type
        }
    return data


def balance_hierarchy_json(term) -> dict | None:
    """A commit's or credit's (or recurring one's) `hierarchy_configuration`, when set."""
    return child_access_json(term.child_access)
