"""Recurring commits and credits become ordinary commits and credits, one per period
(`customers.recurring` says when and how much); and a subscription's quantity and seats change
over time. Invoicing hears `commit.create` / `credit.create` and `contract.edit`: drafts follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog import money

from .. import periods, recurring
from ..models import (
    AccessSegment,
    Commit,
    CommitInvoiceItem,
    Contract,
    Credit,
    RecurringBalance,
    Subscription,
    SubscriptionQuantity,
)
from .common import clean
from .events import balance_event


def _schedule(term: RecurringBalance) -> periods.Schedule:
    contract = term.contract
    if term.recurrence_frequency:
        return periods.Schedule(
            frequency=term.recurrence_frequency,
            day="CONTRACT_START",
            contract_starting_at=term.starting_at,
            contract_ending_before=term.ending_before,
        )
    return periods.schedule_for(contract)


def _horizon(schedule: periods.Schedule, start: datetime, now: datetime) -> datetime:
    """How far ahead occurrences are made: through the period after the current one."""
    current = periods.full_period_containing(schedule, max(now, start))
    following = periods.full_period_containing(schedule, current.ending_before)
    return following.ending_before


def times_quantity(amount: Decimal, quantity: Decimal) -> Decimal:
    """An occurrence's amount (per unit) times the quantity, kept at storage precision (a
    rounding to 0.01 times a stored 1.000000000000 would otherwise carry 14 places)."""
    return money.round_stored(amount * quantity)


def quantity_at(subscription: Subscription, moment: datetime) -> SubscriptionQuantity | None:
    """The subscription's quantity row in effect at `moment` (None before it starts)."""
    return subscription.quantities.filter(starting_at__lte=moment).order_by("-starting_at").first()


def _make(
    term: RecurringBalance, occurrence, seat_id: str, amount: Decimal, invoice: Decimal | None
):
    model = Commit if term.kind == RecurringBalance.Kind.COMMIT else Credit
    fields = {
        "customer_id": term.contract.customer_id,
        "contract": term.contract,
        "product": term.product,
        "name": term.name,
        "description": term.description,
        "priority": term.priority,
        "rate_type": term.rate_type,
        "access_type": term.access_type,
        "applicable_product_tags": list(term.applicable_product_tags or []),
        "specifiers": list(term.specifiers or []),
        "credit_type": term.credit_type,
        "rollover_fraction": term.rollover_fraction,
        "child_access": term.child_access,
        "recurring": term,
        "recurrence_start": occurrence.period_start,
        "seat_id": seat_id,
    }
    if model is Commit:
        fields["type"] = Commit.Type.PREPAID
    try:
        with transaction.atomic():
            balance = model.objects.create(**fields)
    except IntegrityError:
        return None  # made already (a concurrent run): once per period and seat
    balance.applicable_products.set(term.applicable_products.all())
    owner = "commit" if model is Commit else "credit"
    segment = AccessSegment(
        amount=amount,
        starting_at=occurrence.starting_at,
        ending_before=occurrence.ending_before,
        **{owner: balance},
    )
    clean(segment, "recurring")
    segment.save()
    if model is Commit and invoice is not None and invoice > 0:
        CommitInvoiceItem.objects.create(
            commit=balance, timestamp=occurrence.starting_at, amount=invoice
        )
    return balance


def term_occurrences(term: RecurringBalance, now: datetime) -> list[recurring.Occurrence]:
    """The occurrences of a recurring term as it stands (per unit of its quantity), through the
    period after the current one (all of them when both the term and the contract end)."""
    contract = term.contract
    schedule = _schedule(term)
    end = term.ending_before or contract.ending_before
    until = end if end is not None else _horizon(schedule, term.starting_at, now)
    invoice_unit = (
        None
        if term.invoice_unit_price is None
        else term.invoice_unit_price * (term.invoice_quantity or Decimal(1))
    )
    return recurring.occurrences(
        schedule=schedule,
        starting_at=term.starting_at,
        ending_before=end,
        until=until,
        amount=term.access_unit_price,
        invoice_amount=invoice_unit,
        duration_periods=int(term.duration_periods),
        proration=term.proration,
        decimal_places=term.credit_type.decimal_places,
        access_limit=contract.ending_before,
        **{f"{p}_rounding": recurring.Rounding(*r) for p, r in term.proration_rounding().items()},
    )


