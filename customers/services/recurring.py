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


def quantity_at(subscription: Subscription, moment: datetime) -> SubscriptionQuantity | None:
    """The subscription's quantity row in effect at `moment` (None before it starts)."""
    return subscription.quantities.filter(starting_at__lte=moment).order_by("-starting_at").first()


def seat_counts(subscription: Subscription) -> list[recurring.SeatCount]:
    """The subscription's seat counts in order, each from the hour it starts (a balance's access
    starts on the hour: seats added at 10:30 count from 11:00)."""
    return [
        recurring.SeatCount(periods.ceil_hour(row.starting_at), row.quantity, tuple(row.seat_ids))
        for row in subscription.quantities.order_by("starting_at")
    ]


def _pricing(term: RecurringBalance) -> recurring.Pricing:
    """The term's amounts for one unit of its quantity (one seat with a subscription)."""
    invoice_unit = (
        None
        if term.invoice_unit_price is None
        else term.invoice_unit_price * (term.invoice_quantity or Decimal(1))
    )
    return recurring.Pricing(
        amount=term.access_unit_price,
        invoice_amount=invoice_unit,
        decimal_places=term.credit_type.decimal_places,
        **{f"{p}_rounding": recurring.Rounding(*r) for p, r in term.proration_rounding().items()},
    )


def planned_grants(
    term: RecurringBalance,
    occurrence: recurring.Occurrence,
    counts: list[recurring.SeatCount],
    *,
    not_before: datetime | None = None,
) -> dict[str, list[recurring.Grant]]:
    """Per seat id ("" for the one balance of a pooled or plain term), what the occurrence's
    balance grants as the term and the subscription's seats now stand; increases dated no
    earlier than `not_before` (the end of what was billed)."""
    pricing = _pricing(term)
    if term.subscription_id is None:
        amount, invoice = pricing.amounts(
            occurrence.fraction, units=term.access_quantity or Decimal(1), invoice_units=Decimal(1)
        )
        grant = recurring.Grant(
            occurrence.starting_at, None, occurrence.fraction, amount, invoice, increase=False
        )
        return {"": [grant]}
    if term.allocation == RecurringBalance.Allocation.INDIVIDUAL:
        grants = recurring.individual_grants(
            occurrence,
            counts,
            pricing,
            prorate_increases=term.prorate_seat_increases,
            not_before=not_before,
        )
        return {seat: [grant] for seat, grant in grants.items()}
    pooled = recurring.pooled_grants(
        occurrence,
        counts,
        pricing,
        prorate_increases=term.prorate_seat_increases,
        not_before=not_before,
    )
    return {"": pooled}


def _invoice_item(
    commit: Commit, grant: recurring.Grant, occurrence: recurring.Occurrence, now: datetime
) -> None:
    """The grant's invoice item: on the period's start, or for an increase on its date, or the
    next hour when that has passed (an invoice already issued for that date never changes)."""
    if grant.invoice_amount is None or grant.invoice_amount <= 0:
        return
    timestamp = (
        max(grant.starting_at, periods.ceil_hour(now)) if grant.increase else grant.starting_at
    )
    CommitInvoiceItem.objects.create(
        commit=commit, timestamp=timestamp, amount=grant.invoice_amount
    )


def _grant_segment(
    balance: Commit | Credit,
    grant: recurring.Grant,
    occurrence: recurring.Occurrence,
    segment: AccessSegment | None = None,
) -> None:
    """The grant's access segment (until the occurrence's end): `segment` changed, or a new one."""
    if segment is None:
        owner = "commit" if isinstance(balance, Commit) else "credit"
        segment = AccessSegment(**{owner: balance})
    segment.amount = grant.amount
    segment.starting_at = grant.starting_at
    segment.ending_before = occurrence.ending_before
    segment.seats = grant.seats
    clean(segment, "recurring")
    segment.save()


def _add_grant(
    balance: Commit | Credit,
    grant: recurring.Grant,
    occurrence: recurring.Occurrence,
    now: datetime,
) -> None:
    _grant_segment(balance, grant, occurrence)
    if isinstance(balance, Commit):
        _invoice_item(balance, grant, occurrence, now)


