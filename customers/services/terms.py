"""Contract terms as specs (commits, credits, overrides, scheduled charges, subscriptions), and
adding them to a contract with every model rule checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError

from catalog.models import PricingUnit, Product, tiers_problem

from ..models import (
    AccessSegment,
    Commit,
    CommitInvoiceItem,
    Contract,
    Credit,
    Override,
    OverrideTier,
    ScheduledCharge,
    ScheduledChargeItem,
    Subscription,
)
from .common import clean

# --- Contract terms -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSpec:
    amount: Decimal
    starting_at: datetime
    ending_before: datetime


@dataclass(frozen=True)
class InvoiceItemSpec:
    timestamp: datetime
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True)
class CreditSpec:
    product: Product
    access_schedule: Sequence[SegmentSpec]
    credit_type: PricingUnit | None = None
    name: str = ""
    description: str = ""
    priority: Decimal = Decimal(0)
    rate_type: str = Commit.RateType.LIST_RATE
    applicable_products: Sequence[Product] = ()
    applicable_product_tags: Sequence[str] = ()
    rollover_fraction: Decimal | None = None


@dataclass(frozen=True)
class CommitSpec(CreditSpec):
    type: str = Commit.Type.PREPAID
    invoice_schedule: Sequence[InvoiceItemSpec] = ()


@dataclass(frozen=True)
class OverrideSpec:
    starting_at: datetime
    type: str = Override.Type.MULTIPLIER
    ending_before: datetime | None = None
    product: Product | None = None
    applicable_product_tags: Sequence[str] = ()
    # ANY: Metronome's top-level tags; ALL: an override specifier's product_tags.
    tags_match: str = Override.TagsMatch.ANY
    pricing_group_values: dict = field(default_factory=dict)
    presentation_group_values: dict = field(default_factory=dict)
    billing_frequency: str = ""
    commit_ids: Sequence[str] = ()
    multiplier: Decimal | None = None
    overwrite_rate_type: str = ""
    overwrite_price: Decimal | None = None
    overwrite_credit_type: PricingUnit | None = None
    overwrite_tiers: Sequence[tuple[Decimal | None, Decimal]] = ()
    tiers: Sequence[tuple[Decimal | None, Decimal]] = ()  # (size, multiplier) for TIERED
    entitled: bool | None = None
    priority: Decimal | None = None
    is_commit_specific: bool = False
    target: str = ""


@dataclass(frozen=True)
class ScheduledChargeSpec:
    product: Product
    items: Sequence[InvoiceItemSpec]
    name: str = ""


@dataclass(frozen=True)
class SubscriptionSpec:
    product: Product
    billing_frequency: str
    collection_schedule: str = Subscription.CollectionSchedule.ADVANCE
    is_prorated: bool = True
    initial_quantity: Decimal = Decimal(1)
    starting_at: datetime | None = None
    ending_before: datetime | None = None
    name: str = ""


def dot(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


def add_balance(model, contract: Contract | None, spec: CreditSpec, prefix: str, **extra):
    """A commit or credit of `contract`; with contract None, a customer-level one (the customer
    is then in `extra`)."""
    if contract is not None:
        extra.setdefault("customer", contract.customer)
    term = model(
        contract=contract,
        product=spec.product,
        name=spec.name,
        description=spec.description,
        priority=spec.priority,
        rate_type=spec.rate_type,
        applicable_product_tags=list(spec.applicable_product_tags),
        rollover_fraction=spec.rollover_fraction,
        **extra,
    )
    if spec.credit_type is not None:
        term.credit_type = spec.credit_type
    if not spec.access_schedule:
        raise ValidationError(
            {f"{dot(prefix)}access_schedule": "Give at least one access segment."}
        )
    # The product's type rule is clean()'s (in its words), not limit_choices_to's generic one.
    clean(term, prefix, exclude=["product"])
    term.save()
    term.applicable_products.set(spec.applicable_products)
    owner = "commit" if model is Commit else "credit"
    for index, segment in enumerate(spec.access_schedule):
        row = AccessSegment(
            amount=segment.amount,
            starting_at=segment.starting_at,
            ending_before=segment.ending_before,
            **{owner: term},
        )
        clean(row, f"{dot(prefix)}access_schedule.schedule_items[{index}]")
        row.save()
    return term


def add_commit(contract: Contract | None, spec: CommitSpec, prefix: str, **extra) -> Commit:
    commit = add_balance(Commit, contract, spec, prefix, type=spec.type, **extra)
    _add_schedule_items(
        CommitInvoiceItem,
        spec.invoice_schedule,
        f"{dot(prefix)}invoice_schedule.schedule_items",
        commit=commit,
    )
    return commit


def _add_schedule_items(model, items, prefix: str, **owner) -> None:
    """Validate and save the dated items of a commit's invoice schedule or a scheduled charge."""
    for index, item in enumerate(items):
        row = model(
            timestamp=item.timestamp,
            amount=item.amount,
            unit_price=item.unit_price,
            quantity=item.quantity,
            **owner,
        )
        clean(row, f"{prefix}[{index}]")
        row.save()


