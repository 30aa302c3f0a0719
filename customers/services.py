"""Writes for customers, ingest aliases, contracts and their terms.

Every write runs the models' full_clean(), so the API and the admin apply the same rules in the
same words. Errors are Django ValidationErrors keyed by model field name (nested terms are keyed
`commits[0].product`); the API layer renames them to the wire's names.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog import money
from catalog.models import Package, PricingUnit, Product, RateCard, is_hour_aligned, tiers_problem

from .models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    CommitInvoiceItem,
    Contract,
    ContractEdit,
    ContractTransition,
    Credit,
    Customer,
    IngestAlias,
    Override,
    OverrideTier,
    ScheduledCharge,
    ScheduledChargeItem,
    Subscription,
)
from .selectors import ROLLOVER_TYPES, segments_left_at


class IngestAliasInUse(ValidationError):
    """An ingest alias already belongs to another customer (the API answers 409)."""


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return ValidationError({prefix: exc.messages})
    return ValidationError(
        {
            (prefix if key == "__all__" else f"{prefix}.{key}"): messages
            for key, messages in exc.message_dict.items()
        }
    )


def _clean(obj, prefix: str = "", exclude: Sequence[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude) or None)
    except ValidationError as exc:
        raise (_prefixed(exc, prefix) if prefix else exc) from None


# --- Customers -----------------------------------------------------------------------------------------


def _aliases_set(customer: Customer, aliases: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(aliases))
    for alias in wanted:
        candidate = IngestAlias(customer=customer, alias=alias)
        try:
            candidate.full_clean(exclude=["customer"])
        except ValidationError as exc:
            if (
                "alias" in getattr(exc, "error_dict", {})
                and IngestAlias.objects.filter(alias=alias).exclude(customer=customer).exists()
            ):
                raise IngestAliasInUse({"ingest_aliases": exc.message_dict["alias"]}) from None
            raise _prefixed(exc, "ingest_aliases") from None
    customer.ingest_aliases.exclude(alias__in=wanted).delete()
    existing = set(customer.ingest_aliases.values_list("alias", flat=True))
    for alias in wanted:
        if alias not in existing:
            IngestAlias.objects.create(customer=customer, alias=alias)


@transaction.atomic
def customer_create(
    *,
    name: str,
    ingest_aliases: Sequence[str] = (),
    external_id: str = "",
    custom_fields: dict | None = None,
) -> Customer:
    """A customer and its ingest aliases; a deprecated `external_id` is also an ingest alias."""
    customer = Customer(name=name, external_id=external_id or "", custom_fields=custom_fields or {})
    _clean(customer)
    customer.save()
    aliases = list(ingest_aliases)
    if external_id and external_id not in aliases:
        aliases.append(external_id)
    _aliases_set(customer, aliases)
    return customer


@transaction.atomic
def customer_set_ingest_aliases(*, customer: Customer, ingest_aliases: Sequence[str]) -> Customer:
    """Replace the alias set (events sent under a removed alias no longer reach this customer)."""
    _aliases_set(customer, ingest_aliases)
    customer.save(update_fields=["updated_at"])
    return customer


def customer_set_name(*, customer: Customer, name: str) -> Customer:
    if customer.archived_at is not None:
        raise ValidationError("This customer is archived; it cannot be renamed.")
    customer.name = name
    _clean(customer)
    customer.save()
    return customer


@transaction.atomic
def customer_archive(*, customer: Customer, now: datetime) -> Customer:
    """Archive a customer and, with it, its contracts (and their invoices)."""
    if customer.archived_at is not None:
        raise ValidationError("This customer is already archived.")
    for contract in customer.contracts.filter(archived_at__isnull=True):
        contract_archive(contract=contract, void_invoices=True, now=now)
    customer.archived_at = now
    customer.save(update_fields=["archived_at", "updated_at"])
    return customer


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
    pricing_group_values: dict = field(default_factory=dict)
    presentation_group_values: dict = field(default_factory=dict)
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


def _dot(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


def _add_balance(model, contract: Contract | None, spec: CreditSpec, prefix: str, **extra):
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
            {f"{_dot(prefix)}access_schedule": "Give at least one access segment."}
        )
    # The product's type rule is clean()'s (in its words), not limit_choices_to's generic one.
    _clean(term, prefix, exclude=["product"])
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
        _clean(row, f"{_dot(prefix)}access_schedule.schedule_items[{index}]")
        row.save()
    return term


def _add_commit(contract: Contract | None, spec: CommitSpec, prefix: str, **extra) -> Commit:
    commit = _add_balance(Commit, contract, spec, prefix, type=spec.type, **extra)
    _add_schedule_items(
        CommitInvoiceItem,
        spec.invoice_schedule,
        f"{_dot(prefix)}invoice_schedule.schedule_items",
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
        _clean(row, f"{prefix}[{index}]")
        row.save()


def _add_credit(contract: Contract, spec: CreditSpec, prefix: str) -> Credit:
    return _add_balance(Credit, contract, spec, prefix)


def _add_override(contract: Contract, spec: OverrideSpec, prefix: str) -> Override:
    override = Override(
        contract=contract,
        type=spec.type,
        starting_at=spec.starting_at,
        ending_before=spec.ending_before,
        product=spec.product,
        applicable_product_tags=list(spec.applicable_product_tags),
        pricing_group_values=dict(spec.pricing_group_values),
        presentation_group_values=dict(spec.presentation_group_values),
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
    _clean(override, prefix)
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
    _clean(charge, prefix, exclude=["product"])
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
    _clean(subscription, prefix, exclude=["product"])
    subscription.save()
    return subscription


@dataclass
class AddedTerms:
    commits: list[Commit] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    scheduled_charges: list[ScheduledCharge] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)


def _add_terms(
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
            _add_commit(contract, spec, f"{names.get('commits', 'commits')}[{index}]")
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


# --- Contracts -------------------------------------------------------------------------------------------


def _ensure_drafts(contract: Contract, now: datetime) -> None:
    """Have invoicing make sure the contract's current-period draft exists (its own issue)."""
    try:
        from invoicing.services import contract_drafts_ensure
    except ImportError:
        return
    contract_drafts_ensure(contract=contract, now=now)


