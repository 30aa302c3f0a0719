"""A v2 edit's changes to recurring commits and credits and to discounts.

- `update_recurring_commits` / `update_recurring_credits` (Metronome: "only affect commits whose
  access schedules has not started"): the template changes (amounts, end, rate type) and every
  commit or credit it made whose access has not started yet is made again from it: its amount,
  its window and its invoice follow, and one whose period no longer lies before the new end is
  withdrawn (deleted, or archived when its ledger has an entry). Started and expired ones stay as they are; periods the new end adds are made by
  `recurring_balances_materialize` when the edit ends.
- `update_discounts`: the name, the custom fields, and the schedule (dated items or a
  `recurring_schedule`), which replaces the items from the end of the contract's last finalized
  usage invoice on; items inside a finalized period stay, so a finalized invoice never changes.

Each returns what it changed as JSON for the edit history; the caller records `contract.edit`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError

from ..models import (
    Commit,
    Contract,
    Credit,
    Discount,
    DiscountItem,
    RecurringBalance,
)
from .balance_edits import UNCHANGED, live_term
from .common import clean
from .events import balance_event
from .recurring import (
    balance_rebuild,
    balance_withdraw,
    planned_grants,
    seat_counts,
    term_occurrences,
)
from .terms import InvoiceItemSpec, RecurringScheduleSpec, _add_schedule_items, _with_recurrence


@dataclass(frozen=True)
class RecurringUpdate:
    """One `update_recurring_commits[]` / `update_recurring_credits[]` entry; UNCHANGED where
    the request left a value out."""

    id: uuid.UUID
    access_unit_price: object = UNCHANGED
    access_quantity: object = UNCHANGED
    invoice_unit_price: object = UNCHANGED
    invoice_quantity: object = UNCHANGED
    ending_before: object = UNCHANGED
    rate_type: object = UNCHANGED
    # {"access"|"invoice": (places, method) or None (cleared)} for the entries given.
    proration_rounding: object = UNCHANGED


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _history(term: RecurringBalance, update: RecurringUpdate) -> dict:
    """What the edit changed, as the edit history shows it (numbers as strings)."""
    data: dict = {"id": str(term.pk)}
    access = {
        k: str(v)
        for k, v in (
            ("unit_price", update.access_unit_price),
            ("quantity", update.access_quantity),
        )
        if v is not UNCHANGED
    }
    if access:
        data["access_amount"] = access
    invoice = {
        k: str(v)
        for k, v in (
            ("unit_price", update.invoice_unit_price),
            ("quantity", update.invoice_quantity),
        )
        if v is not UNCHANGED
    }
    if invoice:
        data["invoice_amount"] = invoice
    if update.ending_before is not UNCHANGED:
        data["ending_before"] = _stamp(update.ending_before)
    if update.rate_type is not UNCHANGED:
        data["rate_type"] = update.rate_type
    if update.proration_rounding is not UNCHANGED:
        data["proration_rounding"] = {
            prefix: None
            if given is None
            else {"decimal_places": given[0], "rounding_method": given[1]}
            for prefix, given in update.proration_rounding.items()
        }
    return data


def _apply_template(term: RecurringBalance, update: RecurringUpdate, where: str) -> None:
    if update.access_quantity is not UNCHANGED and term.subscription_id:
        raise ValidationError(
            {
                f"{where}.access_amount.quantity": "This recurring term takes its quantity from "
                "its subscription; change the subscription's quantity instead."
            }
        )
    if (
        term.invoice_unit_price is None
        and update.invoice_unit_price is UNCHANGED
        and update.invoice_quantity is not UNCHANGED
    ):
        raise ValidationError(
            {
                f"{where}.invoice_amount.unit_price": "This commit is not invoiced; give a unit "
                "price to invoice it."
            }
        )
    for name in (
        "access_unit_price",
        "access_quantity",
        "invoice_unit_price",
        "invoice_quantity",
        "ending_before",
        "rate_type",
    ):
        value = getattr(update, name)
        if value is not UNCHANGED:
            setattr(term, name, value)
    if update.proration_rounding is not UNCHANGED:
        for prefix, given in update.proration_rounding.items():
            places, method = given or (None, "")
            setattr(term, f"{prefix}_rounding_places", places)
            setattr(term, f"{prefix}_rounding_method", method)
    clean(term, where, exclude=["product"])
    term.save()


def _remake(balance: Commit | Credit, occurrence, term: RecurringBalance, now: datetime) -> None:
    """A not yet started balance made again from its term's occurrence of the same period (and
    the subscription's seats, for one attached to a subscription); withdrawn when its seat is
    no longer granted one."""
    counts = [] if term.subscription is None else seat_counts(term.subscription)
    planned = planned_grants(term, occurrence, counts, not_before=term.contract.billed_through)
    if balance.seat_id not in planned:
        balance_withdraw(balance, now)
        return
    balance_rebuild(balance, planned[balance.seat_id], occurrence, now)
    balance.rate_type = term.rate_type
    balance.save(update_fields=["rate_type"])
    balance_event("edit", balance, now)


def recurring_balance_follow(*, term: RecurringBalance, now: datetime) -> None:
    """The commits or credits `term` made that have not started, made again from it as it now
    stands (after an edit here or on the term's admin page); started ones never change."""
    model = Commit if term.kind == RecurringBalance.Kind.COMMIT else Credit
    by_period = {o.period_start: o for o in term_occurrences(term, now)}
    pending = (
        model.objects.filter(recurring=term, archived_at__isnull=True)
        .exclude(access_schedule__starting_at__lte=now)
        .select_related("contract")
    )
    for balance in pending:
        occurrence = by_period.get(balance.recurrence_start)
        if occurrence is None or occurrence.starting_at <= now:
            balance_withdraw(balance, now)
        else:
            _remake(balance, occurrence, term, now)


def recurring_balances_update(
    *,
    contract: Contract,
    kind: str,
    updates: Sequence[RecurringUpdate],
    key: str,
    now: datetime,
) -> list[dict]:
    """Apply `update_recurring_commits` (kind COMMIT) or `update_recurring_credits` (CREDIT)."""
    done = []
    noun = "recurring commit" if kind == RecurringBalance.Kind.COMMIT else "recurring credit"
    for index, update in enumerate(updates):
        where = f"{key}[{index}]"
        id_field = f"{where}.{noun.replace(' ', '_')}_id"
        term = contract.recurring_balances.filter(pk=update.id, kind=kind).first()
        if term is None:
            raise ValidationError({id_field: f"This contract has no such {noun} ({update.id})."})
        if term.archived_at is not None:
            raise ValidationError({id_field: f"This {noun} is archived; it cannot be changed."})
        _apply_template(term, update, where)
        recurring_balance_follow(term=term, now=now)
        done.append(_history(term, update))
    return done


# --- Discounts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscountUpdate:
    """One `update_discounts[]` entry: `items`/`recurring` replace the schedule when
    `schedule_given`."""

    id: uuid.UUID
    name: object = UNCHANGED
    custom_fields: object = UNCHANGED
    schedule_given: bool = False
    items: Sequence[InvoiceItemSpec] = field(default_factory=tuple)
    recurring: RecurringScheduleSpec | None = None


def _item_json(item: DiscountItem) -> dict:
    data = {"timestamp": _stamp(item.timestamp), "amount": str(item.total)}
    if item.unit_price is not None:
        data["unit_price"] = str(item.unit_price)
        data["quantity"] = str(item.quantity)
    return data


def _replace_schedule(
    contract: Contract, discount: Discount, update: DiscountUpdate, where: str
) -> None:
    places = contract.rate_card.fiat_credit_type.decimal_places
    items = _with_recurrence(update.items, update.recurring, places)
    if not items:
        raise ValidationError({f"{where}.schedule.schedule_items": "Give at least one date."})
    billed = contract.billed_through
    if billed is not None:
        for index, item in enumerate(items):
            if item.timestamp < billed:
                raise ValidationError(
                    {
                        f"{where}.schedule.schedule_items[{index}].timestamp": "Falls in a "
                        f"finalized billing period (billed through {billed:%Y-%m-%d %H:%M} UTC); "
                        "finalized invoices never change."
                    }
                )
    kept = discount.schedule_items.all()
    if billed is not None:
        kept = kept.filter(timestamp__gte=billed)
    kept.delete()
    _add_schedule_items(DiscountItem, items, f"{where}.schedule.schedule_items", discount=discount)


def discounts_update(
    *, contract: Contract, updates: Sequence[DiscountUpdate], key: str
) -> list[dict]:
    """Apply `update_discounts`; returns each discount's changes for the edit history."""
    done = []
    for index, update in enumerate(updates):
        where = f"{key}[{index}]"
        discount = live_term(contract.discounts, update.id, f"{where}.id")
        record: dict = {"id": str(discount.pk)}
        if update.name is not UNCHANGED:
            discount.name = update.name or ""
            record["name"] = discount.name
        if update.custom_fields is not UNCHANGED:
            discount.custom_fields = dict(update.custom_fields)
            record["custom_fields"] = discount.custom_fields
        clean(discount, where, exclude=["product"])
        discount.save()
        if update.schedule_given:
            _replace_schedule(contract, discount, update, where)
            record["schedule"] = {
                "credit_type_id": str(contract.rate_card.fiat_credit_type_id),
                "schedule_items": [_item_json(i) for i in discount.schedule_items.all()],
            }
            if update.recurring is not None:
                r = update.recurring
                record["schedule"]["recurring_schedule"] = {
                    "amount_distribution": r.amount_distribution,
                    "starting_at": _stamp(r.starting_at),
                    "ending_before": _stamp(r.ending_before),
                    "frequency": r.frequency,
                    **{
                        k: str(v)
                        for k, v in (
                            ("amount", r.amount),
                            ("unit_price", r.unit_price),
                            ("quantity", r.quantity),
                        )
                        if v is not None
                    },
                }
        done.append(record)
    return done