def _add_credit(contract: Contract, spec: CreditSpec, prefix: str) -> Credit:
    return add_balance(Credit, contract, spec, prefix)


def _add_override(contract: Contract, spec: OverrideSpec, prefix: str) -> Override:
    override = Override(
        contract=contract,
        type=spec.type,
        starting_at=spec.starting_at,
        ending_before=spec.ending_before,
        product=spec.product,
        applicable_product_tags=list(spec.applicable_product_tags),
        tags_match=spec.tags_match,
        pricing_group_values=dict(spec.pricing_group_values),
        presentation_group_values=dict(spec.presentation_group_values),
        billing_frequency=spec.billing_frequency,
        commit_ids=[str(pk) for pk in spec.commit_ids],
        multiplier=spec.multiplier,
        overwrite_rate_type=spec.overwrite_rate_type,
        overwrite_price=spec.overwrite_price,
        overwrite_credit_type=spec.overwrite_credit_type,
        entitled=spec.entitled,
        priority=spec.priority,
        is_commit_specific=spec.is_commit_specific,
        target=spec.target,
    )
    errors = {}
    if spec.type == Override.Type.TIERED and not spec.tiers:
        errors[f"{prefix}.tiers"] = "A tiered override needs tiers of multipliers."
    if spec.overwrite_rate_type == "TIERED":
        problem = tiers_problem(list(spec.overwrite_tiers))
        if problem:
            errors[f"{prefix}.overwrite_rate.tiers"] = problem
    if errors:
        raise ValidationError(errors)
    clean(override, prefix)
    override.save()
    for level, (size, multiplier) in enumerate(spec.tiers, start=1):
        OverrideTier.objects.create(
            override=override, level=level, size=size, multiplier=multiplier
        )
    for level, (size, price) in enumerate(spec.overwrite_tiers, start=1):
        OverrideTier.objects.create(override=override, level=level, size=size, price=price)
    return override


def _add_scheduled_charge(contract: Contract, spec: ScheduledChargeSpec, prefix: str):
    charge = ScheduledCharge(contract=contract, product=spec.product, name=spec.name)
    if not spec.items:
        raise ValidationError({f"{prefix}.schedule.schedule_items": "Give at least one date."})
    clean(charge, prefix, exclude=["product"])
    charge.save()
    _add_schedule_items(
        ScheduledChargeItem,
        spec.items,
        f"{prefix}.schedule.schedule_items",
        scheduled_charge=charge,
    )
    return charge


def _add_subscription(contract: Contract, spec: SubscriptionSpec, prefix: str) -> Subscription:
    subscription = Subscription(
        contract=contract,
        product=spec.product,
        name=spec.name,
        billing_frequency=spec.billing_frequency,
        collection_schedule=spec.collection_schedule,
        is_prorated=spec.is_prorated,
        initial_quantity=spec.initial_quantity,
        starting_at=spec.starting_at or contract.starting_at,
        ending_before=spec.ending_before or contract.ending_before,
    )
    clean(subscription, prefix, exclude=["product"])
    subscription.save()
    return subscription


@dataclass
class AddedTerms:
    commits: list[Commit] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    scheduled_charges: list[ScheduledCharge] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)


def add_terms(
    contract: Contract,
    *,
    commits: Sequence[CommitSpec] = (),
    credits: Sequence[CreditSpec] = (),
    overrides: Sequence[OverrideSpec] = (),
    scheduled_charges: Sequence[ScheduledChargeSpec] = (),
    subscriptions: Sequence[SubscriptionSpec] = (),
    names: dict[str, str] | None = None,
) -> AddedTerms:
    names = names or {}
    added = AddedTerms()
    for index, spec in enumerate(commits):
        added.commits.append(
            add_commit(contract, spec, f"{names.get('commits', 'commits')}[{index}]")
        )
    for index, spec in enumerate(credits):
        added.credits.append(
            _add_credit(contract, spec, f"{names.get('credits', 'credits')}[{index}]")
        )
    for index, spec in enumerate(overrides):
        added.overrides.append(
            _add_override(contract, spec, f"{names.get('overrides', 'overrides')}[{index}]")
        )
    for index, spec in enumerate(scheduled_charges):
        key = names.get("scheduled_charges", "scheduled_charges")
        added.scheduled_charges.append(_add_scheduled_charge(contract, spec, f"{key}[{index}]"))
    for index, spec in enumerate(subscriptions):
        key = names.get("subscriptions", "subscriptions")
        added.subscriptions.append(_add_subscription(contract, spec, f"{key}[{index}]"))
    return added