def contract_drafts_refresh(*, contract: Contract, now: datetime) -> None:
    """After the contract or its terms were edited outside these services (the admin's inline
    rows): its drafts follow, as after a v2 edit (a new or moved scheduled date gets its
    SCHEDULED draft, a date no longer scheduled loses its draft)."""
    _ensure_drafts(contract, now)


def balance_drafts_refresh(*, balance: Commit | Credit, now: datetime) -> None:
    """After a commit or credit was edited on its own page: the drafts of the contract it belongs
    to and of the contract that invoices it (a customer-level commit's `invoice_contract`)."""
    contracts = {balance.contract_id: balance.contract} if balance.contract_id else {}
    invoice_contract_id = getattr(balance, "invoice_contract_id", None)
    if invoice_contract_id:
        contracts.setdefault(invoice_contract_id, balance.invoice_contract)
    for contract in contracts.values():
        _ensure_drafts(contract, now)


def _invoices_on_archive(contract: Contract, void_invoices: bool, now: datetime) -> None:
    """Have invoicing cancel drafts and, with void_invoices, void finalized invoices."""
    try:
        from invoicing.services import contract_invoices_archive
    except ImportError:
        return
    contract_invoices_archive(contract=contract, void_invoices=void_invoices, now=now)


@transaction.atomic
def contract_create(
    *,
    customer: Customer,
    rate_card: RateCard,
    starting_at: datetime,
    now: datetime,
    ending_before: datetime | None = None,
    name: str = "",
    usage_statement_frequency: str = "MONTHLY",
    usage_statement_day: str = "FIRST_OF_MONTH",
    net_payment_terms_days: int = 30,
    multiplier_override_prioritization: str = "LOWEST_MULTIPLIER",
    scheduled_charges_on_usage_invoices: bool = False,
    uniqueness_key: str | None = None,
    custom_fields: dict | None = None,
    package: Package | None = None,
    commits: Sequence[CommitSpec] = (),
    credits: Sequence[CreditSpec] = (),
    overrides: Sequence[OverrideSpec] = (),
    scheduled_charges: Sequence[ScheduledChargeSpec] = (),
    subscriptions: Sequence[SubscriptionSpec] = (),
    created_by: str = "admin",
    transition: TransitionSpec | None = None,
) -> Contract:
    """A contract with its terms, and the draft invoice of its current period. With
    `transition`, it follows an earlier contract of the customer (see `_transition_make`)."""
    if customer.archived_at is not None:
        raise ValidationError(
            {"customer": "This customer is archived; it cannot get new contracts."}
        )
    source = None
    if transition is not None:
        source = _transition_source(
            customer=customer, spec=transition, starting_at=starting_at, ending_before=ending_before
        )
    contract = Contract(
        customer=customer,
        rate_card=rate_card,
        package=package,
        name=name or "",
        starting_at=starting_at,
        ending_before=ending_before,
        usage_statement_frequency=usage_statement_frequency,
        usage_statement_day=usage_statement_day,
        net_payment_terms_days=net_payment_terms_days,
        multiplier_override_prioritization=multiplier_override_prioritization,
        scheduled_charges_on_usage_invoices=scheduled_charges_on_usage_invoices,
        uniqueness_key=uniqueness_key or None,
        custom_fields=custom_fields or {},
        created_by=created_by,
    )
    _clean(contract)
    contract.save()
    _add_terms(
        contract,
        commits=commits,
        credits=credits,
        overrides=overrides,
        scheduled_charges=scheduled_charges,
        subscriptions=subscriptions,
    )
    if source is not None:
        _transition_make(source=source, contract=contract, spec=transition, now=now)
    _ensure_drafts(contract, now)
    return contract


def _contract_open(contract: Contract) -> None:
    if contract.archived_at is not None:
        raise ValidationError("This contract is archived; it cannot be changed.")


def _end_before_successor(contract: Contract, ending_before: datetime | None) -> None:
    """A contract followed by another (a transition) ends by the time the other starts."""
    successor = (
        ContractTransition.objects.filter(from_contract=contract)
        .select_related("to_contract")
        .first()
    )
    if successor is None:
        return
    starts = successor.to_contract.starting_at
    if ending_before is None or ending_before > starts:
        raise ValidationError(
            {
                "ending_before": f"Contract {successor.to_contract_id} follows this one from "
                f"{starts.isoformat()}; it must end by then."
            }
        )


def contract_renew(*, contract: Contract, now: datetime, created_by: str = "admin") -> Contract:
    """A RENEWAL of `contract`: same customer, rate card, statement schedule and payment terms,
    from its end for a term as long as its own; its commits and credits with a rollover
    fraction roll over (contract_create with a transition). It needs an end date."""
    if contract.ending_before is None:
        raise ValidationError("Give it an end date first (a renewal starts when it ends).")
    return contract_create(
        customer=contract.customer,
        rate_card=contract.rate_card,
        starting_at=contract.ending_before,
        ending_before=contract.ending_before + (contract.ending_before - contract.starting_at),
        now=now,
        name=contract.name,
        usage_statement_frequency=contract.usage_statement_frequency,
        usage_statement_day=contract.usage_statement_day,
        net_payment_terms_days=contract.net_payment_terms_days,
        multiplier_override_prioritization=contract.multiplier_override_prioritization,
        scheduled_charges_on_usage_invoices=contract.scheduled_charges_on_usage_invoices,
        created_by=created_by,
        transition=TransitionSpec(from_contract_id=contract.pk),
    )


def _end_allowed(contract: Contract, ending_before: datetime | None) -> None:
    """A new end: by the start of a following contract, and not before what was billed."""
    _end_before_successor(contract, ending_before)
    if ending_before is None:
        return
    finalized = _finalized_usage_after(contract, ending_before)
    if finalized is not None:
        raise ValidationError(
            {
                "ending_before": f"This contract has a finalized invoice ending "
                f"{finalized.isoformat()}, after {ending_before.isoformat()}; void it first."
            }
        )


