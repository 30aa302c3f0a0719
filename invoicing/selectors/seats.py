"""Per-seat balances (seatBalances/list): the commits and credits a recurring term made for each
seat of a SEAT_BASED subscription, what they hold now (net of live drafts' draws)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from customers import selectors as customers_selectors
from customers.models import QUANTITY_CREDIT_TYPE_ID, Commit, Contract, Credit

from .balances import balances_now


@dataclass(frozen=True)
class SeatTotal:
    credit_type_id: str
    balance: Decimal
    starting_balance: Decimal
    access_type: str = "SPEND"


@dataclass
class SeatBalances:
    seat_id: str
    terms: list = field(default_factory=list)  # (Commit | Credit, balance now)
    totals: list[SeatTotal] = field(default_factory=list)

    def ledger(self, term) -> list[dict]:
        return customers_selectors.balance_ledger(balance=term)


def seat_total_key(term) -> tuple[str, str]:
    """(credit type id, access type) a seat's balance counts in: units of QUANTITY balances
    apart from money, under Metronome's null credit type id."""
    if term.access_type == Commit.AccessType.QUANTITY:
        return QUANTITY_CREDIT_TYPE_ID, term.access_type
    return str(term.credit_type_id), term.access_type


def seat_balances(
    *,
    contract: Contract,
    at: datetime,
    now: datetime,
    seat_ids: Sequence[str] | None = None,
    subscription_ids: Sequence | None = None,
) -> list[SeatBalances]:
    """Per seat (by seat id), the per-seat commits and credits of the contract in effect at
    `at`, with their balances now and totals by pricing unit."""
    terms = []
    for model in (Commit, Credit):
        queryset = (
            model.objects.filter(contract=contract, archived_at__isnull=True)
            .exclude(seat_id="")
            .filter(access_schedule__starting_at__lte=at, access_schedule__ending_before__gt=at)
            .prefetch_related("access_schedule")
            .distinct()
        )
        if seat_ids:
            queryset = queryset.filter(seat_id__in=list(seat_ids))
        if subscription_ids:
            queryset = queryset.filter(recurring__subscription_id__in=list(subscription_ids))
        terms.extend(queryset)
    held = balances_now(balances=terms, now=now)
    seats: dict[str, SeatBalances] = {}
    for term in sorted(terms, key=lambda t: (t.seat_id, t.created_at, str(t.pk))):
        seat = seats.setdefault(term.seat_id, SeatBalances(seat_id=term.seat_id))
        seat.terms.append((term, held.get(term.pk, Decimal(0))))
    for seat in seats.values():
        by_unit: dict[tuple[str, str], list] = {}
        for term, balance in seat.terms:
            starting = sum((s.amount for s in term.access_schedule.all()), Decimal(0))
            by_unit.setdefault(seat_total_key(term), []).append((balance, starting))
        seat.totals = [
            SeatTotal(
                credit_type_id=unit,
                access_type=access_type,
                balance=sum((b for b, _ in items), Decimal(0)),
                starting_balance=sum((s for _, s in items), Decimal(0)),
            )
            for (unit, access_type), items in sorted(by_unit.items())
        ]
    return [seats[key] for key in sorted(seats)]