def _make(
    term: RecurringBalance,
    occurrence: recurring.Occurrence,
    seat_id: str,
    grants: list[recurring.Grant],
    now: datetime,
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
    for grant in grants:
        _add_grant(balance, grant, occurrence, now)
    return balance


def balance_rebuild(
    balance: Commit | Credit,
    grants: list[recurring.Grant],
    occurrence: recurring.Occurrence,
    now: datetime,
) -> None:
    """A balance that has not started made again from its grants: its segments changed in place
    in order of start (their ids and any manual ledger entry kept), those left over deleted,
    those missing added; a commit's invoice items replaced (none was invoiced yet)."""
    segments = list(balance.access_schedule.order_by("starting_at", "amount"))
    ordered = sorted(grants, key=lambda g: (g.starting_at, g.amount))
    for index, grant in enumerate(ordered):
        _grant_segment(
            balance, grant, occurrence, segments[index] if index < len(segments) else None
        )
    for extra in segments[len(ordered) :]:
        extra.delete()
    if isinstance(balance, Commit):
        balance.invoice_schedule.all().delete()
        for grant in ordered:
            _invoice_item(balance, grant, occurrence, now)


def balance_withdraw(balance: Commit | Credit, now: datetime) -> None:
    """A balance whose period (or seat) its term no longer covers: deleted when nothing was
    entered in its ledger (so that a later change makes it again), else archived."""
    balance_event("edit", balance, now)
    if balance.ledger_entries.exists():
        balance.archived_at = now
        balance.save(update_fields=["archived_at"])
    else:
        balance.delete()


def term_occurrences(term: RecurringBalance, now: datetime) -> list[recurring.Occurrence]:
    """The occurrences of a recurring term as it stands (per unit of its quantity), through the
    period after the current one (all of them when both the term and the contract end)."""
    contract = term.contract
    schedule = _schedule(term)
    end = term.ending_before or contract.ending_before
    until = end if end is not None else _horizon(schedule, term.starting_at, now)
    pricing = _pricing(term)
    return recurring.occurrences(
        schedule=schedule,
        starting_at=term.starting_at,
        ending_before=end,
        until=until,
        amount=pricing.amount,
        invoice_amount=pricing.invoice_amount,
        duration_periods=int(term.duration_periods),
        proration=term.proration,
        decimal_places=pricing.decimal_places,
        access_limit=contract.ending_before,
        access_rounding=pricing.access_rounding,
        invoice_rounding=pricing.invoice_rounding,
    )


def _segments_by_balance(model, term: RecurringBalance, billed: datetime | None) -> dict:
    """{balance id: [(starting_at, ending_before, amount, seats), ...]} of the term's balances
    usable after `billed` (those of the periods not yet billed among them)."""
    owner = "commit" if model is Commit else "credit"
    rows = AccessSegment.objects.filter(**{f"{owner}__recurring": term})
    if billed is not None:
        rows = rows.filter(ending_before__gt=billed)
    found: dict = {}
    for row in rows.values_list(owner, "starting_at", "ending_before", "amount", "seats"):
        found.setdefault(row[0], []).append(row[1:])
    return found


def _as_segments(grants: list[recurring.Grant], occurrence: recurring.Occurrence) -> list:
    return sorted((g.starting_at, occurrence.ending_before, g.amount, g.seats) for g in grants)


def _pool_increases(
    term: RecurringBalance,
    occurrence: recurring.Occurrence,
    counts: list[recurring.SeatCount],
    stored,
    billed: datetime | None,
) -> list[recurring.Grant]:
    """The seats a started pool gains: those above the seats its segments (`stored` rows ending
    with their seats) were granted for."""
    covered = sum((seats for *_, seats in stored if seats is not None), Decimal(0))
    return recurring.pooled_grants(
        occurrence,
        counts,
        _pricing(term),
        prorate_increases=term.prorate_seat_increases,
        covered=covered,
        not_before=billed,
    )


def _follow_seats(
    term: RecurringBalance,
    occurrence: recurring.Occurrence,
    counts: list[recurring.SeatCount],
    planned: dict[str, list[recurring.Grant]],
    balances: dict,
    segments: dict,
    now: datetime,
) -> list:
    """The balances made for the occurrence's period ({seat id: balance}) follow the seats
    (`planned`: what `planned_grants` says now). Not started: made again when their grants
    changed, withdrawn when their seat left before the period began. Started: a pooled one
    gains the seats added since (and never loses any); a seat's own one stays as it is.
    Returns those changed."""
    billed = term.contract.billed_through
    model = Commit if term.kind == RecurringBalance.Kind.COMMIT else Credit
    changed = []
    for seat_id, balance in balances.items():
        if balance.archived_at is not None:
            continue
        stored = sorted(segments.get(balance.pk, []))
        if all(start > now for start, *_ in stored):
            if seat_id not in planned:
                balance_withdraw(balance, now)
            elif _as_segments(planned[seat_id], occurrence) != stored:
                locked = model.objects.select_for_update().get(pk=balance.pk)
                balance_rebuild(locked, planned[seat_id], occurrence, now)
                changed.append(locked)
        elif (
            not seat_id
            and term.allocation == RecurringBalance.Allocation.POOLED
            and _pool_increases(term, occurrence, counts, stored, billed)
        ):
            # Counted again under the balance's lock: a concurrent run may have granted them.
            locked = model.objects.select_for_update().get(pk=balance.pk)
            held = locked.access_schedule.values_list("starting_at", "seats")
            for grant in _pool_increases(term, occurrence, counts, held, billed):
                _add_grant(locked, grant, occurrence, now)
            changed.append(locked)
    return changed


@transaction.atomic
def recurring_balances_materialize(*, contract: Contract, now: datetime) -> list:
    """Make the missing commits and credits of the contract's recurring terms, through the
    period after the current one (all of them when both the term and the contract end), and
    make those of a term with a subscription follow its seats (`_follow_seats`) in every
    period not yet billed. Idempotent: each (term, period, seat) is made once, and seats are
    granted once. Returns the balances made."""
    made = []
    for term in contract.recurring_balances.filter(archived_at__isnull=True).select_related(
        "subscription", "product", "credit_type", "contract"
    ):
        model = Commit if term.kind == RecurringBalance.Kind.COMMIT else Credit
        existing: dict = {}
        for balance in model.objects.filter(recurring=term).only(
            "id", "recurrence_start", "seat_id", "customer_id", "contract_id", "archived_at"
        ):
            existing.setdefault(balance.recurrence_start, {})[balance.seat_id] = balance
        counts = [] if term.subscription is None else seat_counts(term.subscription)
        segments = None
        billed = contract.billed_through
        for occurrence in term_occurrences(term, now):
            period = existing.get(occurrence.period_start, {})
            followed = term.subscription is not None and (
                billed is None or occurrence.window_end > billed
            )
            planned = planned_grants(term, occurrence, counts, not_before=billed)
            if followed and period:
                if segments is None:
                    segments = _segments_by_balance(model, term, billed)
                for balance in _follow_seats(
                    term, occurrence, counts, planned, period, segments, now
                ):
                    balance_event("edit", balance, now)
            for seat_id, grants in planned.items():
                if seat_id in period:
                    continue
                balance = _make(term, occurrence, seat_id, grants, now)
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
