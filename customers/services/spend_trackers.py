"""Spend trackers of a contract: added on create or by a v2 edit (`add_spend_trackers`),
archived by alias (`archive_spend_trackers`). A threshold discount's cap names one by alias:
the cap must name a live tracker counting the threshold's pricing unit, and a tracker a cap
names cannot be archived."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError

from catalog.models import PricingUnit

from ..models import Contract, SpendTracker
from .common import clean

THRESHOLD_CONFIGURATIONS = (
    "prepaid_balance_threshold_configuration",
    "spend_threshold_configuration",
)


@dataclass(frozen=True)
class SpendTrackerSpec:
    alias: str
    credit_type: PricingUnit
    applicable_spend_specifiers: Sequence[dict] = field(default_factory=list)
    reset_frequency: str = SpendTracker.ResetFrequency.BILLING_PERIOD


def spend_trackers_add(
    *, contract: Contract, specs: Sequence[SpendTrackerSpec], now: datetime, prefix: str
) -> list[SpendTracker]:
    """The trackers, each checked (`prefix[i].field` in errors): aliases unique among the
    contract's live trackers."""
    made = []
    for index, spec in enumerate(specs):
        tracker = SpendTracker(
            contract=contract,
            alias=spec.alias,
            credit_type=spec.credit_type,
            applicable_spend_specifiers=[dict(s) for s in spec.applicable_spend_specifiers],
            reset_frequency=spec.reset_frequency,
            created_at=now,
        )
        clean(tracker, f"{prefix}[{index}]")
        tracker.save()
        made.append(tracker)
    return made


def _capped_by(contract: Contract) -> dict[str, str]:
    """The tracker alias each threshold configuration's discount cap names."""
    names = {}
    for name in THRESHOLD_CONFIGURATIONS:
        config = getattr(contract, name) or {}
        cap = (config.get("discount_configuration") or {}).get("cap")
        if cap:
            names[name] = cap["spend_tracker_alias"]
    return names


def spend_trackers_archive(
    *, contract: Contract, aliases: Sequence[str], now: datetime, prefix: str
) -> list[SpendTracker]:
    """Archive the live trackers of these aliases (a tracker a discount cap names stays)."""
    capped = _capped_by(contract)
    archived = []
    for index, alias in enumerate(aliases):
        where = f"{prefix}[{index}]"
        tracker = SpendTracker.objects.filter(
            contract=contract, alias=alias, archived_at__isnull=True
        ).first()
        if tracker is None:
            raise ValidationError({where: f"The contract has no spend tracker {alias!r}."})
        users = sorted(name for name, used in capped.items() if used == alias)
        if users:
            raise ValidationError(
                {
                    where: f"The discount cap of {users[0]} is measured by {alias!r}; change it first."
                }
            )
        tracker.archived_at = now
        tracker.save(update_fields=["archived_at"])
        archived.append(tracker)
    return archived


def spend_tracker_caps_check(*, contract: Contract, where: Mapping[str, str]) -> None:
    """Each threshold configuration's discount cap names a live tracker of the contract that
    counts the threshold's pricing unit (`where`: the request's field for each configuration)."""
    for name, alias in _capped_by(contract).items():
        field_name = f"{where.get(name, name)}.discount_configuration.cap.spend_tracker_alias"
        tracker = SpendTracker.objects.filter(
            contract=contract, alias=alias, archived_at__isnull=True
        ).first()
        if tracker is None:
            raise ValidationError(
                {
                    field_name: f"The contract has no spend tracker {alias!r}; add it (spend_trackers)."
                }
            )
        config = getattr(contract, name)
        unit = config.get("custom_credit_type_id") or str(contract.rate_card.fiat_credit_type_id)
        if str(tracker.credit_type_id) != unit:
            raise ValidationError(
                {
                    field_name: f"The spend tracker {alias!r} counts {tracker.credit_type.name}; "
                    "the threshold buys in another pricing unit."
                }
            )