@transaction.atomic
def contract_update_end_date(
    *, contract: Contract, ending_before: datetime | None, now: datetime
) -> Contract:
    """Move the contract's end; its drafts follow (those after an earlier end removed, the one
    spanning it cut; a later or removed end gets the missing drafts)."""
    _contract_open(contract)
    _end_allowed(contract, ending_before)
    contract.ending_before = ending_before
    _clean(contract)
    contract.save(update_fields=["ending_before"])
    _fit_drafts(contract, now)
    return contract


@transaction.atomic
def contract_archive(*, contract: Contract, void_invoices: bool, now: datetime) -> Contract:
    """Archive: drafts are cancelled; finalized invoices are voided only with void_invoices."""
    if contract.archived_at is not None:
        raise ValidationError("This contract is already archived.")
    contract.archived_at = now
    contract.save(update_fields=["archived_at"])
    _invoices_on_archive(contract, void_invoices, now)
    return contract


UNCHANGED = object()


@dataclass(frozen=True)
class ScheduleChanges:
    """Edits of a schedule: items added, removed by id, or changed by id (only given fields)."""

    add: Sequence[SegmentSpec | InvoiceItemSpec] = ()
    remove: Sequence[uuid.UUID] = ()
    update: Sequence[dict] = ()


@dataclass(frozen=True)
class BalanceUpdate:
    """A change to a commit or credit: plain fields by model name, and schedule edits."""

    id: uuid.UUID
    fields: dict = field(default_factory=dict)
    applicable_products: Sequence[Product] | None = None
    access_schedule: ScheduleChanges | None = None
    invoice_schedule: ScheduleChanges | None = None


@dataclass(frozen=True)
class ScheduledChargeUpdate:
    id: uuid.UUID
    invoice_schedule: ScheduleChanges


def _term(manager, pk: uuid.UUID, where: str):
    term = manager.filter(pk=pk).first()
    if term is None:
        raise ValidationError({where: f"This contract has no such term ({pk})."})
    if term.archived_at is not None:
        raise ValidationError({where: "This term is archived; it cannot be changed."})
    return term


def _edit_schedule(rows, model, owner: dict, changes: ScheduleChanges, where: str) -> None:
    """Apply add/remove/update to the rows of one schedule (segments or invoice items)."""
    for index, pk in enumerate(changes.remove):
        row = rows.filter(pk=pk).first()
        if row is None:
            raise ValidationError({f"{where}.remove_schedule_items[{index}].id": "No such item."})
        row.delete()
    for index, values in enumerate(changes.update):
        row = rows.filter(pk=values["id"]).first()
        prefix = f"{where}.update_schedule_items[{index}]"
        if row is None:
            raise ValidationError({f"{prefix}.id": "No such item."})
        for key, value in values.items():
            if key != "id":
                setattr(row, key, value)
        _clean(row, prefix)
        row.save()
    for index, spec in enumerate(changes.add):
        row = model(**owner, **spec.__dict__)
        _clean(row, f"{where}.add_schedule_items[{index}]")
        row.save()


def _update_balance(manager, update: BalanceUpdate, where: str, owner: str) -> None:
    term = _term(manager, update.id, f"{where}.{owner}_id")
    for key, value in update.fields.items():
        setattr(term, key, value)
    _clean(term, where, exclude=["product"])
    term.save()
    if update.applicable_products is not None:
        term.applicable_products.set(update.applicable_products)
    if update.access_schedule is not None:
        _edit_schedule(
            term.access_schedule,
            AccessSegment,
            {owner: term},
            update.access_schedule,
            f"{where}.access_schedule",
        )
        if not term.access_schedule.exists():
            raise ValidationError({f"{where}.access_schedule": "Give at least one access segment."})
    if update.invoice_schedule is not None:
        _edit_schedule(
            term.invoice_schedule,
            CommitInvoiceItem,
            {"commit": term},
            update.invoice_schedule,
            f"{where}.invoice_schedule",
        )


def _update_scheduled_charge(contract: Contract, update: ScheduledChargeUpdate, where: str) -> None:
    charge = _term(contract.scheduled_charges, update.id, f"{where}.scheduled_charge_id")
    _edit_schedule(
        charge.schedule_items,
        ScheduledChargeItem,
        {"scheduled_charge": charge},
        update.invoice_schedule,
        f"{where}.invoice_schedule",
    )
    if not charge.schedule_items.exists():
        raise ValidationError({f"{where}.invoice_schedule": "Give at least one date."})


@dataclass
class EditResult:
    edit: ContractEdit
    added: AddedTerms


