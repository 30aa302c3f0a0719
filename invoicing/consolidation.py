"""Consolidated invoices of account hierarchies (Metronome's USAGE_CONSOLIDATED): writes.

A child contract with `usage_statement_behavior: CONSOLIDATE` (and payer PARENT) has its usage
invoices gathered, period by period, onto one USAGE_CONSOLIDATED invoice of its parent's
contract and customer for the same billing period (the schedules have the same periods:
`Contract.consolidation_errors`). A parent with `invoice_consolidation_type: CONCATENATE` puts
its own usage invoice of the period on it too. The gathered invoices (constituents) point at
it (`Invoice.consolidated_into`): they keep their lines, numbers and balance draws, but only
the consolidated invoice is billed (payments skips a constituent), so the payer gets one charge
for the lot: its lines are the constituents' copied (`origin`), its totals their sums.

- Drafts (`consolidation_sync`, after every drafts update): a consolidated draft exists for a
  parent's period as soon as one consolidating child has a draft in it; the children's drafts
  (and the concatenating parent's) are linked to it; one left with no child is removed. A
  draft stores no lines: read, it shows its constituents as they are rated now
  (`selectors.consolidated`), so it follows every event at once.
- Finalization (`freeze_order` in `services._freeze`): the consolidated invoice is frozen
  after its constituents, which are finalized first if they are still drafts (in the same
  transaction, in draw order), so a retry or a second worker finds it FINALIZED and makes no
  second one (one live consolidated invoice per parent and period: the unique constraint).
- A child's statement of a period whose consolidated invoice is already issued (a child
  created later with a past start), or that falls outside the parent's periods (dates that
  do not overlap), is billed on its own, to the payer.
- Void and regenerate keep the lot coherent: a constituent of a finalized consolidated
  invoice cannot be voided alone (void the consolidated one: its constituents are voided with
  it); regenerating any invoice of a voided lot regenerates the lot (`lot_regenerate`), less
  the archived contracts' invoices (archiving a member with `void_invoices` does both at once).
- A consolidated draft removed (its parent's drafts cancelled, or no child left on it) frees
  its constituents (`consolidated_drafts_remove`): none finalized early is left billed nowhere.
- Locks: a consolidated invoice's row is taken before its constituents' everywhere, so two
  writers of one lot wait for each other in one order (`freeze_order`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from core import outbox
from customers import periods
from customers.models import Contract
from invoicing.events import invoice_event
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import (
    InvoiceView,
    consolidated_copy,
    consolidated_members,
    in_draw_order,
    invoice_payers,
)

Status = Invoice.Status
Type = Invoice.Type


def _consolidating_parents(contracts: list[Contract]) -> set:
    """The parents among or above `contracts` that take consolidated statements: the parents of
    consolidating children among them, and those of them with a consolidating child."""
    parents = {contract.parent_contract_id for contract in contracts if contract.consolidates}
    # Contracts loaded with their `holds_children` flag (`with_children_flag`) that have no
    # child are no parent: no query for them.
    lending = [c.pk for c in contracts if getattr(c, "holds_children", True)]
    if lending:
        parents |= set(
            Contract.objects.filter(
                parent_contract_id__in=lending,
                hierarchy_usage_statement_behavior=Contract.StatementBehavior.CONSOLIDATE,
            ).values_list("parent_contract_id", flat=True)
        )
    return parents


def consolidation_sync(*, contracts: Iterable[Contract], now: datetime) -> int:
    """Link the unlinked usage drafts of consolidating children (and of a concatenating parent)
    of these contracts' hierarchies to their parent's consolidated draft of the period, making
    it when missing; remove consolidated drafts left with no child (`consolidated_drafts_remove`).
    Returns how many drafts were linked. One query when no contract given is in a consolidating
    hierarchy."""
    contracts = list(contracts)
    if not contracts:
        return 0
    parents = _consolidating_parents(contracts)
    linked = 0
    for parent in Contract.objects.filter(pk__in=parents).select_related("rate_card"):
        linked += _parent_sync(parent, now)
    return linked


def _parent_period(parent: Contract, invoice: Invoice) -> periods.BillingPeriod | None:
    """The parent's billing period holding the child's statement `invoice`, or None if its
    period is not inside one of the parent's (then it is billed on its own)."""
    period = periods.period_containing(periods.schedule_for(parent), invoice.start_timestamp)
    if period is None or invoice.end_timestamp > period.ending_before:
        return None
    return period


