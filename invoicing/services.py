"""Writes for invoicing: live drafts, finalization, void and regenerate.

A draft stores no lines: it is rated on read from metering's aggregates (see
`selectors.invoice_view`). Finalization is the one moment lines are written: the invoice row is
locked, the transition checked, the period rated, the lines, totals and the rating input snapshot
frozen, and the next number taken from a locked counter row, all in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q

from core import outbox
from core.db import rows_insert
from customers import periods
from customers import services as customers_services
from customers.models import AccessSegment, Contract
from customers.selectors import contracts_revenue_systems_at
from customers.services import (
    balance_ledger_draw_entries,
    balance_ledger_entries_write,
    balance_ledger_invoice_voided,
    contract_billed_through_set,
    contracts_billed_through_extend,
)
from invoicing.consolidation import (
    consolidated_drafts_remove,
    consolidated_frozen,
    consolidated_issued,
    consolidation_sync,
    freeze_order,
    lot_regenerate,
)
from invoicing.events import invoice_event
from invoicing.models import Invoice, InvoiceLineItem, InvoiceNumberSequence
from invoicing.rating import rate_invoice, to_json
from invoicing.selectors import (
    DraftsInOrder,
    RatingPreload,
    contracts_scheduled_dates,
    draft_balance_draws,
    in_draw_order,
    invoice_payers,
    line_items_from,
    rating_input_for,
    with_children_flag,
)

logger = logging.getLogger(__name__)

Status = Invoice.Status

# Which status may follow which. Anything else is refused with a message.
TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.FINALIZED},
    Status.FINALIZED: {Status.VOID},
    Status.VOID: set(),
}

SEQUENCE = "invoice"


class InvoiceStateError(ValidationError):
    """A transition the invoice's status does not allow."""


class _LotWaits(InvoiceStateError):
    """A constituent of consolidated invoice `lot` waits for a draft (`_freeze`'s
    `leave_waiting`): the lot is left drafts, its consolidated invoice and all its
    constituents (the batch is frozen again without them: nothing of theirs rated into the
    ledger)."""

    def __init__(self, message: str, *, lot):
        super().__init__(message)
        self.lot = lot


def _check_transition(invoice: Invoice, target: str) -> None:
    if target not in TRANSITIONS[invoice.status]:
        raise InvoiceStateError(
            f"Invoice {invoice.id} is {invoice.status}; it cannot become {target}."
        )


# --- Drafts ---------------------------------------------------------------------------------------


def _due_periods(contract: Contract, now: datetime) -> list[periods.BillingPeriod]:
    """Every billing period of the contract that has started by `now` (the first one if the
    contract starts later), so a contract created with a past start gets its past drafts too."""
    schedule = periods.schedule_for(contract)
    until = max(now, contract.starting_at) + timedelta(microseconds=1)
    return list(periods.periods_between(schedule, contract.starting_at, until))


def _new_draft(
    contract: Contract, start: datetime, end: datetime, kind: str = Invoice.Type.USAGE
) -> Invoice:
    """An unsaved DRAFT of the contract: a usage invoice of [start, end), or a SCHEDULED one
    dated start = end."""
    return Invoice(
        customer_id=contract.customer_id,
        contract=contract,
        credit_type_id=contract.rate_card.fiat_credit_type_id,
        type=kind,
        status=Status.DRAFT,
        start_timestamp=start,
        end_timestamp=end,
        net_payment_terms_days=contract.net_payment_terms_days,
    )


def _scheduled_drafts_sync(contracts: list[Contract]) -> int:
    """Make each contract's SCHEDULED drafts match its scheduled dates (`contracts_scheduled_dates`):
    a draft for every date, future ones included, that has no invoice yet; drafts whose date has
    no live item any more (the term was archived, the item moved or removed, or the contract puts
    scheduled items on its usage invoices) are deleted. A draft stores no lines, so an edited
    amount shows on its next read. Finalized and void invoices are never touched, and a date
    with a void invoice only gets a new draft through `invoice_regenerate`. Returns how many
    drafts were created."""
    dates = contracts_scheduled_dates(contracts=contracts)
    existing = list(
        Invoice.objects.filter(
            contract_id__in=[c.pk for c in contracts], type=Invoice.Type.SCHEDULED
        ).values_list("id", "contract_id", "start_timestamp", "status")
    )
    stale = [
        pk
        for pk, contract_id, moment, status in existing
        if status == Status.DRAFT and moment not in dates.get(contract_id, ())
    ]
    if stale:
        with transaction.atomic():
            # Locked and checked again: a draft a worker finalized meanwhile stays (a plain
            # queryset delete would collect the rows first and delete them by id).
            still_drafts = list(
                Invoice.objects.select_for_update()
                .filter(pk__in=stale, status=Status.DRAFT)
                .values_list("pk", flat=True)
            )
            Invoice.objects.filter(pk__in=still_drafts).delete()
    taken = {(contract_id, moment) for _, contract_id, moment, _ in existing}
    missing = [
        _new_draft(contract, moment, moment, Invoice.Type.SCHEDULED)
        for contract in contracts
        if contract.archived_at is None
        for moment in sorted(dates[contract.pk])
        if (contract.pk, moment) not in taken
    ]
    Invoice.objects.bulk_create(missing, ignore_conflicts=True, batch_size=500)
    return len(missing)