@transaction.atomic
def contract_edit(
    *,
    contract: Contract,
    now: datetime,
    name=UNCHANGED,
    ending_before=UNCHANGED,
    net_payment_terms_days=UNCHANGED,
    add_commits: Sequence[CommitSpec] = (),
    add_credits: Sequence[CreditSpec] = (),
    add_overrides: Sequence[OverrideSpec] = (),
    add_scheduled_charges: Sequence[ScheduledChargeSpec] = (),
    add_subscriptions: Sequence[SubscriptionSpec] = (),
    archive_commits: Sequence[uuid.UUID] = (),
    archive_credits: Sequence[uuid.UUID] = (),
    archive_scheduled_charges: Sequence[uuid.UUID] = (),
    remove_overrides: Sequence[uuid.UUID] = (),
    update_commits: Sequence[BalanceUpdate] = (),
    update_credits: Sequence[BalanceUpdate] = (),
    update_scheduled_charges: Sequence[ScheduledChargeUpdate] = (),
    uniqueness_key: str | None = None,
    created_by: str = "admin",
) -> EditResult:
    """Change a contract in place (v2 edit): name, end date, payment terms, and its terms."""
    _contract_open(contract)
    changed_fields = []
    if name is not UNCHANGED:
        contract.name = name or ""
        changed_fields.append("name")
    if ending_before is not UNCHANGED:
        _end_allowed(contract, ending_before)
        contract.ending_before = ending_before
        changed_fields.append("ending_before")
    if net_payment_terms_days is not UNCHANGED:
        contract.net_payment_terms_days = net_payment_terms_days
        changed_fields.append("net_payment_terms_days")
    if changed_fields:
        _clean(contract)
        contract.save(update_fields=changed_fields)
    added = _add_terms(
        contract,
        commits=add_commits,
        credits=add_credits,
        overrides=add_overrides,
        scheduled_charges=add_scheduled_charges,
        subscriptions=add_subscriptions,
        names={
            "commits": "add_commits",
            "credits": "add_credits",
            "overrides": "add_overrides",
            "scheduled_charges": "add_scheduled_charges",
            "subscriptions": "add_subscriptions",
        },
    )
    _archive_terms(contract.commits, archive_commits, "archive_commits", now)
    _archive_terms(contract.credits, archive_credits, "archive_credits", now)
    _archive_terms(
        contract.scheduled_charges, archive_scheduled_charges, "archive_scheduled_charges", now
    )
    _archive_terms(contract.overrides, remove_overrides, "remove_overrides", now)
    for index, update in enumerate(update_commits):
        _update_balance(contract.commits, update, f"update_commits[{index}]", "commit")
    for index, update in enumerate(update_credits):
        _update_balance(contract.credits, update, f"update_credits[{index}]", "credit")
    for index, update in enumerate(update_scheduled_charges):
        _update_scheduled_charge(contract, update, f"update_scheduled_charges[{index}]")
    edit = ContractEdit(
        contract=contract,
        uniqueness_key=uniqueness_key or None,
        created_by=created_by,
        changes={
            "fields": changed_fields,
            "add_commits": [str(t.pk) for t in added.commits],
            "add_credits": [str(t.pk) for t in added.credits],
            "add_overrides": [str(t.pk) for t in added.overrides],
            "add_scheduled_charges": [str(t.pk) for t in added.scheduled_charges],
            "add_subscriptions": [str(t.pk) for t in added.subscriptions],
            "archive_commits": [str(pk) for pk in archive_commits],
            "archive_credits": [str(pk) for pk in archive_credits],
            "archive_scheduled_charges": [str(pk) for pk in archive_scheduled_charges],
            "remove_overrides": [str(pk) for pk in remove_overrides],
            "update_commits": [str(u.id) for u in update_commits],
            "update_credits": [str(u.id) for u in update_credits],
            "update_scheduled_charges": [str(u.id) for u in update_scheduled_charges],
        },
    )
    _clean(edit)
    edit.save()
    if "ending_before" in changed_fields:
        _fit_drafts(contract, now)  # fits the drafts to the new end, then ensures them
    else:
        _ensure_drafts(contract, now)
    return EditResult(edit=edit, added=added)


def _archive_terms(manager, ids: Sequence[uuid.UUID], key: str, now: datetime) -> None:
    for index, pk in enumerate(ids):
        term = manager.filter(pk=pk).first()
        if term is None:
            raise ValidationError({f"{key}[{index}].id": f"This contract has no such term ({pk})."})
        if term.archived_at is not None:
            raise ValidationError({f"{key}[{index}].id": "Already archived or removed."})
        term.archived_at = now
        term.save(update_fields=["archived_at"])


# --- Contract transitions and rollover -----------------------------------------------------------------


@dataclass(frozen=True)
class TransitionSpec:
    """`transition` of contract create: the contract the new one follows, and how."""

    from_contract_id: uuid.UUID | str
    type: str = ContractTransition.Type.RENEWAL
    future_invoice_trueup: str = ""


def _transition_source(
    *,
    customer: Customer,
    spec: TransitionSpec,
    starting_at: datetime,
    ending_before: datetime | None,
) -> Contract:
    """The contract a new one may follow (locked): the customer's, live, not already followed by
    another, starting before the new one; a RENEWAL's dates on the hour (its rollover segments
    are). Errors are keyed by wire names (`transition.from_contract_id`, `starting_at`)."""
    key = "transition.from_contract_id"
    try:
        pk = uuid.UUID(str(spec.from_contract_id))
    except ValueError:
        raise ValidationError({key: "Not a valid contract id."}) from None
    source = Contract.objects.select_for_update().filter(pk=pk).first()
    if source is None:
        raise ValidationError({key: f"No contract {pk}."})
    if source.customer_id != customer.pk:
        raise ValidationError({key: f"Contract {pk} belongs to another customer."})
    if source.archived_at is not None:
        raise ValidationError({key: f"Contract {pk} is archived; it cannot be transitioned."})
    followed = ContractTransition.objects.filter(from_contract=source).first()
    if followed is not None:
        raise ValidationError(
            {key: f"Contract {pk} already transitioned to contract {followed.to_contract_id}."}
        )
    if spec.type not in ContractTransition.Type.values:
        raise ValidationError({"transition.type": "Give RENEWAL or SUPERSEDE."})
    if spec.future_invoice_trueup not in ("", *ContractTransition.TrueUp.values):
        raise ValidationError(
            {"transition.future_invoice_behavior.trueup": "Give REMOVE or AS_IS."}
        )
    if starting_at <= source.starting_at:
        raise ValidationError(
            {
                "starting_at": "A contract that follows another starts after it: "
                f"contract {pk} starts at {source.starting_at.isoformat()}."
            }
        )
    finalized = _finalized_usage_after(source, starting_at)
    if finalized is not None:
        raise ValidationError(
            {
                key: f"Contract {pk} has a finalized invoice ending "
                f"{finalized.isoformat()}, after the new contract starts; void it first."
            }
        )
    if spec.type == ContractTransition.Type.RENEWAL:
        for name, value in (("starting_at", starting_at), ("ending_before", ending_before)):
            if not is_hour_aligned(value):
                raise ValidationError(
                    {name: "A renewal's dates are on the hour (commits roll over on the hour)."}
                )
    return source