def _parent_sync(parent: Contract, now: datetime) -> int:
    children = Contract.objects.filter(
        parent_contract=parent,
        hierarchy_usage_statement_behavior=Contract.StatementBehavior.CONSOLIDATE,
    ).values_list("pk", flat=True)
    waiting = Invoice.objects.filter(
        contract_id__in=list(children),
        type=Type.USAGE,
        status=Status.DRAFT,
        consolidated_into__isnull=True,
    ).only("id", "start_timestamp", "end_timestamp")
    by_period: dict = {}
    for invoice in waiting:
        period = _parent_period(parent, invoice)
        if period is not None:
            by_period.setdefault(period.period, []).append(invoice.pk)
    live = {
        invoice.start_timestamp: invoice
        for invoice in Invoice.objects.filter(
            contract=parent,
            type=Type.USAGE_CONSOLIDATED,
            status__in=[Status.DRAFT, Status.FINALIZED],
        )
    }
    missing = [
        Invoice(
            customer_id=parent.customer_id,
            contract=parent,
            credit_type_id=parent.rate_card.fiat_credit_type_id,
            type=Type.USAGE_CONSOLIDATED,
            status=Status.DRAFT,
            start_timestamp=period.starting_at,
            end_timestamp=period.ending_before,
            net_payment_terms_days=parent.net_payment_terms_days,
        )
        for period in by_period
        if period.starting_at not in live and parent.archived_at is None
    ]
    if missing:
        # Two callers at once: the partial unique constraint keeps one, the other is ignored.
        Invoice.objects.bulk_create(missing, ignore_conflicts=True)
        live = {
            invoice.start_timestamp: invoice
            for invoice in Invoice.objects.filter(
                contract=parent,
                type=Type.USAGE_CONSOLIDATED,
                status__in=[Status.DRAFT, Status.FINALIZED],
            )
        }
    linked = 0
    for period, invoice_ids in by_period.items():
        consolidated = live.get(period.starting_at)
        if consolidated is not None:
            linked += _link(consolidated, invoice_ids)
    if parent.invoice_consolidation_type == Contract.Consolidation.CONCATENATE:
        linked += _link_parents_own(parent)
    _remove_childless(parent, now)
    return linked


def _link(consolidated: Invoice, invoice_ids: list) -> int:
    """Point the drafts at the consolidated invoice while it is a draft: its row is locked
    first, as finalization locks it before reading its constituents."""
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update()
            .filter(pk=consolidated.pk, status=Status.DRAFT)
            .first()
        )
        if locked is None:
            return 0  # issued (or removed) meanwhile: the drafts are billed on their own
        return Invoice.objects.filter(
            pk__in=invoice_ids, status=Status.DRAFT, consolidated_into__isnull=True
        ).update(consolidated_into=locked)


def _link_parents_own(parent: Contract) -> int:
    """CONCATENATE: the parent's own usage draft of each period that has a consolidated draft
    goes on it."""
    linked = 0
    consolidated = Invoice.objects.filter(
        contract=parent, type=Type.USAGE_CONSOLIDATED, status=Status.DRAFT
    )
    own = dict(
        Invoice.objects.filter(
            contract=parent, type=Type.USAGE, status=Status.DRAFT, consolidated_into__isnull=True
        ).values_list("start_timestamp", "pk")
    )
    for invoice in consolidated:
        if invoice.start_timestamp in own:
            linked += _link(invoice, [own[invoice.start_timestamp]])
    return linked


