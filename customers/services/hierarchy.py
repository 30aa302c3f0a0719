"""Account hierarchies: linking a child contract to its parent when it is created."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from ..models import Contract

PARENT = "hierarchy_configuration.parent"


@dataclass(frozen=True)
class HierarchySpec:
    """A contract create's hierarchy_configuration: a child's parent (contract and customer
    ids), payer and usage statement behavior, and/or a parent's invoice consolidation type."""

    parent_contract_id: str | None = None
    parent_customer_id: str | None = None
    payer: str = ""
    usage_statement_behavior: str = ""
    invoice_consolidation_type: str = ""


def contract_hierarchy_apply(contract: Contract, spec: HierarchySpec) -> None:
    """Set the hierarchy fields of an unsaved contract. The parent must exist and belong to the
    named customer (`contract.clean()` then checks currency, dates and cycles)."""
    contract.invoice_consolidation_type = spec.invoice_consolidation_type
    if spec.parent_contract_id is None:
        return
    parent = (
        Contract.objects.select_related("rate_card__fiat_credit_type")
        .filter(pk=spec.parent_contract_id)
        .first()
    )
    if parent is None:
        raise ValidationError({f"{PARENT}.contract_id": "No such contract."})
    if str(parent.customer_id) != str(spec.parent_customer_id):
        raise ValidationError(
            {f"{PARENT}.customer_id": "The parent contract belongs to another customer."}
        )
    contract.parent_contract = parent
    contract.hierarchy_depth = parent.hierarchy_depth + 1
    contract.hierarchy_payer = spec.payer
    contract.hierarchy_usage_statement_behavior = spec.usage_statement_behavior