def _finalized_usage_after(contract: Contract, moment: datetime) -> datetime | None:
    """The end of the contract's latest FINALIZED usage invoice if it ends after `moment` (the
    contract cannot end before what it already billed), through invoicing's
    `contract_invoices` selector when there is one."""
    try:
        from invoicing.selectors import contract_invoices
    except ImportError:
        return None
    latest = (
        contract_invoices(contract=contract)
        .filter(status="FINALIZED", type="USAGE", end_timestamp__gt=moment)
        .order_by("-end_timestamp")
        .first()
    )
    return latest.end_timestamp if latest is not None else None


def _fit_drafts(contract: Contract, now: datetime) -> None:
    """Have invoicing fit the contract's drafts to its (earlier) end
    (`invoicing.services.contract_drafts_fit`: usage drafts past the end removed, the one
    spanning it cut; scheduled, finalized and void invoices untouched)."""
    try:
        from invoicing.services import contract_drafts_fit
    except ImportError:
        return
    contract_drafts_fit(contract=contract, now=now)


def _transition_make(
    *, source: Contract, contract: Contract, spec: TransitionSpec, now: datetime
) -> ContractTransition:
    """Record that `contract` follows `source`; `source` ends when `contract` starts (if it ran
    later or had no end), its drafts fitted to that end; a RENEWAL that has started rolls over."""
    transition = ContractTransition(
        type=spec.type,
        from_contract=source,
        to_contract=contract,
        future_invoice_trueup=spec.future_invoice_trueup,
    )
    _clean(transition, "transition")
    transition.save()
    if source.ending_before is None or source.ending_before > contract.starting_at:
        source.ending_before = contract.starting_at
        _clean(source, "transition.from_contract_id")
        source.save(update_fields=["ending_before"])
        _fit_drafts(source, now)
    contract_transition_roll_over(transition=transition, now=now)
    return transition


def _rollover_spec(term: Commit | Credit, amount: Decimal, start: datetime, end: datetime):
    fields = {
        "product": term.product,
        "access_schedule": [SegmentSpec(amount=amount, starting_at=start, ending_before=end)],
        "credit_type": term.credit_type,
        "name": term.name,
        "description": term.description,
        "priority": term.priority,
        "rate_type": term.rate_type,
        "applicable_products": list(term.applicable_products.all()),
        "applicable_product_tags": list(term.applicable_product_tags or ()),
        "rollover_fraction": term.rollover_fraction,
    }
    if isinstance(term, Commit):
        # No invoice schedule: what rolls over was paid (or committed) on the earlier contract.
        return CommitSpec(**fields, type=term.type)
    return CreditSpec(**fields)


@transaction.atomic
def contract_transition_roll_over(
    *, transition: ContractTransition, now: datetime
) -> list[Commit | Credit] | None:
    """A RENEWAL's rollover, once it has taken effect (`now` at or after the new contract's
    start; before that, nothing happens yet: see `contract_transitions_roll_over_due`). Returns
    the balances made (maybe none), or None when it did nothing: not due yet, already rolled
    over, or not a renewal.

    For each live commit and credit of the earlier contract with a `rollover_fraction`: what its
    segments not expired at the transition still hold (`selectors.segments_left_at`: the ledger
    minus current drafts' draws) leaves it, one `*_ROLLOVER` ledger entry of -left per segment
    dated at the transition; and `left x rollover_fraction`, rounded once half up to the unit's
    smallest amount (`catalog.money.round_amount`), becomes a new balance of the new contract:
    same type, product, scope, unit, rate type, priority and fraction, `rolled_over_from` the
    old one, with no invoice schedule (never invoiced again). Nothing is made when that is zero.

    Its one access segment runs from the new contract's start to the new contract's end (a new
    contract without an end: the rolled segments' latest end). What Metronome documents: a
    rollover commit is created "when the new contract started" and `rollover_fraction` is "how
    much of an individual unexpired commit will roll over upon contract transition"; its end is
    not spelled out, so the rollover lives as long as the contract it rolled over to rather than
    keeping the original segment's end.

    Idempotent: the transition is locked and marked `rolled_over_at`; a balance rolls over at
    most once (a unique constraint) and a segment's entry has a uniqueness key.
    """
    locked = (
        ContractTransition.objects.select_for_update()
        .select_related("from_contract", "to_contract__customer")
        .get(pk=transition.pk)
    )
    contract = locked.to_contract
    at = contract.starting_at
    if (
        locked.rolled_over_at is not None
        or locked.type != ContractTransition.Type.RENEWAL
        or now < at
    ):
        return None
    sources = [
        term
        for model in (Commit, Credit)
        for term in model.objects.filter(
            contract=locked.from_contract,
            archived_at__isnull=True,
            rollover_fraction__isnull=False,
        )
        .select_related("product", "credit_type")
        .prefetch_related("access_schedule", "applicable_products")
        .order_by("created_at", "id")
    ]
    left = segments_left_at(balances=sources, at=at, now=now) if sources else {}
    made: list[Commit | Credit] = []
    entries: list[BalanceLedgerEntry] = []
    for term in sources:
        segments = [seg for seg in term.access_schedule.all() if left.get(seg.pk, 0) > 0]
        if not segments:
            continue
        owner = "credit" if isinstance(term, Credit) else "commit"
        for segment in segments:
            entries.append(
                BalanceLedgerEntry(
                    segment=segment,
                    type=ROLLOVER_TYPES[term.type],
                    amount=-left[segment.pk],
                    timestamp=at,
                    contract=contract,
                    reason=f"Rolled over to contract {contract.pk}",
                    uniqueness_key=f"rollover:{segment.pk}",
                    **{owner: term},
                )
            )
        remaining = sum((left[segment.pk] for segment in segments), Decimal(0))
        amount = money.round_amount(
            remaining * term.rollover_fraction, term.credit_type.decimal_places
        )
        if amount <= 0:
            continue
        end = contract.ending_before or max(segment.ending_before for segment in segments)
        spec = _rollover_spec(term, amount, at, end)
        extra = {"rolled_over_from": term, "transition": locked}
        if isinstance(term, Commit):
            made.append(_add_commit(contract, spec, "transition", **extra))
        else:
            made.append(_add_balance(Credit, contract, spec, "transition", **extra))
    BalanceLedgerEntry.objects.bulk_create(entries)
    locked.rolled_over_at = now
    locked.save(update_fields=["rolled_over_at"])
    return made


