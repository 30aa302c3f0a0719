"""Contract transitions (RENEWAL, SUPERSEDE: a contract that follows another) and rollover of
commits and credits into the new contract."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog import money
from catalog.models import is_hour_aligned

from ..models import (
    BalanceLedgerEntry,
    Commit,
    Contract,
    ContractTransition,
    Credit,
    Customer,
)
from ..selectors import ROLLOVER_TYPES, segments_left_at
from .common import clean
from .events import balance_event, contract_event
from .terms import CommitSpec, CreditSpec, SegmentSpec, add_balance, add_commit

# --- Contract transitions and rollover -----------------------------------------------------------------


@dataclass(frozen=True)
class TransitionSpec:
    """`transition` of contract create: the contract the new one follows, and how."""

    from_contract_id: uuid.UUID | str
    type: str = ContractTransition.Type.RENEWAL
    future_invoice_trueup: str = ""


def transition_source(
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
    finalized = billed_after(source, starting_at)
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


def billed_after(contract: Contract, moment: datetime) -> datetime | None:
    """The end of the contract's latest FINALIZED usage invoice if it ends after `moment` (a
    contract cannot end before what it already billed). Invoicing keeps it in
    `Contract.billed_through` as it finalizes and voids; read from the locked row, not from
    `contract` (which may be older than the last finalization)."""
    billed = (
        Contract.objects.select_for_update()
        .filter(pk=contract.pk)
        .values_list("billed_through", flat=True)
        .first()
    )
    return billed if billed is not None and billed > moment else None


def transition_make(
    *, source: Contract, contract: Contract, spec: TransitionSpec, now: datetime
) -> ContractTransition:
    """Record that `contract` follows `source`; `source` ends when `contract` starts (if it ran
    later or had no end: a `contract.edit` of `source`, whose drafts invoicing fits to that end).
    A RENEWAL rolls over once it has started: invoicing does it on hearing `contract.create`
    (`contract_transition_roll_over` needs what the drafts draw), or on its schedule."""
    transition = ContractTransition(
        type=spec.type,
        from_contract=source,
        to_contract=contract,
        future_invoice_trueup=spec.future_invoice_trueup,
    )
    clean(transition, "transition")
    transition.save()
    if source.ending_before is None or source.ending_before > contract.starting_at:
        source.ending_before = contract.starting_at
        clean(source, "transition.from_contract_id")
        source.save(update_fields=["ending_before"])
        contract_event("contract.edit", source, now, ending_moved=True)
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
        "specifiers": list(term.specifiers or ()),
        "rollover_fraction": term.rollover_fraction,
        "access_type": term.access_type,  # a QUANTITY balance rolls its units over
    }
    if isinstance(term, Commit):
        # No invoice schedule: what rolls over was paid (or committed) on the earlier contract.
        return CommitSpec(**fields, type=term.type)
    return CreditSpec(**fields)


DraftDraws = Callable[..., Mapping]


@transaction.atomic
def contract_transition_roll_over(
    *, transition: ContractTransition, now: datetime, draft_draws: DraftDraws
) -> list[Commit | Credit] | None:
    """A RENEWAL's rollover, once it has taken effect (`now` at or after the new contract's
    start; before that, nothing happens yet: see `contract_transitions_roll_over_due`). Returns
    the balances made (maybe none), or None when it did nothing: not due yet, already rolled
    over, or not a renewal.

    For each live commit and credit of the earlier contract with a `rollover_fraction`: what its
    segments not expired at the transition still hold (`selectors.segments_left_at`: the ledger
    minus current drafts' draws, which `draft_draws(balances=..., now=...)` gives: invoicing's
    `draft_balance_draws`, passed in by invoicing, which calls this) leaves it, one `*_ROLLOVER` ledger entry of -left per segment
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
    left = {}
    if sources:
        drawn = draft_draws(balances=sources, now=now)
        left = segments_left_at(balances=sources, at=at, draft_draws=drawn)
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
            made.append(add_commit(contract, spec, "transition", **extra))
        else:
            made.append(add_balance(Credit, contract, spec, "transition", **extra))
    BalanceLedgerEntry.objects.bulk_create(entries)
    locked.rolled_over_at = now
    locked.save(update_fields=["rolled_over_at"])
    for term in made:
        balance_event("create", term, now)
    return made


def contract_transitions_roll_over_due(*, now: datetime, draft_draws: DraftDraws) -> int:
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
        rolled = contract_transition_roll_over(
            transition=transition, now=now, draft_draws=draft_draws
        )
        if rolled is not None:
            count += 1
    return count
