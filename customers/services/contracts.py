"""Contracts: create (with terms, or following another), renew, move the end, archive, edit in place
(v2 edit). Invoicing hears each change through the outbox (`contract.create`, `contract.edit`,
`contract.archive`, `commit.*`, `credit.*`) and makes the drafts follow."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from catalog.models import Package, RateCard

from ..models import (
    BillingProviderConfiguration,
    Commit,
    Contract,
    ContractEdit,
    ContractTransition,
    Credit,
    Customer,
    RevenueSystemConfiguration,
    ScheduledChargeItem,
)
from .balance_edits import (
    UNCHANGED,
    BalanceUpdate,
    ScheduledChargeUpdate,
    balance_apply_update,
    edit_schedule,
    live_term,
)
from .common import clean
from .configurations import (
    ConfigurationChangeSpec,
    configuration_changes_build,
    configuration_changes_edit_keys,
)
from .events import balance_event, contract_event
from .gates import MANUAL_GATE, payment_gate_open
from .hierarchy import HierarchySpec, contract_hierarchy_apply
from .recurring import (
    SubscriptionUpdate,
    recurring_balances_materialize,
    subscriptions_update,
)
from .royalties import reseller_royalties_add
from .term_edits import (
    DiscountUpdate,
    RecurringUpdate,
    discounts_update,
    recurring_balances_update,
)
from .terms import (
    AddedTerms,
    CommitSpec,
    CreditSpec,
    DiscountSpec,
    OverrideSpec,
    ProfessionalServiceSpec,
    RecurringSpec,
    ScheduledChargeSpec,
    SubscriptionSpec,
    add_terms,
    usage_filter_add,
)
from .transitions import TransitionSpec, billed_after, transition_make, transition_source


def contract_drafts_refresh(*, contract: Contract, now: datetime) -> None:
    """After the contract or its terms were edited outside these services (the admin's inline
    rows): its drafts follow, as after a v2 edit (a new or moved scheduled date gets its
    SCHEDULED draft, a date no longer scheduled loses its draft): a `contract.edit` event."""
    with transaction.atomic():
        contract_event("contract.edit", contract, now, ending_moved=False)


def balance_drafts_refresh(*, balance: Commit | Credit, now: datetime) -> None:
    """After a commit or credit was edited on its own page: the drafts of the contract it belongs
    to and of the contract that invoices it (a customer-level commit's `invoice_contract`)
    follow: a `commit.edit` or `credit.edit` event."""
    with transaction.atomic():
        balance_event("edit", balance, now)


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
    billing_anchor_date: datetime | None = None,
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
    usage_filter: dict | None = None,
    discounts: Sequence[DiscountSpec] = (),
    professional_services: Sequence[ProfessionalServiceSpec] = (),
    recurring_commits: Sequence[RecurringSpec] = (),
    recurring_credits: Sequence[RecurringSpec] = (),
    prepaid_balance_threshold_configuration: dict | None = None,
    spend_threshold_configuration: dict | None = None,
    billing_provider_configuration: BillingProviderConfiguration | None = None,
    reseller_royalties: Sequence[dict] = (),
    revenue_system_configuration: RevenueSystemConfiguration | None = None,
    hierarchy: HierarchySpec | None = None,
) -> Contract:
    """A contract with its terms, and the draft invoice of its current period. With
    `transition`, it follows an earlier contract of the customer (see `transition_make`). With
    `hierarchy`, it is a child of a parent contract and/or sets its parent behavior."""
    if customer.archived_at is not None:
        raise ValidationError(
            {"customer": "This customer is archived; it cannot get new contracts."}
        )
    source = None
    if transition is not None:
        source = transition_source(
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
        billing_anchor_date=billing_anchor_date,
        net_payment_terms_days=net_payment_terms_days,
        multiplier_override_prioritization=multiplier_override_prioritization,
        scheduled_charges_on_usage_invoices=scheduled_charges_on_usage_invoices,
        uniqueness_key=uniqueness_key or None,
        custom_fields=custom_fields or {},
        created_by=created_by,
        prepaid_balance_threshold_configuration=prepaid_balance_threshold_configuration,
        spend_threshold_configuration=spend_threshold_configuration,
        billing_provider_configuration=billing_provider_configuration,
        revenue_system_configuration=revenue_system_configuration,
        billing_provider=(
            billing_provider_configuration.billing_provider
            if billing_provider_configuration is not None
            else ""
        ),
    )
    if hierarchy is not None:
        contract_hierarchy_apply(contract, hierarchy)
    clean(contract)
    contract.save()
    added = add_terms(
        contract,
        commits=commits,
        credits=credits,
        overrides=overrides,
        scheduled_charges=scheduled_charges,
        subscriptions=subscriptions,
        discounts=discounts,
        professional_services=professional_services,
        recurring_commits=recurring_commits,
        recurring_credits=recurring_credits,
    )
    recurring_balances_materialize(contract=contract, now=now)
    reseller_royalties_add(
        contract=contract, royalties=reseller_royalties, default_start=starting_at
    )
    if usage_filter:
        usage_filter_add(
            contract,
            group_key=usage_filter["group_key"],
            group_values=usage_filter["group_values"],
            starting_at=usage_filter.get("starting_at") or starting_at,
            where="usage_filter",
        )
    for term in (*added.commits, *added.credits):
        balance_event("create", term, now)
    if source is not None:
        transition_make(source=source, contract=contract, spec=transition, now=now)
    contract_event(
        "contract.create",
        contract,
        now,
        transition_from_contract_id=str(source.pk) if source is not None else None,
    )
    return contract


def contract_open(contract: Contract) -> None:
    if contract.archived_at is not None:
        raise ValidationError("This contract is archived; it cannot be changed.")


def end_before_successor(contract: Contract, ending_before: datetime | None) -> None:
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
        billing_anchor_date=contract.billing_anchor_date,
        net_payment_terms_days=contract.net_payment_terms_days,
        multiplier_override_prioritization=contract.multiplier_override_prioritization,
        scheduled_charges_on_usage_invoices=contract.scheduled_charges_on_usage_invoices,
        created_by=created_by,
        transition=TransitionSpec(from_contract_id=contract.pk),
    )


def _end_allowed(contract: Contract, ending_before: datetime | None) -> None:
    """A new end: by the start of a following contract, and not before what was billed."""
    end_before_successor(contract, ending_before)
    billed = billed_after(contract, ending_before)
    if billed is not None:
        raise ValidationError(
            {
                "ending_before": f"This contract has a finalized invoice ending "
                f"{billed.isoformat()}, after {ending_before.isoformat()}; void it first."
            }
        )


@transaction.atomic
def contract_update_end_date(
    *, contract: Contract, ending_before: datetime | None, now: datetime
) -> Contract:
    """Move the contract's end; its drafts follow (those after an earlier end removed, the one
    spanning it cut; a later or removed end gets the missing drafts)."""
    contract_open(contract)
    _end_allowed(contract, ending_before)
    contract.ending_before = ending_before
    clean(contract)
    contract.save(update_fields=["ending_before"])
    contract_event("contract.edit", contract, now, ending_moved=True)
    return contract


@transaction.atomic
def contract_archive(*, contract: Contract, void_invoices: bool, now: datetime) -> Contract:
    """Archive: drafts are cancelled; finalized invoices are voided only with void_invoices
    (by invoicing, hearing `contract.archive`)."""
    if contract.archived_at is not None:
        raise ValidationError("This contract is already archived.")
    contract.archived_at = now
    contract.save(update_fields=["archived_at"])
    contract_event("contract.archive", contract, now, void_invoices=void_invoices)
    return contract


def _update_scheduled_charge(contract: Contract, update: ScheduledChargeUpdate, where: str) -> None:
    charge = live_term(contract.scheduled_charges, update.id, f"{where}.scheduled_charge_id")
    edit_schedule(
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
    add_discounts: Sequence[DiscountSpec] = (),
    add_professional_services: Sequence[ProfessionalServiceSpec] = (),
    add_recurring_commits: Sequence[RecurringSpec] = (),
    add_recurring_credits: Sequence[RecurringSpec] = (),
    update_subscriptions: Sequence[SubscriptionUpdate] = (),
    prepaid_balance_threshold_configuration=UNCHANGED,
    spend_threshold_configuration=UNCHANGED,
    add_reseller_royalties: Sequence[dict] = (),
    update_recurring_commits: Sequence[RecurringUpdate] = (),
    update_recurring_credits: Sequence[RecurringUpdate] = (),
    update_discounts: Sequence[DiscountUpdate] = (),
    configuration_changes: Sequence[ConfigurationChangeSpec] = (),
) -> EditResult:
    """Change a contract in place (v2 edit): name, end date, payment terms, and its terms."""
    contract_open(contract)
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
    for name, value in (
        ("prepaid_balance_threshold_configuration", prepaid_balance_threshold_configuration),
        ("spend_threshold_configuration", spend_threshold_configuration),
    ):
        if value is not UNCHANGED:
            setattr(contract, name, value)
            changed_fields.append(name)
    if changed_fields:
        clean(contract)
        contract.save(update_fields=changed_fields)
    added = add_terms(
        contract,
        commits=add_commits,
        credits=add_credits,
        overrides=add_overrides,
        scheduled_charges=add_scheduled_charges,
        subscriptions=add_subscriptions,
        discounts=add_discounts,
        professional_services=add_professional_services,
        recurring_commits=add_recurring_commits,
        recurring_credits=add_recurring_credits,
        names={kind: f"add_{kind}" for kind in AddedTerms.KINDS},
    )
    for spec, commit in zip(add_commits, added.commits, strict=True):
        if spec.payment_gate is not None:
            (segment,) = spec.access_schedule
            payment_gate_open(
                commit=commit,
                kind=MANUAL_GATE,
                gate=spec.payment_gate,
                amount=segment.amount,
                starting_at=segment.starting_at,
                ending_before=segment.ending_before,
                now=now,
            )
    royalties = reseller_royalties_add(
        contract=contract,
        royalties=add_reseller_royalties,
        default_start=contract.starting_at,
        key="add_reseller_royalties",
    )
    updated_subscriptions = subscriptions_update(
        contract=contract, updates=update_subscriptions, now=now, key="update_subscriptions"
    )
    _archive_terms(contract.commits, archive_commits, "archive_commits", now)
    _archive_terms(contract.credits, archive_credits, "archive_credits", now)
    _archive_terms(
        contract.scheduled_charges, archive_scheduled_charges, "archive_scheduled_charges", now
    )
    _archive_terms(contract.overrides, remove_overrides, "remove_overrides", now)
    for index, update in enumerate(update_commits):
        term = live_term(contract.commits, update.id, f"update_commits[{index}].commit_id")
        balance_apply_update(term, update, f"update_commits[{index}]", now)
    for index, update in enumerate(update_credits):
        term = live_term(contract.credits, update.id, f"update_credits[{index}].credit_id")
        balance_apply_update(term, update, f"update_credits[{index}]", now)
    for index, update in enumerate(update_scheduled_charges):
        _update_scheduled_charge(contract, update, f"update_scheduled_charges[{index}]")
    term_changes = {
        "update_recurring_commits": recurring_balances_update(
            contract=contract,
            kind="COMMIT",
            updates=update_recurring_commits,
            key="update_recurring_commits",
            now=now,
        ),
        "update_recurring_credits": recurring_balances_update(
            contract=contract,
            kind="CREDIT",
            updates=update_recurring_credits,
            key="update_recurring_credits",
            now=now,
        ),
        "update_discounts": discounts_update(
            contract=contract, updates=update_discounts, key="update_discounts"
        ),
    }
    dated_changes = configuration_changes_build(
        contract=contract, specs=configuration_changes, now=now
    )
    edit = ContractEdit(
        contract=contract,
        uniqueness_key=uniqueness_key or None,
        created_by=created_by,
        changes={
            "fields": changed_fields,
            **configuration_changes_edit_keys(dated_changes),
            **added.changes(),
            "archive_commits": [str(pk) for pk in archive_commits],
            "archive_credits": [str(pk) for pk in archive_credits],
            "archive_scheduled_charges": [str(pk) for pk in archive_scheduled_charges],
            "remove_overrides": [str(pk) for pk in remove_overrides],
            "update_commits": [str(u.id) for u in update_commits],
            "update_credits": [str(u.id) for u in update_credits],
            "update_scheduled_charges": [str(u.id) for u in update_scheduled_charges],
            "update_subscriptions": updated_subscriptions,
            "add_reseller_royalties": [str(r.pk) for r in royalties],
            **term_changes,
        },
    )
    clean(edit)
    edit.save()
    for change in dated_changes:
        change.edit = edit
        change.save(force_insert=True)
    recurring_balances_materialize(contract=contract, now=now)
    for term in (*added.commits, *added.credits):
        balance_event("create", term, now)
    contract_event("contract.edit", contract, now, ending_moved="ending_before" in changed_fields)
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
        if isinstance(term, Commit | Credit):
            balance_event("edit", term, now)


def contracts_billed_through_extend(*, ends: Mapping) -> None:
    """Invoicing finalized usage invoices ending at `ends` ({contract id: end}): each contract's
    `billed_through` moves forward to its end (never back), in the caller's transaction. One
    UPDATE per distinct end (a batch of a period's invoices shares one)."""
    by_end: dict = {}
    for contract_id, end in ends.items():
        by_end.setdefault(end, []).append(contract_id)
    for end, contract_ids in by_end.items():
        Contract.objects.filter(pk__in=contract_ids).filter(
            Q(billed_through__isnull=True) | Q(billed_through__lt=end)
        ).update(billed_through=end)


def contract_billed_through_set(*, contract_id, billed_through: datetime | None) -> None:
    """Invoicing voided a usage invoice: `billed_through` is the end of the latest one still
    finalized (None if none is), as invoicing computed it."""
    Contract.objects.filter(pk=contract_id).update(billed_through=billed_through)