def contract_transitions_roll_over_due(*, now: datetime) -> int:
    """The scheduled task: roll over every RENEWAL whose new contract has started by `now` and
    that has not rolled over yet (a renewal made ahead of time rolls over when it starts, with
    what is left then). Returns how many rolled over."""
    due = ContractTransition.objects.filter(
        type=ContractTransition.Type.RENEWAL,
        rolled_over_at__isnull=True,
        to_contract__starting_at__lte=now,
        to_contract__archived_at__isnull=True,
    ).order_by("to_contract__starting_at", "id")
    count = 0
    for transition in due:
        # Another worker may have rolled it over meanwhile: then this does nothing.
        if contract_transition_roll_over(transition=transition, now=now) is not None:
            count += 1
    return count


# --- Contracts from packages -----------------------------------------------------------------------


def add_offset(moment: datetime, offset: dict | None) -> datetime:
    """`moment` moved by a package offset {unit: DAYS|WEEKS|MONTHS|YEARS, value} (month-end safe)."""
    if not offset:
        return moment
    unit, value = offset["unit"], int(offset["value"])
    if unit == "DAYS":
        return moment + timedelta(days=value)
    if unit == "WEEKS":
        return moment + timedelta(weeks=value)
    months = value * (12 if unit == "YEARS" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _product(pk) -> Product:
    return Product.objects.get(pk=pk)


def _unit(pk) -> PricingUnit | None:
    return PricingUnit.objects.get(pk=pk) if pk else None


def _package_balance(term: dict, start: datetime) -> dict:
    access = term.get("access_schedule") or {}
    segments = []
    for item in access.get("schedule_items", []):
        begins = add_offset(start, item["starting_at_offset"])
        segments.append(
            SegmentSpec(
                amount=_dec(item["amount"]),
                starting_at=begins,
                ending_before=add_offset(begins, item["duration"]),
            )
        )
    return {
        "product": _product(term["product_id"]),
        "access_schedule": segments,
        "credit_type": _unit(access.get("credit_type_id")),
        "name": term.get("name", ""),
        "description": term.get("description", ""),
        "priority": _dec(term.get("priority")) or Decimal(0),
        "rate_type": term.get("rate_type", Commit.RateType.LIST_RATE),
        "applicable_products": [_product(pk) for pk in term.get("applicable_product_ids", [])],
        "applicable_product_tags": term.get("applicable_product_tags", []),
    }


def _package_items(schedule: dict | None, start: datetime) -> list[InvoiceItemSpec]:
    return [
        InvoiceItemSpec(
            timestamp=add_offset(start, item["date_offset"]),
            unit_price=_dec(item["unit_price"]),
            quantity=_dec(item["quantity"]),
        )
        for item in (schedule or {}).get("schedule_items", [])
    ]


def package_terms_at(package: Package, start: datetime) -> dict:
    """The package's terms as contract term specs, every date placed relative to `start`."""
    terms = package.terms or {}
    commits = [
        CommitSpec(
            **_package_balance(term, start),
            type=term["type"],
            rollover_fraction=_dec(term.get("rollover_fraction")),
            invoice_schedule=_package_items(term.get("invoice_schedule"), start),
        )
        for term in terms.get("commits", [])
    ]
    credits = [CreditSpec(**_package_balance(term, start)) for term in terms.get("credits", [])]
    overrides = []
    for term in terms.get("overrides", []):
        spec = (term.get("override_specifiers") or [{}])[0]
        begins = add_offset(start, term["starting_at_offset"])
        overwrite = term.get("overwrite_rate") or {}
        overrides.append(
            OverrideSpec(
                starting_at=begins,
                ending_before=add_offset(begins, term["duration"])
                if term.get("duration")
                else None,
                type=term.get("type", Override.Type.MULTIPLIER),
                product=_product(spec["product_id"]) if spec.get("product_id") else None,
                applicable_product_tags=spec.get("product_tags", []),
                pricing_group_values=spec.get("pricing_group_values", {}),
                presentation_group_values=spec.get("presentation_group_values", {}),
                multiplier=_dec(term.get("multiplier")),
                overwrite_rate_type=overwrite.get("rate_type", ""),
                overwrite_price=_dec(overwrite.get("price")),
                overwrite_credit_type=_unit(overwrite.get("credit_type_id")),
                overwrite_tiers=[
                    (_dec(t.get("size")), _dec(t["price"])) for t in overwrite.get("tiers", [])
                ],
                tiers=[(_dec(t.get("size")), _dec(t["multiplier"])) for t in term.get("tiers", [])],
                entitled=term.get("entitled"),
                priority=_dec(term.get("priority")),
                is_commit_specific=term.get("is_commit_specific", False),
                target=term.get("target", ""),
            )
        )
    scheduled_charges = [
        ScheduledChargeSpec(
            product=_product(term["product_id"]),
            items=_package_items(term.get("schedule"), start),
            name=term.get("name", ""),
        )
        for term in terms.get("scheduled_charges", [])
    ]
    subscriptions = []
    for term in terms.get("subscriptions", []):
        begins = add_offset(start, term.get("starting_at_offset"))
        subscriptions.append(
            SubscriptionSpec(
                product=_product(term["subscription_rate"]["product_id"]),
                billing_frequency=term["subscription_rate"]["billing_frequency"],
                collection_schedule=term["collection_schedule"],
                is_prorated=(term.get("proration") or {}).get("is_prorated", True),
                initial_quantity=_dec(term.get("initial_quantity")) or Decimal(1),
                starting_at=begins,
                ending_before=add_offset(begins, term["duration"])
                if term.get("duration")
                else None,
                name=term.get("name", ""),
            )
        )
    return {
        "commits": commits,
        "credits": credits,
        "overrides": overrides,
        "scheduled_charges": scheduled_charges,
        "subscriptions": subscriptions,
    }


def contract_create_from_package(
    *,
    customer: Customer,
    package: Package,
    starting_at: datetime,
    now: datetime,
    uniqueness_key: str | None = None,
    custom_fields: dict | None = None,
    created_by: str = "admin",
    transition: TransitionSpec | None = None,
) -> Contract:
    """A contract that copies a package: rate card, schedule and terms, dated from `starting_at`."""
    if package.archived_at is not None:
        raise ValidationError({"package": "This package is archived; new contracts cannot use it."})
    ending_before = None
    if package.duration_unit:
        ending_before = add_offset(
            starting_at, {"unit": package.duration_unit, "value": package.duration_value}
        )
    return contract_create(
        customer=customer,
        rate_card=package.rate_card,
        starting_at=starting_at,
        ending_before=ending_before,
        now=now,
        name=package.contract_name or package.name,
        usage_statement_frequency=package.usage_statement_frequency,
        usage_statement_day=package.usage_statement_day,
        net_payment_terms_days=package.net_payment_terms_days,
        multiplier_override_prioritization=package.multiplier_override_prioritization,
        uniqueness_key=uniqueness_key,
        custom_fields=custom_fields,
        package=package,
        created_by=created_by,
        transition=transition,
        **package_terms_at(package, starting_at),
    )


# --- Customer-level commits and credits; the balance ledger -------------------------------------------


def _contracts_of(customer: Customer, contracts: Sequence[Contract], key: str) -> list[Contract]:
    for index, contract in enumerate(contracts):
        if contract.customer_id != customer.pk:
            raise ValidationError({f"{key}[{index}]": "This contract belongs to another customer."})
    return list(contracts)


@transaction.atomic
def customer_commit_create(
    *,
    customer: Customer,
    spec: CommitSpec,
    now: datetime,
    applicable_contracts: Sequence[Contract] = (),
    invoice_contract: Contract | None = None,
    uniqueness_key: str | None = None,
) -> Commit:
    """A customer-level commit: it applies to `applicable_contracts` (none given: every contract of
    the customer) and is invoiced (purchase or true-up) on `invoice_contract`'s invoices."""
    if customer.archived_at is not None:
        raise ValidationError({"customer": "This customer is archived."})
    applicable = _contracts_of(customer, applicable_contracts, "applicable_contract_ids")
    if invoice_contract is not None:
        _contracts_of(customer, [invoice_contract], "invoice_contract_id")
    errors = {}
    if spec.type == Commit.Type.POSTPAID:
        if invoice_contract is None:
            errors["invoice_contract_id"] = "A postpaid commit needs the contract to invoice it."
        if len(spec.access_schedule) != 1:
            errors["access_schedule.schedule_items"] = (
                "A postpaid commit has exactly one access schedule item."
            )
    elif spec.invoice_schedule and invoice_contract is None:
        errors["invoice_contract_id"] = "An invoiced commit needs the contract to invoice it."
    if errors:
        raise ValidationError(errors)
    commit = _add_commit(
        None,
        spec,
        "",
        customer=customer,
        invoice_contract=invoice_contract,
        uniqueness_key=uniqueness_key or None,
    )
    commit.applicable_contracts.set(applicable)
    if invoice_contract is not None:
        _ensure_drafts(invoice_contract, now)
    return commit


@transaction.atomic
def customer_credit_create(
    *,
    customer: Customer,
    spec: CreditSpec,
    now: datetime,
    applicable_contracts: Sequence[Contract] = (),
    uniqueness_key: str | None = None,
) -> Credit:
    """A customer-level credit, applying to `applicable_contracts` (none given: every contract)."""
    if customer.archived_at is not None:
        raise ValidationError({"customer": "This customer is archived."})
    applicable = _contracts_of(customer, applicable_contracts, "applicable_contract_ids")
    credit = _add_balance(
        Credit, None, spec, "", customer=customer, uniqueness_key=uniqueness_key or None
    )
    credit.applicable_contracts.set(applicable)
    return credit


LEDGER = BalanceLedgerEntry.Type
_DEDUCTION = {
    Commit.Type.PREPAID: LEDGER.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    Commit.Type.POSTPAID: LEDGER.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    "CREDIT": LEDGER.CREDIT_AUTOMATED_INVOICE_DEDUCTION,
}
# What is left of a segment when it ends: expired (prepaid, credit) or trued up (postpaid).
_END = {
    Commit.Type.PREPAID: LEDGER.PREPAID_COMMIT_EXPIRATION,
    Commit.Type.POSTPAID: LEDGER.POSTPAID_COMMIT_TRUEUP,
    "CREDIT": LEDGER.CREDIT_EXPIRATION,
}
_MANUAL = {
    Commit.Type.PREPAID: LEDGER.PREPAID_COMMIT_MANUAL,
    Commit.Type.POSTPAID: LEDGER.POSTPAID_COMMIT_MANUAL,
    "CREDIT": LEDGER.CREDIT_MANUAL,
}
# A voided invoice gives back what it drew (postpaid: Metronome has no CREDITED type).
_CREDITED = {
    LEDGER.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION: LEDGER.PREPAID_COMMIT_CREDITED,
    LEDGER.PREPAID_COMMIT_EXPIRATION: LEDGER.PREPAID_COMMIT_CREDITED,
    LEDGER.CREDIT_AUTOMATED_INVOICE_DEDUCTION: LEDGER.CREDIT_CREDITED,
    LEDGER.CREDIT_EXPIRATION: LEDGER.CREDIT_CREDITED,
    LEDGER.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION: LEDGER.POSTPAID_COMMIT_MANUAL,
    LEDGER.POSTPAID_COMMIT_TRUEUP: LEDGER.POSTPAID_COMMIT_MANUAL,
}


def _draw_field(draw, name: str):
    return draw[name] if isinstance(draw, dict) else getattr(draw, name)


@transaction.atomic
def balance_ledger_record_draws(
    *,
    invoice_id: uuid.UUID | str,
    draws: Sequence,
    now: datetime,
    timestamp: datetime | None = None,
    contract: Contract | None = None,
) -> list[BalanceLedgerEntry]:
    """Write a finalized invoice's balance draws to the ledger (call it inside finalization).

    `draws`: `invoicing.rating.BalanceDraw`s (or dicts with the same keys: balance_id,
    balance_type PREPAID/POSTPAID/CREDIT, segment_id, drawn, remaining, expires). Each draw with
    `drawn` > 0 writes one `*_AUTOMATED_INVOICE_DEDUCTION` of -drawn; each with `expires` and
    `remaining` > 0 writes one `PREPAID_COMMIT_EXPIRATION` / `CREDIT_EXPIRATION` /
    `POSTPAID_COMMIT_TRUEUP` of -remaining, dated at the segment's end. Deductions are dated
    `timestamp` (pass the invoice's period end so the next period's `segment_available` counts
    them; default `now`). Idempotent: entries this invoice already wrote are skipped, so finalizing
    twice never writes twice. Returns the entries written now.
    """
    invoice_id = uuid.UUID(str(invoice_id))
    timestamp = timestamp or now
    draws = list(draws)
    segment_ids = {uuid.UUID(str(_draw_field(d, "segment_id"))) for d in draws}
    segments = AccessSegment.objects.in_bulk(segment_ids)
    done = set(
        BalanceLedgerEntry.objects.filter(invoice_id=invoice_id).values_list("segment_id", "type")
    )
    entries = []
    for draw in draws:
        segment_id = uuid.UUID(str(_draw_field(draw, "segment_id")))
        segment = segments.get(segment_id)
        balance_id = uuid.UUID(str(_draw_field(draw, "balance_id")))
        if segment is None or balance_id not in (segment.commit_id, segment.credit_id):
            raise ValidationError(
                {"draws": f"Segment {segment_id} is not a segment of balance {balance_id}."}
            )
        kind = _draw_field(draw, "balance_type")
        owner = {"credit_id": balance_id} if kind == "CREDIT" else {"commit_id": balance_id}
        drawn = Decimal(_draw_field(draw, "drawn"))
        remaining = Decimal(_draw_field(draw, "remaining"))
        wanted = []
        if drawn > 0:
            wanted.append((_DEDUCTION[kind], -drawn, timestamp))
        if _draw_field(draw, "expires") and remaining > 0:
            wanted.append((_END[kind], -remaining, segment.ending_before))
        for entry_type, amount, when in wanted:
            if (segment_id, entry_type) in done:
                continue
            done.add((segment_id, entry_type))
            entries.append(
                BalanceLedgerEntry(
                    segment=segment,
                    type=entry_type,
                    amount=amount,
                    timestamp=when,
                    invoice_id=invoice_id,
                    contract=contract,
                    **owner,
                )
            )
    # A concurrent finalization of the same invoice loses quietly to the unique constraint.
    BalanceLedgerEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return entries


@transaction.atomic
def balance_ledger_invoice_voided(
    *, invoice_id: uuid.UUID | str, now: datetime
) -> list[BalanceLedgerEntry]:
    """Give back what a voided invoice drew: one `*_CREDITED` entry (postpaid: a manual entry)
    per entry the invoice wrote. Idempotent like `balance_ledger_record_draws`."""
    invoice_id = uuid.UUID(str(invoice_id))
    rows = list(BalanceLedgerEntry.objects.filter(invoice_id=invoice_id))
    done = {(row.segment_id, row.type) for row in rows}
    back: dict[tuple, BalanceLedgerEntry] = {}
    for row in rows:
        if row.type not in _CREDITED:
            continue
        key = (row.segment_id, _CREDITED[row.type])
        if key in done:
            continue
        entry = back.get(key)
        if entry is None:
            entry = back[key] = BalanceLedgerEntry(
                commit_id=row.commit_id,
                credit_id=row.credit_id,
                segment_id=row.segment_id,
                type=key[1],
                amount=Decimal(0),
                timestamp=now,
                invoice_id=invoice_id,
                contract_id=row.contract_id,
                reason="Invoice voided",
            )
        entry.amount -= row.amount
    BalanceLedgerEntry.objects.bulk_create(back.values(), ignore_conflicts=True)
    return list(back.values())


class BalanceKeyInUse(ValidationError):
    """A manual entry's uniqueness_key was already used (the API answers 409)."""


@transaction.atomic
def balance_manual_entry_add(
    *,
    balance_id: uuid.UUID | str,
    segment_id: uuid.UUID | str,
    amount: Decimal,
    reason: str,
    customer: Customer,
    now: datetime,
    timestamp: datetime | None = None,
    contract: Contract | None = None,
    uniqueness_key: str | None = None,
) -> BalanceLedgerEntry:
    """A manual ledger entry on one segment of the customer's commit or credit: positive adds,
    negative draws down. Dated `timestamp`, by default the segment's start (as Metronome does).
    With `contract`, the balance must be that contract's; without, a customer-level one or any of
    the customer's."""
    balance_id = uuid.UUID(str(balance_id))
    segment_id = uuid.UUID(str(segment_id))
    balances = {"customer": customer, "pk": balance_id}
    if contract is not None:
        balances["contract"] = contract
    term = Commit.objects.filter(**balances).first() or Credit.objects.filter(**balances).first()
    if term is None:
        raise ValidationError({"id": f"The customer has no commit or credit {balance_id}."})
    owner = "credit" if isinstance(term, Credit) else "commit"
    segment = AccessSegment.objects.filter(pk=segment_id, **{owner: term}).first()
    if segment is None:
        raise ValidationError({"segment_id": f"Segment {segment_id} is not one of {balance_id}."})
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Give a reason; the ledger shows it."})
    if uniqueness_key and BalanceLedgerEntry.objects.filter(uniqueness_key=uniqueness_key).exists():
        raise BalanceKeyInUse({"uniqueness_key": "was already used for a ledger entry."})
    entry = BalanceLedgerEntry(
        segment=segment,
        type=_MANUAL[term.type],
        amount=Decimal(amount),
        timestamp=timestamp or segment.starting_at,
        contract=term.contract,
        reason=reason,
        uniqueness_key=uniqueness_key or None,
        **{owner: term},
    )
    _clean(entry)
    entry.save()
    return entry
