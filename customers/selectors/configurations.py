"""Which billing provider and revenue system configuration a contract uses at a moment: the one
it was made with until its first change (`ContractConfigurationChange`), then the latest change
in effect (an invoice's is the one in effect at the start of its period)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from ..models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    Customer,
    RevenueSystemConfiguration,
)

Kind = ContractConfigurationChange.Kind
_BASE = {
    Kind.BILLING_PROVIDER: "billing_provider_configuration",
    Kind.REVENUE_SYSTEM: "revenue_system_configuration",
}


@dataclass(frozen=True)
class ScheduleEntry:
    effective_at: datetime
    effective_until: datetime | None
    configuration: BillingProviderConfiguration | RevenueSystemConfiguration | None


def _changes(contract: Contract, kind: str) -> list[ContractConfigurationChange]:
    """The contract's changes of `kind`, in effect order (from a prefetch when there is one)."""
    rows = [c for c in contract.configuration_changes.all() if c.kind == kind]
    return sorted(rows, key=lambda c: (c.effective_at, c.created_at))


def contract_configuration_at(*, contract: Contract, kind: str, at: datetime):
    """The configuration of `kind` the contract uses at `at` (None: none)."""
    in_effect = [c for c in _changes(contract, kind) if c.effective_at <= at]
    if in_effect:
        return in_effect[-1].configuration
    return getattr(contract, _BASE[kind])


def contract_configuration_schedule(*, contract: Contract, kind: str) -> list[ScheduleEntry]:
    """Metronome's `*_configuration_schedule`: the configuration from the contract's start, then
    each change until the next (a later change from the same moment replaces an earlier one).
    Empty when the contract never had one."""
    base = getattr(contract, _BASE[kind])
    moments: dict[datetime, object] = {}
    if base is not None:
        moments[contract.starting_at] = base
    for change in _changes(contract, kind):
        moments[max(change.effective_at, contract.starting_at)] = change.configuration
    if not moments:
        return []
    if contract.starting_at not in moments:
        moments[contract.starting_at] = None
    starts = sorted(moments)
    return [
        ScheduleEntry(
            effective_at=start,
            effective_until=starts[index + 1] if index + 1 < len(starts) else None,
            configuration=moments[start],
        )
        for index, start in enumerate(starts)
    ]


def contracts_revenue_systems_at(
    *, moments: Iterable[tuple[object, datetime]]
) -> dict[tuple[object, datetime], RevenueSystemConfiguration | None]:
    """For many (contract id, moment) pairs at once (a batch of finalized invoices): the revenue
    system configuration each contract uses then. Two queries whatever the batch's size."""
    pairs = list(moments)
    ids = {contract_id for contract_id, _ in pairs}
    contracts = {
        c.pk: c
        for c in Contract.objects.filter(pk__in=ids)
        .select_related("revenue_system_configuration")
        .only("id", "starting_at", "revenue_system_configuration")
    }
    changes: dict[object, list[ContractConfigurationChange]] = {}
    for change in (
        ContractConfigurationChange.objects.filter(contract_id__in=ids, kind=Kind.REVENUE_SYSTEM)
        .select_related("revenue_system_configuration")
        .order_by("effective_at", "created_at")
    ):
        changes.setdefault(change.contract_id, []).append(change)
    found = {}
    for contract_id, at in pairs:
        contract = contracts.get(contract_id)
        in_effect = [c for c in changes.get(contract_id, ()) if c.effective_at <= at]
        found[(contract_id, at)] = (
            in_effect[-1].revenue_system_configuration
            if in_effect
            else (contract.revenue_system_configuration if contract else None)
        )
    return found


def customer_revenue_system_configurations(
    *, customer: Customer, include_archived: bool = False
) -> QuerySet[RevenueSystemConfiguration]:
    configs = customer.revenue_system_configurations.all()
    return configs if include_archived else configs.filter(archived_at__isnull=True)
