"""v1 amendments (terms added to a contract from a date) and usage filters (which usage belongs
to the contract, over time). Both are `ContractEdit`s in the contract's history and record
`contract.edit`, so invoicing's drafts follow at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Contract, ContractEdit, ContractUsageFilter
from .common import clean
from .contracts import contract_open
from .events import balance_event, contract_event
from .royalties import reseller_royalties_add
from .terms import (
    CommitSpec,
    CreditSpec,
    OverrideSpec,
    ScheduledChargeSpec,
    add_terms,
    usage_filter_add,
)


@transaction.atomic
def contract_amend(
    *,
    contract: Contract,
    starting_at: datetime,
    now: datetime,
    commits: Sequence[CommitSpec] = (),
    credits: Sequence[CreditSpec] = (),
    overrides: Sequence[OverrideSpec] = (),
    scheduled_charges: Sequence[ScheduledChargeSpec] = (),
    custom_fields: dict | None = None,
    created_by: str = "admin",
    reseller_royalties: Sequence[dict] = (),
    **more_terms,
) -> ContractEdit:
    """Amend a contract (v1): the given terms are added to it (each with its own dates), and
    the amendment is listed on the contract with its `starting_at`. `more_terms` passes other
    term kinds `add_terms` knows (discounts, professional services); `reseller_royalties` (see
    `reseller_royalties_add`) are recorded, changing no invoice."""
    contract_open(contract)
    if starting_at < contract.starting_at or (
        contract.ending_before is not None and starting_at >= contract.ending_before
    ):
        raise ValidationError({"starting_at": "The amendment starts inside the contract."})
    added = add_terms(
        contract,
        commits=commits,
        credits=credits,
        overrides=overrides,
        scheduled_charges=scheduled_charges,
        **more_terms,
    )
    if custom_fields:
        contract.custom_fields = {**(contract.custom_fields or {}), **custom_fields}
        contract.save(update_fields=["custom_fields"])
    edit = ContractEdit(
        contract=contract,
        kind=ContractEdit.Kind.AMENDMENT,
        starting_at=starting_at,
        created_by=created_by,
        changes=added.changes(),
    )
    clean(edit)
    edit.save()
    reseller_royalties_add(
        contract=contract,
        royalties=reseller_royalties,
        default_start=starting_at,
        amendment=edit,
    )
    for term in (*added.commits, *added.credits):
        balance_event("create", term, now)
    contract_event("contract.edit", contract, now, ending_moved=False)
    return edit


@transaction.atomic
def contract_usage_filter_set(
    *,
    contract: Contract,
    group_key: str,
    group_values: Sequence[str],
    starting_at: datetime,
    now: datetime,
    created_by: str = "admin",
) -> ContractUsageFilter:
    """setUsageFilter: a new usage filter from `starting_at` (see `usage_filter_add`), in the
    contract's edit history; the drafts follow."""
    contract_open(contract)
    usage_filter = usage_filter_add(
        contract, group_key=group_key, group_values=group_values, starting_at=starting_at
    )
    ContractEdit.objects.create(
        contract=contract,
        created_by=created_by,
        changes={"add_usage_filters": [str(usage_filter.pk)]},
    )
    contract_event("contract.edit", contract, now, ending_moved=False)
    return usage_filter
