"""Reads of spend trackers: what each has accumulated in a billing period (`customers.spend`
says what counts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, Q

from .. import periods
from ..models import Commit, CommitInvoiceItem, Contract, SpendTracker
from ..spend import MANUAL, Spend, threshold_spends, tracked

THRESHOLD_KINDS = ("PREPAID_BALANCE", "SPEND")


def _quantity(item: CommitInvoiceItem) -> Decimal:
    """What an invoice item bought: a threshold purchase's items are `quantity` units of the
    commit at a unit price (its discount, its custom unit's worth), or its amount."""
    return item.amount if item.unit_price is None else item.quantity


def commit_purchase_spends(
    *, contract: Contract, credit_type_id, starting_at: datetime, ending_before: datetime
) -> list[Spend]:
    """The commit purchases invoiced on the contract in [starting_at, ending_before) in this
    pricing unit (archived commits, a failed gated purchase among them, spent nothing)."""
    items = CommitInvoiceItem.objects.filter(
        timestamp__gte=starting_at, timestamp__lt=ending_before
    )
    commits = (
        Commit.objects.filter(
            Q(contract=contract) | Q(contract__isnull=True, invoice_contract=contract),
            type=Commit.Type.PREPAID,
            archived_at__isnull=True,
            credit_type_id=credit_type_id,
        )
        .filter(invoice_schedule__in=items)
        .distinct()
        .prefetch_related(Prefetch("invoice_schedule", queryset=items, to_attr="due"))
    )
    spends: list[Spend] = []
    for commit in commits:
        if commit.threshold_kind in THRESHOLD_KINDS:
            amount = sum((_quantity(item) for item in commit.due), Decimal(0))
            spends += threshold_spends(
                amount=amount, discounted_amount=commit.threshold_discounted_amount
            )
        else:
            amount = sum((item.total for item in commit.due), Decimal(0))
            spends.append(Spend(MANUAL, bool(commit.counts_as_discounted), amount))
    return spends


def spend_tracker_period(*, contract: Contract, now: datetime) -> periods.BillingPeriod | None:
    """The billing period a tracker (reset each billing period) counts at `now`."""
    return periods.period_containing(periods.schedule_for(contract), now)


def spend_tracker_accumulated(
    *, tracker: SpendTracker, now: datetime
) -> tuple[Decimal, periods.BillingPeriod | None]:
    """What the tracker has accumulated in the billing period containing `now` (zero outside
    the contract's dates), and that period."""
    return spend_trackers_accumulated(contract=tracker.contract, trackers=[tracker], now=now)[
        tracker.pk
    ]


def spend_trackers_accumulated(
    *, contract: Contract, trackers, now: datetime
) -> dict[object, tuple[Decimal, periods.BillingPeriod | None]]:
    """`spend_tracker_accumulated` of several trackers of one contract: the purchases are read
    once per pricing unit."""
    period = spend_tracker_period(contract=contract, now=now)
    spends_by_unit: dict = {}
    result = {}
    for tracker in trackers:
        if period is None or tracker.archived_at is not None:
            result[tracker.pk] = (Decimal(0), period)
            continue
        if tracker.credit_type_id not in spends_by_unit:
            spends_by_unit[tracker.credit_type_id] = commit_purchase_spends(
                contract=contract,
                credit_type_id=tracker.credit_type_id,
                starting_at=period.starting_at,
                ending_before=period.ending_before,
            )
        spends = spends_by_unit[tracker.credit_type_id]
        result[tracker.pk] = (tracked(tracker.applicable_spend_specifiers, spends), period)
    return result


def spend_tracker_live(*, contract: Contract, alias: str) -> SpendTracker | None:
    return SpendTracker.objects.filter(
        contract=contract, alias=alias, archived_at__isnull=True
    ).first()
