"""Customer-level commits and credits, and the balance ledger (draws written by invoicing at
finalization, given back at void, manual entries)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    Contract,
    Credit,
    Customer,
)
from .common import clean
from .events import balance_event
from .terms import CommitSpec, CreditSpec, add_balance, add_commit

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
    commit = add_commit(
        None,
        spec,
        "",
        customer=customer,
        invoice_contract=invoice_contract,
        uniqueness_key=uniqueness_key or None,
    )
    commit.applicable_contracts.set(applicable)
    balance_event("create", commit, now)
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
    credit = add_balance(
        Credit, None, spec, "", customer=customer, uniqueness_key=uniqueness_key or None
    )
    credit.applicable_contracts.set(applicable)
    balance_event("create", credit, now)
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
    segment_ids = {uuid.UUID(str(_draw_field(d, "segment_id"))) for d in draws}
    entries = balance_ledger_draw_entries(
        invoice_id=invoice_id,
        draws=draws,
        timestamp=timestamp or now,
        contract_id=contract.pk if contract is not None else None,
        segments=AccessSegment.objects.in_bulk(segment_ids),
    )
    return balance_ledger_entries_write(entries=entries)


def balance_ledger_draw_entries(
    *,
    invoice_id: uuid.UUID | str,
    draws: Sequence,
    timestamp: datetime,
    contract_id,
    segments: Mapping,
) -> list[BalanceLedgerEntry]:
    """The (unsaved) entries `balance_ledger_record_draws` writes for one invoice's draws, from
    `segments` ({segment id: AccessSegment}, holding at least the draws' segments): no query, so
    that finalizing a batch writes every invoice's entries with one INSERT
    (`balance_ledger_entries_write`)."""
    invoice_id = uuid.UUID(str(invoice_id))
    made = set()
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
            if (segment_id, entry_type) in made:
                continue
            made.add((segment_id, entry_type))
            entries.append(
                BalanceLedgerEntry(
                    segment_id=segment_id,
                    type=entry_type,
                    amount=amount,
                    timestamp=when,
                    invoice_id=invoice_id,
                    contract_id=contract_id,
                    **owner,
                )
            )
    return entries


def balance_ledger_entries_write(*, entries: Sequence[BalanceLedgerEntry]) -> list:
    """Write invoices' draw entries (`balance_ledger_draw_entries`) in one INSERT, leaving out
    those their invoice wrote already (idempotent). Returns the entries written now."""
    if not entries:
        return []
    done = set(
        BalanceLedgerEntry.objects.filter(
            invoice_id__in={entry.invoice_id for entry in entries}
        ).values_list("invoice_id", "segment_id", "type")
    )
    new = [e for e in entries if (e.invoice_id, e.segment_id, e.type) not in done]
    # A concurrent finalization of the same invoice loses quietly to the unique constraint.
    BalanceLedgerEntry.objects.bulk_create(new, ignore_conflicts=True)
    return new


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


def _seat_shares(
    term: Commit | Credit, segment: AccessSegment, shares: Mapping[str, Decimal], amount: Decimal
) -> list[tuple[Commit | Credit, AccessSegment, Decimal]]:
    """`per_group_amounts`: the amount split among the per-seat balances a recurring term made
    for the same period as `term` (one per seat, keyed by seat id), each on its segment of the
    same window. The shares must add up to the amount."""
    if not term.seat_id or term.recurring_id is None:
        raise ValidationError(
            {
                "per_group_amounts": "Only a per-seat commit or credit (made by a recurring one "
                "of a SEAT_BASED subscription with allocation INDIVIDUAL) has seat groups; "
                "this one has none."
            }
        )
    total = sum(shares.values(), Decimal(0))
    if total != amount:
        raise ValidationError(
            {"per_group_amounts": f"The amounts add up to {total}, not the amount {amount}."}
        )
    siblings = {
        b.seat_id: b
        for b in type(term).objects.filter(
            recurring_id=term.recurring_id,
            recurrence_start=term.recurrence_start,
            archived_at__isnull=True,
        )
    }
    found = []
    for seat, share in shares.items():
        balance = siblings.get(seat)
        window = (
            None
            if balance is None
            else balance.access_schedule.filter(
                starting_at=segment.starting_at, ending_before=segment.ending_before
            ).first()
        )
        if window is None:
            raise ValidationError(
                {f"per_group_amounts.{seat}": f"Seat {seat} has no balance in this period."}
            )
        found.append((balance, window, share))
    return found


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
    per_group_amounts: Mapping[str, Decimal] | None = None,
) -> BalanceLedgerEntry:
    """A manual ledger entry on one segment of the customer's commit or credit: positive adds,
    negative draws down. Dated `timestamp`, by default the segment's start (as Metronome does).
    With `contract`, the balance must be that contract's; without, a customer-level one or any of
    the customer's. With `per_group_amounts` (seat id: amount), one entry per seat on the
    per-seat balances of the same period (`_seat_shares`), all or none; the first is returned and
    holds the uniqueness key."""
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
    parts = (
        _seat_shares(term, segment, per_group_amounts, Decimal(amount))
        if per_group_amounts
        else [(term, segment, Decimal(amount))]
    )
    entries = []
    for balance, window, share in parts:
        entry = BalanceLedgerEntry(
            segment=window,
            type=_MANUAL[balance.type],
            amount=share,
            timestamp=timestamp or window.starting_at,
            contract=balance.contract,
            reason=reason,
            uniqueness_key=(uniqueness_key or None) if not entries else None,
            **{owner: balance},
        )
        clean(entry)
        entries.append(entry)
    with transaction.atomic():
        for entry in entries:
            entry.save()
        # The balance changed: heard above (threshold alerts re-evaluate, `commit.edit` webhooks).
        for balance, _, _ in parts:
            balance_event("edit", balance, now)
    return entries[0]