def _remove_childless(parent: Contract, now: datetime) -> None:
    """A consolidated draft none of whose constituents is a child's any more (their drafts were
    removed, cut or voided) is removed: its constituents (the parent's own) are free again."""
    childless = list(
        Invoice.objects.filter(contract=parent, type=Type.USAGE_CONSOLIDATED, status=Status.DRAFT)
        .exclude(constituents__contract__parent_contract=parent)
        .values_list("pk", flat=True)
    )
    if childless:
        with transaction.atomic():
            drafts = list(
                Invoice.objects.select_for_update(of=("self",))
                .filter(pk__in=childless, status=Status.DRAFT)
                .exclude(constituents__contract__parent_contract=parent)
                .values_list("pk", flat=True)
            )
            consolidated_drafts_remove(ids=drafts, now=now)


def consolidated_drafts_remove(*, ids: list, now: datetime, voiding: Iterable = ()) -> int:
    """Delete consolidated drafts (the caller holds their locks, in its transaction). Their
    constituents are free again: a draft is billed on its own when it is finalized, and one
    already FINALIZED (finalized alone before its lot, so payments skipped it as a constituent)
    is billed on its own from now: `invoice.unconsolidated` tells payments (and webhooks) that
    it is no longer on the consolidated invoice its `invoice.finalized` named (payments queues
    it then, as a finalized invoice), but for those `voiding` (ids the caller voids in its
    transaction: billed nowhere). Returns how many were deleted."""
    if not ids:
        return 0
    freed = list(
        Invoice.objects.select_for_update(of=("self",))
        .filter(consolidated_into_id__in=ids, status=Status.FINALIZED)
        .exclude(pk__in=list(voiding))
    )
    Invoice.objects.filter(consolidated_into_id__in=ids).update(consolidated_into=None)
    left = {invoice.pk: invoice.consolidated_into_id for invoice in freed}
    for invoice in freed:
        invoice.consolidated_into = None
    payers = invoice_payers(freed)
    outbox.record_many(
        invoice_event(
            "invoice.unconsolidated",
            invoice,
            now,
            payers.get(invoice.pk),
            consolidated_invoice_id=left[invoice.pk],
        )
        for invoice in freed
    )
    deleted, _ = Invoice.objects.filter(pk__in=ids, status=Status.DRAFT).delete()
    return deleted


# --- Finalization ---------------------------------------------------------------------------------


def freeze_order(invoices: list[Invoice], *, wait: bool = True) -> list[Invoice]:
    """The invoices to freeze, in order: a consolidated invoice comes after its constituents,
    and those still drafts (not in `invoices`) are locked and put before it, in draw order
    (children, then the parent's own). A consolidated draft with no constituent left is
    removed rather than frozen. The caller holds the locks of `invoices` in its transaction.

    Locks go one way everywhere: a consolidated invoice's row before its constituents'. A
    batch (`wait=False`, whose rows were taken with skip_locked) may hold a constituent of
    another worker's consolidated invoice: it waits for no constituent (skip_locked), and a
    consolidated invoice one of whose drafts another worker holds is left for the next run
    (the constituents of its own batch are frozen, still on it)."""
    if not any(invoice.is_consolidated for invoice in invoices):
        return invoices
    given = {invoice.pk: invoice for invoice in invoices}
    placed: dict = {}
    for invoice in invoices:
        if invoice.is_consolidated:
            drafts = Invoice.objects.filter(consolidated_into=invoice, status=Status.DRAFT)
            pending = list(
                in_draw_order(
                    Invoice.objects.select_for_update(of=("self",), skip_locked=not wait).filter(
                        consolidated_into=invoice, status=Status.DRAFT
                    )
                )
            )
            if not wait and drafts.exclude(pk__in=[c.pk for c in pending]).exists():
                continue  # another worker is finalizing one of them: the next run freezes it
            for constituent in pending:
                placed.setdefault(constituent.pk, given.get(constituent.pk, constituent))
            if not pending and not invoice.constituents.exists():
                Invoice.objects.filter(pk=invoice.pk, status=Status.DRAFT).delete()
                continue
        placed.setdefault(invoice.pk, invoice)
    return list(placed.values())


