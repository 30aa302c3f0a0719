"""Changing a commit or credit after it was made: the edit specs, one balance edited (v2
commits/edit and credits/edit, and contract edits' update_commits / update_credits), and ending
one earlier (customerCommits/updateEndDate, customerCredits/updateEndDate). Invoicing hears each
change as `commit.edit` / `credit.edit` and makes the drafts follow; finalized invoices never
change, so what they drew cannot be edited away."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Product

from ..models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    CommitInvoiceItem,
    Contract,
    ContractEdit,
    Credit,
)
from .common import clean
from .events import balance_event, contract_event
from .terms import InvoiceItemSpec, SegmentSpec

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


def live_term(manager, pk: uuid.UUID, where: str):
    """A term of a contract by id, refusing an unknown or archived one."""
    term = manager.filter(pk=pk).first()
    if term is None:
        raise ValidationError({where: f"This contract has no such term ({pk})."})
    if term.archived_at is not None:
        raise ValidationError({where: "This term is archived; it cannot be changed."})
    return term


def _invoiced_draws(segment: AccessSegment) -> bool:
    return segment.ledger_entries.filter(invoice_id__isnull=False).exists()


def edit_schedule(rows, model, owner: dict, changes: ScheduleChanges, where: str) -> None:
    """Apply add/remove/update to the rows of one schedule (segments or invoice items). A segment
    a finalized invoice drew from is not removed (its ledger would go with it)."""
    for index, pk in enumerate(changes.remove):
        row = rows.filter(pk=pk).first()
        if row is None:
            raise ValidationError({f"{where}.remove_schedule_items[{index}].id": "No such item."})
        if isinstance(row, AccessSegment) and _invoiced_draws(row):
            raise ValidationError(
                {
                    f"{where}.remove_schedule_items[{index}].id": "A finalized invoice drew from "
                    "this segment; void that invoice first or end the segment earlier."
                }
            )
        row.delete()
    for index, values in enumerate(changes.update):
        row = rows.filter(pk=values["id"]).first()
        prefix = f"{where}.update_schedule_items[{index}]"
        if row is None:
            raise ValidationError({f"{prefix}.id": "No such item."})
        for key, value in values.items():
            if key != "id":
                setattr(row, key, value)
        clean(row, prefix)
        row.save()
    for index, spec in enumerate(changes.add):
        row = model(**owner, **spec.__dict__)
        clean(row, f"{where}.add_schedule_items[{index}]")
        row.save()


def balance_apply_update(term: Commit | Credit, update: BalanceUpdate, where: str, now) -> None:
    """Apply one `BalanceUpdate` to a commit or credit (inside the caller's transaction) and
    record `commit.edit` / `credit.edit`."""
    owner = "credit" if isinstance(term, Credit) else "commit"
    for key, value in update.fields.items():
        setattr(term, key, value)
    clean(term, where, exclude=["product"])
    term.save()
    if update.applicable_products is not None:
        term.applicable_products.set(update.applicable_products)
    if term.specifiers and term.applicable_products.exists():
        raise ValidationError(
            {
                f"{where}.specifiers" if where else "specifiers": "Cannot be used with "
                "applicable_product_ids; clear them (null) or put the products in the specifiers."
            }
        )
    if update.access_schedule is not None:
        edit_schedule(
            term.access_schedule,
            AccessSegment,
            {owner: term},
            update.access_schedule,
            f"{where}.access_schedule",
        )
        if not term.access_schedule.exists():
            raise ValidationError({f"{where}.access_schedule": "Give at least one access segment."})
    if update.invoice_schedule is not None:
        if owner == "credit":
            raise ValidationError({f"{where}.invoice_schedule": "Credits are not invoiced."})
        edit_schedule(
            term.invoice_schedule,
            CommitInvoiceItem,
            {"commit": term},
            update.invoice_schedule,
            f"{where}.invoice_schedule",
        )
    balance_event("edit", term, now)


def _history(term: Commit | Credit, now: datetime, created_by: str) -> None:
    """A contract-level balance's own edit shows in its contract's edit history."""
    if term.contract_id is None:
        return
    key = "update_credits" if isinstance(term, Credit) else "update_commits"
    ContractEdit.objects.create(
        contract=term.contract, created_by=created_by, changes={key: [str(term.pk)]}
    )
    contract_event("contract.edit", term.contract, now, ending_moved=False)


@transaction.atomic
def balance_edit(
    *,
    balance: Commit | Credit,
    update: BalanceUpdate,
    now: datetime,
    applicable_contracts: Sequence[Contract] | None = None,
    invoice_contract=UNCHANGED,
    created_by: str = "admin",
) -> Commit | Credit:
    """Edit one commit or credit (v2 commits/edit, credits/edit). A customer-level balance may
    change the contracts it applies to and (a commit) the contract that invoices it; a
    contract-level one records the edit in its contract's history."""
    if balance.archived_at is not None:
        raise ValidationError("This balance is archived; it cannot be changed.")
    contract_level = balance.contract_id is not None
    if applicable_contracts is not None:
        if contract_level:
            raise ValidationError(
                {"applicable_contract_ids": "Only a customer-level balance applies to contracts."}
            )
        for index, contract in enumerate(applicable_contracts):
            if contract.customer_id != balance.customer_id:
                raise ValidationError(
                    {
                        f"applicable_contract_ids[{index}]": "This contract belongs to another customer."
                    }
                )
        balance.applicable_contracts.set(applicable_contracts)
    if invoice_contract is not UNCHANGED:
        if not isinstance(balance, Commit) or contract_level:
            raise ValidationError(
                {"invoice_contract_id": "Only a customer-level commit has an invoicing contract."}
            )
        if invoice_contract is not None and invoice_contract.customer_id != balance.customer_id:
            raise ValidationError(
                {"invoice_contract_id": "This contract belongs to another customer."}
            )
        balance.invoice_contract = invoice_contract
    balance_apply_update(balance, update, "", now)
    _history(balance, now, created_by)
    return balance


@transaction.atomic
def balance_update_end_date(
    *,
    balance: Commit | Credit,
    now: datetime,
    access_ending_before: datetime | None = None,
    invoices_ending_before: datetime | None = None,
    created_by: str = "admin",
) -> Commit | Credit:
    """End a prepaid commit or a credit earlier: access ends at `access_ending_before` (the
    segments after it removed, the one spanning it cut); a commit stops being invoiced at
    `invoices_ending_before` (its schedule items from then removed). Only earlier: a later end
    is an edit (commits/edit). What a finalized invoice already drew or billed stays."""
    if balance.archived_at is not None:
        raise ValidationError("This balance is archived; it cannot be changed.")
    if isinstance(balance, Commit) and balance.type != Commit.Type.PREPAID:
        raise ValidationError({"commit_id": "Only a PREPAID commit's end date can be updated."})
    segments = list(balance.access_schedule.order_by("starting_at"))
    if access_ending_before is not None:
        end = max(segment.ending_before for segment in segments)
        if access_ending_before > end:
            raise ValidationError(
                {
                    "access_ending_before": f"Access ends {end.isoformat()} already; a later end "
                    "is an edit of the commit or credit, not an update of its end date."
                }
            )
        for segment in segments:
            if segment.ending_before <= access_ending_before:
                continue
            billed = segment.ledger_entries.filter(
                type__in=_INVOICE_DEDUCTIONS, timestamp__gt=access_ending_before
            ).first()
            if billed is not None:
                raise ValidationError(
                    {
                        "access_ending_before": "A finalized invoice ending "
                        f"{billed.timestamp.isoformat()} drew from this balance; end it no "
                        "earlier, or void that invoice first."
                    }
                )
            if segment.starting_at >= access_ending_before:
                if _invoiced_draws(segment):
                    raise ValidationError(
                        {
                            "access_ending_before": "A finalized invoice drew from a segment after "
                            "this date; void that invoice first."
                        }
                    )
                segment.delete()
            else:
                segment.ending_before = access_ending_before
                clean(segment, "access_ending_before")
                segment.save(update_fields=["ending_before"])
    if invoices_ending_before is not None:
        if not isinstance(balance, Commit):
            raise ValidationError({"invoices_ending_before": "Credits are not invoiced."})
        late = balance.invoice_schedule.filter(timestamp__gte=invoices_ending_before)
        if late.filter(timestamp__lt=now).exists():
            raise ValidationError(
                {
                    "invoices_ending_before": "A schedule item after this date is already due "
                    "(invoiced); void its invoice first."
                }
            )
        late.delete()
    balance_event("edit", balance, now)
    _history(balance, now, created_by)
    return balance


_INVOICE_DEDUCTIONS = (
    BalanceLedgerEntry.Type.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    BalanceLedgerEntry.Type.CREDIT_AUTOMATED_INVOICE_DEDUCTION,
)