def contracts_drafts_ensure(*, contracts, now: datetime) -> int:
    """Create the missing drafts of every given contract: USAGE drafts up to its current period,
    and SCHEDULED drafts for every date of its scheduled items (`_scheduled_drafts_sync`, which
    also removes the drafts of dates no longer scheduled).

    A period that already has an invoice (draft, finalized or void) is left alone: a voided period
    only gets a new draft through `invoice_regenerate`. Returns how many drafts were created.
    Called with the contract's creation, its edits (terms added, updated or archived) and by the
    scheduled task, so scheduled drafts follow the terms.
    """
    contracts = list(contracts)
    if not contracts:
        return 0
    taken = set(
        Invoice.objects.filter(
            contract_id__in=[c.id for c in contracts], type=Invoice.Type.USAGE
        ).values_list("contract_id", "start_timestamp")
    )
    missing = [
        _new_draft(contract, period.starting_at, period.ending_before)
        for contract in contracts
        if contract.archived_at is None
        for period in _due_periods(contract, now)
        if (contract.id, period.starting_at) not in taken
    ]
    # Two callers at once: the partial unique constraint keeps one draft, the other insert is ignored.
    Invoice.objects.bulk_create(missing, ignore_conflicts=True, batch_size=500)
    made = len(missing) + _scheduled_drafts_sync(contracts)
    consolidation_sync(contracts=contracts, now=now)
    return made


def contract_drafts_ensure(*, contract: Contract, now: datetime) -> int:
    """Make sure the contract has a draft for its current period (and every earlier period
    without an invoice) and its scheduled drafts match its terms. Called when a contract is
    created or edited (`invoicing.handlers`, hearing customers' events), and by the scheduled task."""
    contract = Contract.objects.select_related("rate_card").get(pk=contract.pk)
    return contracts_drafts_ensure(contracts=[contract], now=now)


def contract_drafts_fit(*, contract: Contract, now: datetime) -> dict:
    """The contract's end moved earlier (it is followed by another contract): its DRAFT usage
    invoices follow. A draft starting at or after the new end is deleted (its period is no longer
    the contract's); the draft spanning the new end keeps its row (a regenerated draft keeps its
    `regenerated_from`) and takes the period `periods` gives for its start, cut at the end, so
    it equals a fresh draft. Finalized and void invoices are never touched, nor SCHEDULED drafts
    (a purchase dated after the end is still due). Then `contract_drafts_ensure`. Returns
    {"drafts_removed": n, "drafts_cut": m}."""
    contract = Contract.objects.select_related("rate_card").get(pk=contract.pk)
    removed = cut = 0
    if contract.ending_before is not None:
        end = contract.ending_before
        schedule = periods.schedule_for(contract)
        with transaction.atomic():
            # Locked: a draft a worker is finalizing meanwhile is left as it is.
            drafts = list(
                Invoice.objects.select_for_update().filter(
                    contract=contract,
                    type=Invoice.Type.USAGE,
                    status=Status.DRAFT,
                    end_timestamp__gt=end,
                )
            )
            past = [draft.pk for draft in drafts if draft.start_timestamp >= end]
            removed, _ = Invoice.objects.filter(pk__in=past).delete()
            for draft in drafts:
                if draft.start_timestamp >= end:
                    continue
                period = periods.period_containing(schedule, draft.start_timestamp)
                draft.end_timestamp = period.ending_before
                draft.save(update_fields=["end_timestamp", "updated_at"])
                cut += 1
    contract_drafts_ensure(contract=contract, now=now)
    return {"drafts_removed": removed, "drafts_cut": cut}


def contract_transition_roll_over(*, transition, now: datetime):
    """Roll a RENEWAL over once it has started (`customers.services.contract_transition_roll_over`)
    net of what the earlier contract's current drafts draw, which only invoicing knows."""
    return customers_services.contract_transition_roll_over(
        transition=transition, now=now, draft_draws=draft_balance_draws
    )


def contract_transitions_roll_over_due(*, now: datetime) -> int:
    """The schedule: every renewal whose new contract has started by `now` and has not rolled
    over yet (`customers.services.contract_transitions_roll_over_due`)."""
    return customers_services.contract_transitions_roll_over_due(
        now=now, draft_draws=draft_balance_draws
    )


