"""Account hierarchies in drafts: the invoices that may draw one shared segment (an ancestor's
commit or credit, its descendants' usage) are rated in one order, each after what the ones
before it took (`invoicing.rating.rate_in_order`).

The order (`in_draw_order`): period start; in one period, the deepest contracts' invoices first
(grandchildren, then children: `Contract.hierarchy_depth`), each depth by contract id, then
every other invoice (the roots', the parent's among them) by invoice id. So two children
drawing the last dollar of a parent's commit in the same period: the one with the smaller
contract id gets it, and the parent's own usage draws what its children left; a contract that
lends to its children draws after them whatever its own depth."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Case, F, QuerySet, UUIDField, Value, When

from customers.models import Contract
from customers.selectors import contract_descendants, contract_family
from invoicing.models import Invoice
from invoicing.rating import RatingInput, RatingResult, add_taken, less_taken, rate_invoice

from .preload import RatingPreload, rating_input_for


def in_draw_order(queryset: QuerySet[Invoice], *first: str) -> QuerySet[Invoice]:
    """The invoices ordered by `first` fields (default: period start), then the deepest
    contracts' invoices first, each depth by contract id, then the roots' by invoice id."""
    return queryset.annotate(
        hierarchy_child=Case(
            When(contract__parent_contract__isnull=False, then=F("contract_id")),
            default=Value(None),
            output_field=UUIDField(),
        )
    ).order_by(
        *(first or ("start_timestamp",)),
        F("contract__hierarchy_depth").desc(),
        F("hierarchy_child").asc(nulls_last=True),
        "id",
    )


def children_sharing(contract_ids) -> set:
    """The descendants of these contracts: children, grandchildren... (they may draw their
    shared balances)."""
    return contract_descendants(contract_ids=contract_ids)


def _family(contract: Contract) -> set:
    """The contracts that may draw the same shared segments as `contract`: its hierarchy's root
    and every descendant of it."""
    return contract_family(contract=contract)


def taken_before(
    *, invoice: Invoice, contract: Contract, rating_input: RatingInput, now: datetime | None
) -> dict[str, Decimal]:
    """{segment id: amount}: what the drafts of the invoice's hierarchy that draw before it
    (`in_draw_order`) draw from the segments it may draw. Empty, with no query, for a contract
    that draws no parent's balance and lends none (no child)."""
    if not rating_input.balances:
        return {}
    from_parent = any(balance.from_parent for balance in rating_input.balances)
    if not from_parent and not getattr(contract, "holds_children", True):
        return {}
    family = _family(contract)
    if len(family) < 2:
        return {}
    drafts = list(
        in_draw_order(
            Invoice.objects.filter(
                contract_id__in=family,
                status=Invoice.Status.DRAFT,
                type=Invoice.Type.USAGE,
                start_timestamp__lte=invoice.start_timestamp,
            )
        )
    )
    before = []
    for draft in drafts:
        if draft.pk == invoice.pk:
            break
        before.append(draft)
    if not before:
        return {}
    mine = {segment.id for balance in rating_input.balances for segment in balance.access_schedule}
    preload = RatingPreload.for_invoices(before)
    taken: dict[str, Decimal] = {}
    for draft in before:
        earlier = rating_input_for(invoice=draft, now=now, preload=preload)
        if not any(s.id in mine for b in earlier.balances for s in b.access_schedule):
            continue  # shares no segment with this invoice
        add_taken(taken, rate_invoice(less_taken(earlier, taken)))
    return {segment: amount for segment, amount in taken.items() if segment in mine}


def family_drafts_rated(
    *, invoices: list[Invoice], now: datetime | None
) -> dict[object, RatingResult]:
    """{invoice pk: RatingResult} of usage drafts of one account hierarchy (a consolidated
    draft's constituents), in one pass: the hierarchy's drafts up to the last of them, in draw
    order, each rated once after what every draft before it took (as finalization draws them).
    What `invoice_rate` gives each, for the cost of one rating per draft of the family instead
    of one per draft before each of them."""
    wanted = {invoice.pk for invoice in invoices}
    if not wanted:
        return {}
    drafts = list(
        in_draw_order(
            Invoice.objects.filter(
                contract_id__in=_family(invoices[0].contract),
                status=Invoice.Status.DRAFT,
                type=Invoice.Type.USAGE,
                start_timestamp__lte=max(invoice.start_timestamp for invoice in invoices),
            )
        )
    )
    preload = RatingPreload.for_invoices(drafts)
    taken: dict[str, Decimal] = {}
    rated: dict = {}
    for draft in drafts:
        result = rate_invoice(
            less_taken(rating_input_for(invoice=draft, now=now, preload=preload), taken)
        )
        add_taken(taken, result)
        if draft.pk in wanted:
            rated[draft.pk] = result
            if len(rated) == len(wanted):
                break
    return rated