@transaction.atomic
def recurring_balances_materialize(*, contract: Contract, now: datetime) -> list:
    """Make the missing commits and credits of the contract's recurring terms, through the
    period after the current one (all of them when both the term and the contract end).
    Idempotent: each (term, period, seat) is made once."""
    made = []
    for term in contract.recurring_balances.filter(archived_at__isnull=True).select_related(
        "subscription", "product", "credit_type", "contract"
    ):
        existing = set(
            (Commit if term.kind == "COMMIT" else Credit)
            .objects.filter(recurring=term)
            .values_list("recurrence_start", "seat_id")
        )
        for occurrence in term_occurrences(term, now):
            seats = seats_and_quantity(term, occurrence.starting_at)
            for seat_id, quantity in seats:
                if (occurrence.period_start, seat_id) in existing:
                    continue
                with_quantity = recurring.Occurrence(
                    period_start=occurrence.period_start,
                    starting_at=occurrence.starting_at,
                    ending_before=occurrence.ending_before,
                    fraction=occurrence.fraction,
                    amount=times_quantity(occurrence.amount, quantity),
                    invoice_amount=occurrence.invoice_amount,
                )
                balance = _make(
                    term, with_quantity, seat_id, with_quantity.amount, with_quantity.invoice_amount
                )
                if balance is not None:
                    made.append(balance)
                    balance_event("create", balance, now)
    return made


def recurring_balances_materialize_all(*, now: datetime) -> int:
    """`recurring_balances_materialize` for every live contract with a live recurring term."""
    contracts = Contract.objects.filter(
        archived_at__isnull=True,
        recurring_balances__archived_at__isnull=True,
    ).distinct()
    return sum(len(recurring_balances_materialize(contract=c, now=now)) for c in contracts)


def seats_and_quantity(term: RecurringBalance, moment: datetime) -> list[tuple[str, Decimal]]:
    """(seat id, quantity) per balance to make at `moment`: one pooled balance of the term's
    quantity (or the subscription's), or one per assigned seat."""
    if term.subscription is None:
        return [("", term.access_quantity or Decimal(1))]
    row = quantity_at(term.subscription, moment)
    if term.allocation == RecurringBalance.Allocation.INDIVIDUAL:
        return [(seat, Decimal(1)) for seat in (row.seat_ids if row else [])]
    return [("", row.quantity if row else Decimal(0))]


# --- Subscription quantities and seats -----------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionUpdate:
    """update_subscriptions: quantity changes (absolute or delta) and seat changes, each from
    its own `starting_at`; an end date."""

    id: str
    quantity_updates: Sequence[dict] = ()
    add_seat_ids: Sequence[dict] = ()
    remove_seat_ids: Sequence[dict] = ()
    add_unassigned_seats: Sequence[dict] = ()
    remove_unassigned_seats: Sequence[dict] = ()
    ending_before: object = field(default=None)
    end_given: bool = False


def _state_at(subscription: Subscription, moment: datetime) -> dict:
    row = quantity_at(subscription, moment)
    if row is None:
        return {"quantity": Decimal(0), "seat_ids": [], "unassigned_seats": Decimal(0)}
    return {
        "quantity": row.quantity,
        "seat_ids": list(row.seat_ids),
        "unassigned_seats": row.unassigned_seats,
    }


def _apply_from(subscription: Subscription, moment: datetime, change, where: str) -> None:
    """Change the quantity state from `moment` on: every row from then is changed the same way,
    and a row starting at `moment` is made if none does."""
    if moment < subscription.starting_at or (
        subscription.ending_before is not None and moment >= subscription.ending_before
    ):
        raise ValidationError({f"{where}.starting_at": "Must be inside the subscription."})
    if not subscription.quantities.filter(starting_at=moment).exists():
        state = _state_at(subscription, moment)
        SubscriptionQuantity.objects.create(subscription=subscription, starting_at=moment, **state)
    seat_based = (
        subscription.quantity_management_mode == Subscription.QuantityManagementMode.SEAT_BASED
    )
    for row in subscription.quantities.filter(starting_at__gte=moment):
        change(row)
        if seat_based:
            row.quantity = Decimal(len(row.seat_ids)) + row.unassigned_seats
        clean(row, where)
        row.save()


