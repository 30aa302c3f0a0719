"""v1 amendments (terms added to a contract from a date) and usage filters (which usage belongs
to the contract, over time). Both are `ContractEdit`s in the contract's history and record
`contract.edit`, so invoicing's drafts follow at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Contract, ContractEdit, ContractUsageFilter, ResellerRoyalty
from .common import clean
from .contracts import contract_open
from .events import balance_event, contract_event
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
    `reseller_royalties_amend`) are recorded, changing no invoice."""
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
    reseller_royalties_amend(contract=contract, amendment=edit, royalties=reseller_royalties)
    for term in (*added.commits, *added.credits):
        balance_event("create", term, now)
    contract_event("contract.edit", contract, now, ending_moved=False)
    return edit


ROYALTY_FIELDS = (
    "fraction",
    "netsuite_reseller_id",
    "reseller_contract_value",
    "applicable_product_ids",
    "applicable_product_tags",
    "aws_account_number",
    "aws_offer_id",
    "aws_payer_reference_id",
    "gcp_account_id",
    "gcp_offer_id",
)


def reseller_royalties_amend(
    *, contract: Contract, amendment: ContractEdit, royalties: Sequence[dict]
) -> list[ResellerRoyalty]:
    """Each royalty (Metronome's amendment item, by reseller type) becomes a new segment of
    that reseller's royalty from its `starting_at` (the amendment's by default): what it does
    not give is kept from the segment in effect then, which it cuts; `ending_before` omitted
    keeps that segment's end, null leaves it open. Royalties are recorded for the marketplace
    integrations and reports: they change no invoice total (the marketplace deducts its share
    from what it collects, outside our invoices)."""
    made = []
    for index, given in enumerate(royalties):
        where = f"reseller_royalties[{index}]"
        kind = given["reseller_type"]
        start = given.get("starting_at") or amendment.starting_at
        segments = ResellerRoyalty.objects.select_for_update().filter(
            contract=contract, reseller_type=kind
        )
        if segments.filter(starting_at__gt=start).exists():
            raise ValidationError(
                {f"{where}.starting_at": f"A later {kind} royalty segment starts after it."}
            )
        current = segments.filter(starting_at__lte=start).order_by("-starting_at").first()
        if current is not None and current.ending_before is not None:
            current = current if current.ending_before > start else None
        inherited = {name: getattr(current, name) for name in ROYALTY_FIELDS} if current else {}
        for name in ("fraction", "netsuite_reseller_id"):
            if name not in given and name not in inherited:
                raise ValidationError({f"{where}.{name}": f"Required for a new {kind} royalty."})
        ending_before = given.get(
            "ending_before", current.ending_before if current is not None else None
        )
        row = ResellerRoyalty(
            contract=contract,
            amendment=amendment,
            reseller_type=kind,
            starting_at=start,
            ending_before=ending_before,
            **{**inherited, **{k: v for k, v in given.items() if k in ROYALTY_FIELDS}},
        )
        if current is not None:
            if current.starting_at == start:
                current.delete()  # replaced from the same moment
            else:
                current.ending_before = start
                current.save(update_fields=["ending_before"])
        clean(row, where)
        row.save()
        made.append(row)
    return made


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
