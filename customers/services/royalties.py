"""Reseller royalties (`ResellerRoyalty`): segments per reseller type, added by a contract, an
amendment or an edit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError

from ..models import Contract, ContractEdit, ResellerRoyalty
from .common import clean

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


def reseller_royalties_add(
    *,
    contract: Contract,
    royalties: Sequence[dict],
    default_start: datetime,
    amendment: ContractEdit | None = None,
    key: str = "reseller_royalties",
) -> list[ResellerRoyalty]:
    """Each royalty (Metronome's item, by reseller type: on a contract, an amendment or an
    edit's `add_reseller_royalties`) becomes a new segment of that reseller's royalty from its
    `starting_at` (`default_start` when not given): what it does not give is kept from the
    segment in effect then, which it cuts (or replaces, from the same moment); `ending_before`
    omitted keeps that segment's end, null leaves it open. Royalties are recorded for the
    marketplace integrations and reports: they change no invoice total (the marketplace deducts
    its share from what it collects, outside our invoices). The caller's transaction."""
    made = []
    for index, given in enumerate(royalties):
        where = f"{key}[{index}]"
        kind = given["reseller_type"]
        start = given.get("starting_at") or default_start
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