def drafts_ensure_all(*, now: datetime) -> int:
    """The scheduled task: drafts for every active contract's current period."""
    contracts = Contract.objects.active().select_related("rate_card").order_by("id")
    return contracts_drafts_ensure(contracts=contracts, now=now)


# --- Finalization ---------------------------------------------------------------------------------


def _take_numbers(count: int) -> int:
    """Take `count` consecutive invoice numbers and return the first: one UPDATE ... RETURNING
    on the counter row, whose lock the caller's transaction holds until it commits, so numbers
    have no gaps (a rolled-back transaction gives its numbers back) and no duplicates."""
    table = connection.ops.quote_name(InvoiceNumberSequence._meta.db_table)
    sql = f"UPDATE {table} SET last_number = last_number + %s WHERE name = %s RETURNING last_number"
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, SEQUENCE])
        row = cursor.fetchone()
        if row is None:  # the row seeded by the migration was removed (a flushed test database)
            try:
                with transaction.atomic():
                    InvoiceNumberSequence.objects.create(name=SEQUENCE)
            except IntegrityError:
                pass
            cursor.execute(sql, [count, SEQUENCE])
            row = cursor.fetchone()
    return int(row[0]) - count + 1


_FROZEN_FIELDS = [
    "rating_snapshot",
    "subtotal",
    "total",
    "status",
    "issued_at",
    "number",
    "updated_at",
]