@transaction.atomic
def subscription_update(
    *, subscription: Subscription, update: SubscriptionUpdate, where: str, now: datetime
) -> Subscription:
    """Apply one `update_subscriptions` entry. QUANTITY_ONLY: `quantity_updates` ({starting_at,
    quantity} or {starting_at, quantity_delta}); SEAT_BASED: seat ids and unassigned seats
    added or removed from a date (the quantity is the seats). Every later state changes too."""
    seat_based = (
        subscription.quantity_management_mode == Subscription.QuantityManagementMode.SEAT_BASED
    )
    if update.quantity_updates and seat_based:
        raise ValidationError(
            {f"{where}.quantity_updates": "A SEAT_BASED subscription's quantity is its seats."}
        )
    if not seat_based and (
        update.add_seat_ids
        or update.remove_seat_ids
        or update.add_unassigned_seats
        or update.remove_unassigned_seats
    ):
        raise ValidationError(
            {f"{where}.seat_updates": "Only a SEAT_BASED subscription has seats."}
        )
    for index, item in enumerate(update.quantity_updates):
        at = f"{where}.quantity_updates[{index}]"
        if item.get("quantity") is not None:
            _apply_from(
                subscription,
                item["starting_at"],
                lambda row, q=item["quantity"]: setattr(row, "quantity", q),
                at,
            )
        elif item.get("quantity_delta") is not None:
            _apply_from(
                subscription,
                item["starting_at"],
                lambda row, d=item["quantity_delta"]: setattr(row, "quantity", row.quantity + d),
                at,
            )
        else:
            raise ValidationError({at: "Give quantity or quantity_delta."})
    for index, item in enumerate(update.add_seat_ids):
        seats = list(item["seat_ids"])
        _apply_from(
            subscription,
            item["starting_at"],
            lambda row, seats=seats: setattr(
                row, "seat_ids", row.seat_ids + [s for s in seats if s not in row.seat_ids]
            ),
            f"{where}.seat_updates.add_seat_ids[{index}]",
        )
    for index, item in enumerate(update.remove_seat_ids):
        seats = set(item["seat_ids"])
        held = set(_state_at(subscription, item["starting_at"])["seat_ids"])
        missing = sorted(seats - held)
        if missing:
            raise ValidationError(
                {
                    f"{where}.seat_updates.remove_seat_ids[{index}].seat_ids": (
                        f"Seat {missing[0]} is not assigned at {item['starting_at']:%Y-%m-%d %H:%M}."
                    )
                }
            )
        _apply_from(
            subscription,
            item["starting_at"],
            lambda row, seats=seats: setattr(
                row, "seat_ids", [s for s in row.seat_ids if s not in seats]
            ),
            f"{where}.seat_updates.remove_seat_ids[{index}]",
        )
    for key, sign in (("add_unassigned_seats", 1), ("remove_unassigned_seats", -1)):
        for index, item in enumerate(getattr(update, key)):
            _apply_from(
                subscription,
                item["starting_at"],
                lambda row, n=item["quantity"] * sign: setattr(
                    row, "unassigned_seats", row.unassigned_seats + n
                ),
                f"{where}.seat_updates.{key}[{index}]",
            )
    if update.end_given:
        subscription.ending_before = update.ending_before
        clean(subscription, where, exclude=["product"])
        subscription.save(update_fields=["ending_before"])
        if update.ending_before is not None:
            subscription.quantities.filter(starting_at__gte=update.ending_before).delete()
    first = subscription.quantities.order_by("starting_at").first()
    if first is not None:
        subscription.initial_quantity = first.quantity
        subscription.save(update_fields=["initial_quantity"])
    return subscription


def subscriptions_update(
    *, contract: Contract, updates: Sequence[SubscriptionUpdate], now: datetime, key: str
) -> list[str]:
    """`update_subscriptions` of a contract edit; returns the ids updated."""
    done = []
    for index, update in enumerate(updates):
        subscription = contract.subscriptions.filter(pk=update.id, archived_at__isnull=True).first()
        if subscription is None:
            raise ValidationError({f"{key}[{index}].subscription_id": "No such subscription."})
        subscription_update(
            subscription=subscription, update=update, where=f"{key}[{index}]", now=now
        )
        done.append(str(subscription.pk))
    return done
