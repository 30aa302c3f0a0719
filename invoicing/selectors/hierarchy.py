"""Account hierarchies in drafts: the invoices that may draw one shared segment (a parent's
commit or credit, its children's usage) are rated in one order, each after what the ones before
it took (`invoicing.rating.rate_in_order`).

The order (`in_draw_order`): period start; in one period, the children's invoices first, by
contract id, then every other invoice (the parent's among them) by contract id. So two children
drawing the last dollar of a parent's commit in the same period: the one with the smaller
contract id gets it, and the parent's own usage draws what its children left."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Case, F, QuerySet, UUIDField, Value, When

from customers.models import Contract
from invoicing.models import Invoice
from invoicing.rating import RatingInput, add_taken, less_taken, rate_invoice

from .preload import RatingPreload, rating_input_for


def in_draw_order(queryset: QuerySet[Invoice], *first: str) -> QuerySet[Invoice]:
    """The invoices ordered by `first` fields (default: period start), then children's
    invoices by contract id before every other, then contract id, then invoice id
    (`draw_order.draw_key` is the same order in Python)."""
    return queryset.annotate(
        hierarchy_child=Case(
            When(contract__parent_contract__isnull=False, then=F("contract_id")),
            default=Value(None),
            output_field=UUIDField(),
        )
    ).order_by(
        *(first or ("start_timestamp",)),
        F("hierarchy_child").asc(nulls_last=True),
        "contract_id",
        "id",
    )


def children_sharing(contract_ids) -> set:
    """The child contracts of these contracts (they may draw their shared balances)."""
    return set(
        Contract.objects.filter(parent_contract_id__in=contract_ids).values_list("pk", flat=True)
    )


def _family(contract: Contract) -> set:
    """The contracts that may draw the same shared segments as `contract`: its parent and the
    parent's children, or its children."""
    head = contract.parent_contract_id or contract.pk
    return {head, *children_sharing([head])}


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