def balance_segments_lock(*, contract_ids: Iterable, depth: int | None = None) -> None:
    """Lock, in id order, the access segments of every commit and credit the contracts'
    invoices may draw (their own, their customers' customer-level ones, their ancestors' shared
    ones), until the caller's transaction ends: two finalizations that may draw one balance take
    turns, and the second reads the ledger, and which invoices are still drafts, as the first
    left them (it cannot draw what the first drew). Contracts drawing nothing in common do not
    wait for each other."""
    ids = list(contract_ids)
    contracts = Contract.objects.filter(pk__in=ids)
    if depth is None:
        depth = contracts.aggregate(depth=Max("hierarchy_depth"))["depth"] or 0
    # Their parents', grandparents'... shared ones, up to the deepest contract's root (`depth`:
    # the largest `Contract.hierarchy_depth` of theirs), in the same statement.
    ancestors = [
        contracts.values("parent_contract__" * level + "parent_contract_id")
        for level in range(max(depth, 1))
    ]
    scope = Q()
    for kind in ("commit", "credit"):
        scope |= (
            Q(**{f"{kind}__contract_id__in": ids})
            | Q(
                **{
                    f"{kind}__contract__isnull": True,
                    f"{kind}__customer_id__in": contracts.values("customer_id"),
                }
            )
            | Q(
                Q(
                    *(Q(**{f"{kind}__contract_id__in": level}) for level in ancestors),
                    _connector=Q.OR,
                ),
                **{f"{kind}__child_access__isnull": False},
            )
        )
    list(
        AccessSegment.objects.select_for_update(of=("self",))
        .filter(scope)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _hierarchy_depth(invoices: list[Invoice], preload: RatingPreload | None) -> int | None:
    """The largest `hierarchy_depth` of the invoices' contracts, from the contracts loaded with
    them (None when one is not: `balance_segments_lock` reads it)."""
    depths = []
    for invoice in invoices:
        if preload is not None:
            contract = preload.contract(invoice.contract_id, invoice.start_timestamp, invoice.type)
        elif Invoice.contract.is_cached(invoice):
            contract = invoice.contract
        else:
            return None
        depths.append(contract.hierarchy_depth)
    return max(depths, default=0)


def _in_hierarchies(invoices: list[Invoice], preload: RatingPreload | None) -> list[Invoice]:
    """The invoices an account hierarchy's payer may pay for (`invoice_payers`' candidates),
    told from the contracts loaded with them: consolidated invoices, their constituents and
    the invoices of child contracts."""
    found = []
    for invoice in invoices:
        if invoice.is_consolidated or invoice.consolidated_into_id is not None:
            found.append(invoice)
            continue
        if preload is not None:
            contract = preload.contract(invoice.contract_id, invoice.start_timestamp, invoice.type)
        elif Invoice.contract.is_cached(invoice):
            contract = invoice.contract
        else:
            found.append(invoice)
            continue
        if contract.parent_contract_id is not None:
            found.append(invoice)
    return found


def _freeze(
    invoices: list[Invoice],
    *,
    now: datetime,
    preload: RatingPreload | None,
    inputs: dict | None = None,
    issued_at: datetime | None = None,
    wait: bool = True,
    leave_waiting: bool = False,
    waiting: dict | None = None,
) -> list[Invoice]:
    """Rate and freeze drafts the caller has locked, in its transaction: lines, totals, snapshot,
    consecutive numbers in the given order, issued_at (`now` unless given). `inputs` ({invoice
    id: RatingInput}) rates an invoice from a given input instead of the database (historical
    invoices). `wait=False` (a batch locked with skip_locked): a consolidated invoice's
    constituents held by another worker are not waited for (`freeze_order`). An invoice truing
    up a POSTPAID commit that a draft outside the batch may still draw
    (`DraftsInOrder.waits_for`) is refused (`InvoiceStateError`), or with `leave_waiting` left a
    draft (the batch's others are frozen; a constituent raises `_LotWaits`: its lot is left
    whole by the caller). Returns the invoices frozen: the given ones, the
    constituents a consolidated invoice brought along, less a consolidated draft removed or left
    for the next run and the invoices left waiting (`waiting`, when given, gets {invoice id:
    the draft it waits for} of those)."""
    inputs = inputs or {}
    given = {invoice.pk for invoice in invoices}
    invoices = freeze_order(invoices, wait=wait)
    if not invoices:
        return []
    if any(i.pk not in given for i in invoices):
        # Constituents a consolidated invoice brought along (drafts still): one preload for
        # the lot, its ledger held and kept for the batch like the caller's.
        preload = RatingPreload.for_invoices(invoices)
    lines: list[InvoiceLineItem] = []
    rated = []
    drawn: list = []  # the batch's ledger entries, written together once it is rated
    segments = preload.segments if preload is not None else {}
    usage = [i for i in invoices if i.type == Invoice.Type.USAGE]
    if usage:
        balance_segments_lock(
            contract_ids={i.contract_id for i in usage}, depth=_hierarchy_depth(usage, preload)
        )
    in_order = None  # the drafts sharing their balances, loaded once the ledger is locked
    waits: dict = {}  # {invoice id: the draft its true-up waits for} (`DraftsInOrder.waiting`)
    left: set = set()  # waiting, left drafts (`leave_waiting`)
    with preload.ledger_held() if preload is not None else nullcontext():
        for invoice in invoices:
            _check_transition(invoice, Status.FINALIZED)
            if invoice.is_consolidated:
                continue  # frozen below, from its constituents
            rating_input = inputs.get(invoice.pk) or rating_input_for(
                invoice=invoice, now=now, preload=preload
            )
            if invoice.type == Invoice.Type.USAGE and rating_input.balances:
                # Its turn in the draw order: what the drafts before it draw stays theirs, and a
                # balance a draft after it may still draw is left for that one to expire.
                if in_order is None:
                    # The order reads the ledger table: the batch's entries so far go there now,
                    # and from here on each invoice's as soon as it is rated.
                    balance_ledger_entries_write(entries=drawn)
                    drawn = []
                    in_order = DraftsInOrder(
                        customer_ids={i.customer_id for i in usage}, until=None, now=now
                    )
                    for earlier, *_ in rated:
                        in_order.finalized(earlier)
                    waits = in_order.waiting(i.pk for i in usage)
                rating_input = in_order.turn(invoice, rating_input, final=True)
                waited = waits.get(invoice.pk)
                if waited is not None:
                    if leave_waiting and invoice.consolidated_into_id is None:
                        left.add(invoice.pk)
                        if waiting is not None:
                            waiting[invoice.pk] = waited
                        continue
                    if leave_waiting:
                        # On a lot: the lot stays drafts, the caller freezes the batch again
                        # without it (`invoices_finalize_due`).
                        raise _LotWaits(
                            _waiting_message(invoice, waited), lot=invoice.consolidated_into_id
                        )
                    raise InvoiceStateError(_waiting_message(invoice, waited))
            result = rate_invoice(rating_input)
            if invoice.type == Invoice.Type.SCHEDULED and not result.lines:
                raise InvoiceStateError(
                    f"Nothing is scheduled on {invoice.start_timestamp:%Y-%m-%d %H:%M} UTC any "
                    f"more: invoice {invoice.id} is not finalized (the next drafts update "
                    "removes it)."
                )
            rated.append((invoice, rating_input, result))
            if result.balance_draws:
                # The ledger learns this invoice's draws and expirations before the next invoice
                # is rated (a batch may hold a contract's next period, or a parent after its
                # children): the preload's ledger at once, the table with the batch's others
                # (at once when another draft's turn in the draw order reads it).
                entries = balance_ledger_draw_entries(
                    invoice_id=invoice.pk,
                    draws=result.balance_draws,
                    timestamp=invoice.end_timestamp,
                    contract_id=invoice.contract_id,
                    segments=_segments_drawn(result.balance_draws, segments),
                )
                if preload is not None:
                    preload.ledger_add(entries)
                if in_order is not None and not in_order.alone(invoice):
                    balance_ledger_entries_write(entries=entries)
                else:
                    drawn += entries
            if in_order is not None:
                in_order.finalized(invoice)
    balance_ledger_entries_write(entries=drawn)
    invoices = [invoice for invoice in invoices if invoice.pk not in left]
    if not invoices:
        return []
    first = _take_numbers(len(invoices))
    numbers = {invoice.pk: first + offset for offset, invoice in enumerate(invoices)}
    frozen_lines: dict = {}
    for invoice, rating_input, result in rated:
        # A draft stores no lines (it is rated on read), so there is nothing to replace.
        frozen_lines[invoice.pk] = line_items_from(result.lines, invoice=invoice)
        lines.extend(frozen_lines[invoice.pk])
        invoice.rating_snapshot = to_json(rating_input)
        invoice.subtotal = result.subtotal
        invoice.total = result.total
        _issue(invoice, numbers[invoice.pk], issued_at or now, now)
    frozen = {invoice.pk: invoice for invoice, _, _ in rated}
    for invoice in invoices:
        if invoice.is_consolidated:
            # Its lines and totals are its constituents', frozen now or before.
            view = consolidated_frozen(invoice, frozen=frozen, frozen_lines=frozen_lines)
            lines.extend(view.lines)
            invoice.rating_snapshot = None
            invoice.subtotal = view.subtotal
            invoice.total = view.total
            _issue(invoice, numbers[invoice.pk], issued_at or now, now)
    rows_insert(InvoiceLineItem, lines)
    _save_frozen(invoices)
    billed: dict = {}
    for invoice in invoices:
        if invoice.type == Invoice.Type.USAGE:
            billed[invoice.contract_id] = max(
                invoice.end_timestamp, billed.get(invoice.contract_id, invoice.end_timestamp)
            )
    contracts_billed_through_extend(ends=billed)
    revenue_systems = contracts_revenue_systems_at(
        moments=[(i.contract_id, i.start_timestamp) for i in invoices if i.contract_id]
    )
    payers = invoice_payers(_in_hierarchies(invoices, preload))
    outbox.record_many(
        _with_revenue_system(
            invoice_event("invoice.finalized", invoice, now, payers.get(invoice.pk)),
            revenue_systems.get((invoice.contract_id, invoice.start_timestamp)),
        )
        for invoice in invoices
    )
    return invoices


class _Joining(Exception):
    """A due batch's true-ups wait for due drafts outside it: the batch is frozen again with
    them (`invoices_finalize_due`)."""

    def __init__(self, invoices: list[Invoice]):
        super().__init__()
        self.invoices = invoices


def _due_waited(left: dict, due_by_id: dict, batch: list[Invoice]) -> list[Invoice]:
    """The due drafts (`due_by_id`) outside `batch` that the invoices it left waiting
    (`left`: {invoice id: the draft it waits for}) wait for, in draw order."""
    inside = {invoice.pk for invoice in batch}
    wanted = {waited.pk for waited in left.values()} - inside
    return [invoice for pk, invoice in due_by_id.items() if pk in wanted]


def _waiting_message(invoice: Invoice, waited: Invoice) -> str:
    """Why `invoice` is not finalized yet: it trues up a POSTPAID commit `waited` may still
    draw."""
    return (
        f"Invoice {invoice.id} trues up a POSTPAID commit that invoice {waited.id} (contract "
        f"{waited.contract_id}, {waited.start_timestamp:%Y-%m-%d} to "
        f"{waited.end_timestamp:%Y-%m-%d}) may still draw: the true-up is the commitment less "
        f"all its draws, so finalize invoice {waited.id} first (finalization of due invoices "
        "does so in turn)."
    )


def _segments_drawn(draws, known: dict) -> dict:
    """{segment id: AccessSegment} of the draws' segments: the preloaded ones, the others read."""
    missing = {uuid.UUID(str(draw.segment_id)) for draw in draws} - set(known)
    return {**known, **AccessSegment.objects.in_bulk(missing)} if missing else known


def _issue(invoice: Invoice, number: int, issued_at: datetime, now: datetime) -> None:
    invoice.status = Status.FINALIZED
    invoice.issued_at = issued_at
    invoice.number = number
    invoice.updated_at = now


def _with_revenue_system(event: dict, config) -> dict:
    """The contract's revenue system configuration in effect at the invoice's period, for an
    integration to deliver (this product sends nothing to a revenue system)."""
    if config is not None:
        event["payload"]["revenue_system_configuration"] = {
            "id": str(config.pk),
            "provider": config.provider,
            "delivery_method": config.delivery_method,
            "delivery_method_id": str(config.delivery_method_id or "") or None,
            "configuration": dict(config.configuration or {}),
        }
    return event


def _save_frozen(invoices: list[Invoice]) -> None:
    """One prepared UPDATE per invoice, sent as a batch (`bulk_update` builds a CASE expression
    per field and row, which costs more in Python than the database spends on the rows)."""
    meta = Invoice._meta
    fields = [meta.get_field(name) for name in _FROZEN_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} "
        f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s"
    )
    rows = [
        [f.get_db_prep_save(getattr(invoice, f.attname), connection) for f in fields]
        + [meta.pk.get_db_prep_value(invoice.pk, connection)]
        for invoice in invoices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@dataclass(frozen=True)
class FinalizeOutcome:
    invoice: Invoice
    finalized: bool  # False when another call had already finalized it


def invoice_finalize(
    *,
    invoice: Invoice,
    now: datetime,
    ensure_next: bool = True,
    preload: RatingPreload | None = None,
) -> FinalizeOutcome:
    """Freeze a draft: lines, totals, the rating input snapshot, a number and issued_at.

    Idempotent: an invoice already finalized (by an earlier run or a concurrent worker, who held
    the row lock first) is returned unchanged. A VOID invoice is refused, and so is one truing
    up a POSTPAID commit another draft may still draw (naming it: `DraftsInOrder.waits_for`). `preload` (made for a
    batch) saves the rate card and contract queries; usage is always read inside the lock.
    """
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if locked.status == Status.FINALIZED:
            return FinalizeOutcome(locked, finalized=False)
        _check_transition(locked, Status.FINALIZED)
        _freeze([locked], now=now, preload=preload or RatingPreload.for_invoices([locked]))
    if ensure_next:
        contract_drafts_ensure(contract=locked.contract, now=max(now, locked.end_timestamp))
    logger.info("Finalized invoice %s as #%s", locked.id, locked.number)
    return FinalizeOutcome(locked, finalized=True)


def invoices_finalize_due(*, now: datetime, batch_size: int = 100) -> int:
    """Finalize every USAGE draft whose period ended more than the grace period before `now`,
    and every SCHEDULED draft whose date has come (no grace: it holds no usage that could still
    arrive late; Metronome issues scheduled invoices on their date). Both take their numbers
    from the same counter, in order of end (then start).

    Batches of drafts are locked together (rows another worker holds are skipped: that worker
    finalizes them) and frozen in one transaction, with their rates, terms, usage and ledger read
    once per batch: the cost is a fixed number of statements per batch, its reactions after
    commit included, whatever its size. An invoice truing up a POSTPAID commit that a draft
    not due yet may still draw is left a draft until that one is due (`_freeze`'s
    `leave_waiting`); on a consolidated invoice, with its whole lot (the batch is frozen again
    without it). If a batch fails, its
    invoices are retried one by one so that one bad invoice does not hold back the others.
    Then the next period's drafts of those contracts. Returns how many this call finalized.
    """
    cutoff = now - settings.BILLING_FINALIZATION_GRACE
    due_filter = Q(status=Status.DRAFT) & (
        Q(type__in=[Invoice.Type.USAGE, Invoice.Type.USAGE_CONSOLIDATED], end_timestamp__lte=cutoff)
        | Q(type=Invoice.Type.SCHEDULED, end_timestamp__lte=now)
    )
    # Terms edited without the services' hook (the admin's inline forms) may have left a due
    # scheduled draft whose date has nothing scheduled any more: those contracts are synced first.
    scheduled_contracts = set(
        Invoice.objects.filter(due_filter, type=Invoice.Type.SCHEDULED).values_list(
            "contract_id", flat=True
        )
    )
    if scheduled_contracts:
        _scheduled_drafts_sync(
            list(Contract.objects.filter(id__in=scheduled_contracts).select_related("rate_card"))
        )
    # In one period, children's invoices before their parent's (`in_draw_order`): they draw
    # its shared balances first, and the parent's invoice expires what they leave.
    due = list(
        in_draw_order(Invoice.objects.filter(due_filter), "end_timestamp", "start_timestamp").only(
            "id", "contract_id", "type", "start_timestamp", "end_timestamp"
        )
    )
    finalized = 0
    due_by_id = {invoice.pk: invoice for invoice in due}
    for offset in range(0, len(due), batch_size):
        batch = due[offset : offset + batch_size]
        preload = RatingPreload.for_invoices(batch)
        lots_left: set = set()  # consolidated invoices left drafts: a constituent waits
        try:
            while True:
                left: dict = {}  # {invoice id: the draft it waits for}
                try:
                    with transaction.atomic():
                        locked = list(
                            in_draw_order(
                                Invoice.objects.select_for_update(of=("self",), skip_locked=True)
                                .filter(
                                    pk__in=[invoice.pk for invoice in batch], status=Status.DRAFT
                                )
                                .exclude(pk__in=lots_left)
                                .exclude(consolidated_into_id__in=lots_left),
                                "end_timestamp",
                                "start_timestamp",
                            )
                        )
                        frozen = _freeze(
                            locked,
                            now=now,
                            preload=preload,
                            wait=False,
                            leave_waiting=True,
                            waiting=left,
                        )
                        joining = _due_waited(left, due_by_id, batch)
                        if joining:
                            raise _Joining(joining)
                    break
                except _LotWaits as waiting:
                    # Rolled back: the batch again, without the lot (a lot is finalized whole).
                    logger.info("Invoice %s left a draft: %s", waiting.lot, waiting.messages[0])
                    lots_left.add(waiting.lot)
                except _Joining as joining:
                    # Rolled back: the batch again with the due drafts its true-ups wait for
                    # (true-ups waiting on each other are frozen together, never split).
                    batch = [*batch, *joining.invoices]
                    preload = RatingPreload.for_invoices(batch)
            finalized += len(frozen)
        except Exception:
            logger.exception("Finalizing a batch failed; finalizing its invoices one by one")
            for invoice in batch:
                try:
                    outcome = invoice_finalize(
                        invoice=invoice, now=now, ensure_next=False, preload=preload
                    )
                    finalized += outcome.finalized
                except InvoiceStateError as error:  # e.g. a true-up waiting on a draft
                    logger.info("Invoice %s left a draft: %s", invoice.pk, error.messages[0])
                except Exception:
                    logger.exception("Could not finalize invoice %s", invoice.pk)
    contract_ids = {invoice.contract_id for invoice in due}
    if contract_ids:
        contracts_drafts_ensure(
            contracts=with_children_flag(
                Contract.objects.filter(id__in=contract_ids).select_related("rate_card")
            ),
            now=now,
        )
    return finalized


# --- Void and regenerate --------------------------------------------------------------------------


def invoice_void(*, invoice: Invoice, now: datetime) -> Invoice:
    """Mark a FINALIZED invoice VOID (its lines stay as they were, for the record).

    Account hierarchies: a consolidated invoice is voided with its constituents (they were
    billed on it); a constituent of a finalized consolidated invoice is refused (void that
    one); a finalized constituent of a consolidated draft leaves it (its regeneration joins)."""
    with transaction.atomic():
        # The consolidated invoice it is on (if any) is locked before it, as everywhere.
        list(
            Invoice.objects.select_for_update()
            .filter(pk__in=Invoice.objects.filter(pk=invoice.pk).values("consolidated_into_id"))
            .values_list("pk", flat=True)
        )
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        _check_transition(locked, Status.VOID)
        issued = consolidated_issued(locked)
        if issued is not None:
            raise InvoiceStateError(
                f"Invoice {locked.id} is billed on the consolidated invoice "
                f"{_label(issued)}: void that one, which voids its constituents with it."
            )
        lot = [locked]
        if locked.is_consolidated:
            lot += list(
                Invoice.objects.select_for_update().filter(
                    consolidated_into=locked, status=Status.FINALIZED
                )
            )
        for member in lot:
            _void_one(member, now)
        if locked.consolidated_into_id is not None:
            Invoice.objects.filter(pk=locked.pk).update(consolidated_into=None)
            locked.consolidated_into = None
            consolidation_sync(contracts=[locked.contract], now=now)
    return locked


def _label(invoice: Invoice) -> str:
    return f"#{invoice.number} ({invoice.id})" if invoice.number else str(invoice.id)


def _void_one(locked: Invoice, now: datetime) -> None:
    """Void one locked FINALIZED invoice: what it drew from commits and credits goes back to
    them, its contract's `billed_through` follows, `invoice.voided` is recorded."""
    locked.status = Status.VOID
    locked.voided_at = now
    locked.save(update_fields=["status", "voided_at", "updated_at"])
    balance_ledger_invoice_voided(invoice_id=locked.pk, now=now)
    if locked.type == Invoice.Type.USAGE:
        latest = (
            Invoice.objects.filter(
                contract_id=locked.contract_id,
                type=Invoice.Type.USAGE,
                status=Status.FINALIZED,
            )
            .order_by("-end_timestamp")
            .values_list("end_timestamp", flat=True)
            .first()
        )
        contract_billed_through_set(contract_id=locked.contract_id, billed_through=latest)
    payer = invoice_payers([locked]).get(locked.pk)
    outbox.record(**invoice_event("invoice.voided", locked, now, payer))


def invoice_regenerate(*, invoice: Invoice, now: datetime) -> Invoice:
    """A new DRAFT of a VOID invoice's period, rated from today's data when read. An invoice
    of a voided consolidated lot regenerates the lot (`consolidation.lot_regenerate`): the
    consolidated draft and its constituents' drafts, linked again. An archived contract's
    invoice is refused."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status != Status.VOID:
            raise InvoiceStateError(
                f"Invoice {locked.id} is {locked.status}; only a VOID invoice can be regenerated."
            )
        live = Invoice.objects.filter(
            contract_id=locked.contract_id,
            type=locked.type,
            start_timestamp=locked.start_timestamp,
            status__in=[Status.DRAFT, Status.FINALIZED],
        ).first()
        if live is not None:
            raise InvoiceStateError(
                f"The period of invoice {locked.id} already has a {live.status} invoice ({live.id})."
            )
        if locked.is_consolidated and locked.contract.archived_at is not None:
            raise InvoiceStateError(
                f"Contract {locked.contract_id} is archived: its consolidated invoice "
                f"{locked.id} is not regenerated (regenerate one of its constituents: each is "
                "billed on its own)."
            )
        if locked.contract.archived_at is not None:
            # An archived parent's own statement on its lot included: a draft on an archived
            # contract would never be billed (its children's are regenerated from theirs).
            raise InvoiceStateError(
                f"Contract {locked.contract_id} is archived: invoice {locked.id} is not "
                "regenerated (an archived contract bills nothing more)."
            )
        regenerated = lot_regenerate(invoice=locked, now=now)
        if regenerated is not None:
            return regenerated
        regenerated = Invoice.objects.create(
            customer_id=locked.customer_id,
            contract_id=locked.contract_id,
            credit_type_id=locked.credit_type_id,
            type=locked.type,
            status=Status.DRAFT,
            start_timestamp=locked.start_timestamp,
            end_timestamp=locked.end_timestamp,
            net_payment_terms_days=locked.net_payment_terms_days,
            regenerated_from=locked,
        )
        if consolidation_sync(contracts=[locked.contract], now=now):
            regenerated.refresh_from_db(fields=["consolidated_into"])
        return regenerated


def contract_invoices_archive(*, contract: Contract, void_invoices: bool, now: datetime) -> dict:
    """A contract was archived: its drafts are cancelled (deleted: a draft holds no frozen data,
    its lines are computed on read) and, with `void_invoices`, its FINALIZED invoices voided.
    Returns {"drafts_cancelled": n, "voided": m}.

    Account hierarchies: a consolidated draft cancelled with its (parent) contract frees its
    constituents (`consolidated_drafts_remove`: one finalized early is billed on its own). A
    statement on an issued consolidated invoice cannot be voided alone: the lot is voided and
    regenerated at once without the archived contract (`lot_regenerate`), so its other members'
    usage is billed again on a new consolidated draft (an archived parent's children: each on
    its own), as voiding it by hand then regenerating it would."""
    with transaction.atomic():
        # Locked first, consolidated rows before their constituents (the order finalization
        # takes them in): a draft a worker is finalizing stays out of the delete (which deletes
        # the rows it collected by id).
        heads = list(
            Invoice.objects.select_for_update()
            .filter(
                Q(contract=contract, type=Invoice.Type.USAGE_CONSOLIDATED)
                | Q(
                    pk__in=Invoice.objects.filter(
                        contract=contract, status=Status.DRAFT, consolidated_into__isnull=False
                    ).values("consolidated_into_id")
                ),
                status=Status.DRAFT,
            )
            .order_by("pk")
            .values_list("pk", "contract_id")
        )
        drafts = list(
            Invoice.objects.select_for_update()
            .filter(contract=contract, status=Status.DRAFT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # With void_invoices its finalized statements are voided below: freed from a lot, they
        # are billed nowhere (no `invoice.unconsolidated`).
        voiding = (
            Invoice.objects.filter(contract=contract, status=Status.FINALIZED).values_list(
                "pk", flat=True
            )
            if void_invoices
            else []
        )
        cancelled = consolidated_drafts_remove(
            ids=[pk for pk, owner in heads if owner == contract.pk and pk in drafts],
            now=now,
            voiding=list(voiding),
        )
        cancelled += Invoice.objects.filter(pk__in=drafts, status=Status.DRAFT).delete()[0]
        voided = 0
        if void_invoices:
            finalized = list(
                Invoice.objects.filter(contract=contract, status=Status.FINALIZED)
                .order_by("end_timestamp", "pk")
                .values_list("pk", flat=True)
            )
            for pk in finalized:
                invoice = Invoice.objects.filter(pk=pk, status=Status.FINALIZED).first()
                if invoice is None:
                    continue  # voided with its consolidated lot
                head = invoice if invoice.is_consolidated else consolidated_issued(invoice)
                if head is None:
                    invoice_void(invoice=invoice, now=now)
                elif head.status == Status.FINALIZED:
                    invoice_void(invoice=head, now=now)
                    lot_regenerate(invoice=Invoice.objects.get(pk=head.pk), now=now)
            voided = Invoice.objects.filter(pk__in=finalized, status=Status.VOID).count()
        consolidation_sync(contracts=[contract], now=now)
    return {"drafts_cancelled": cancelled, "voided": voided}