def consolidated_frozen(invoice: Invoice, *, frozen: dict, frozen_lines: dict) -> InvoiceView:
    """A consolidated invoice as it is frozen: its constituents (all finalized by now: those
    `frozen` in this batch with `frozen_lines`, the others earlier), their lines copied."""
    members = [frozen.get(m.pk, m) for m in consolidated_members([invoice])[invoice.pk]]
    stored: dict = {}
    for line in InvoiceLineItem.objects.filter(
        invoice_id__in=[m.pk for m in members if m.pk not in frozen_lines]
    ).order_by("invoice_id", "position"):
        stored.setdefault(line.invoice_id, []).append(line)
    shown = []
    for member in members:
        if member.status != Status.FINALIZED:
            raise ValidationError(
                f"Constituent invoice {member.pk} is {member.status}; the consolidated invoice "
                f"{invoice.pk} is frozen after its constituents."
            )
        member_lines = frozen_lines.get(member.pk) or stored.get(member.pk, [])
        shown.append(InvoiceView(member, member_lines, member.subtotal, member.total))
    return consolidated_copy(invoice, shown)


# --- Void and regenerate --------------------------------------------------------------------------


def consolidated_issued(invoice: Invoice) -> Invoice | None:
    """The finalized (or void) consolidated invoice a constituent is billed on, if any."""
    if invoice.consolidated_into_id is None:
        return None
    return (
        Invoice.objects.filter(pk=invoice.consolidated_into_id).exclude(status=Status.DRAFT).first()
    )


def lot_regenerate(*, invoice: Invoice, now: datetime) -> Invoice | None:
    """Regenerate a voided consolidated lot from any of its invoices (the caller locked
    `invoice`, VOID): a new consolidated draft and a new draft of every voided constituent whose
    contract is live and whose period has no live invoice, linked to it (an archived contract's
    invoices are not regenerated: an archived parent's live children get theirs on their own).
    Returns the new draft standing for `invoice`, or None when `invoice` belongs to no voided
    lot or stands for an archived contract."""
    head = invoice if invoice.is_consolidated else None
    if head is None and invoice.consolidated_into_id is not None:
        head = Invoice.objects.filter(pk=invoice.consolidated_into_id, status=Status.VOID).first()
    if head is None:
        return None
    made: dict = {}
    into = None
    if head.contract.archived_at is None:
        fresh = made[head.pk] = _regenerated(head, consolidated_into=None)
        # Linked only to a draft: a lot whose period was issued again meanwhile bills them alone.
        into = fresh if fresh.status == Status.DRAFT else None
    # An archived parent's lot: its live children's statements are billed on their own.
    for constituent in head.constituents.select_related("contract").filter(status=Status.VOID):
        if constituent.contract.archived_at is None:
            made[constituent.pk] = _regenerated(constituent, consolidated_into=into)
    consolidation_sync(contracts=[head.contract], now=now)
    return made.get(invoice.pk)


def _live(invoice: Invoice) -> Invoice | None:
    return Invoice.objects.filter(
        contract_id=invoice.contract_id,
        type=invoice.type,
        start_timestamp=invoice.start_timestamp,
        status__in=[Status.DRAFT, Status.FINALIZED],
    ).first()


def _regenerated(invoice: Invoice, *, consolidated_into: Invoice | None) -> Invoice:
    """A new draft of `invoice`'s period, or the live invoice the period already has."""
    live = _live(invoice)
    if live is not None:
        return live
    return Invoice.objects.create(
        customer_id=invoice.customer_id,
        contract_id=invoice.contract_id,
        credit_type_id=invoice.credit_type_id,
        type=invoice.type,
        status=Status.DRAFT,
        start_timestamp=invoice.start_timestamp,
        end_timestamp=invoice.end_timestamp,
        net_payment_terms_days=invoice.net_payment_terms_days,
        regenerated_from=invoice,
        consolidated_into=consolidated_into,
    )
