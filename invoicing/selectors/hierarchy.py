"""The draw order of the invoices that may draw one segment (an ancestor's commit or credit and
its descendants' usage, a customer-level balance and its customer's contracts, a contract's
successive periods): each is rated after what the ones before it took (`draw_order`).

The order (`in_draw_order`): period start; in one period, the deepest contracts' invoices first
(grandchildren, then children: `Contract.hierarchy_depth`), each depth's children by contract
id, then every other invoice (the roots', the parent's among them) by contract id. So two
children drawing the last dollar of a parent's commit in the same period: the one with the
smaller contract id gets it, and the parent's own usage draws what its children left; a
contract that lends to its children draws after them whatever its own depth. Within one
invoice, its own balances are drawn first, then its parent's shared ones, then its
grandparent's (`invoicing.rating.hierarchy`)."""

from __future__ import annotations

from django.db.models import Case, F, QuerySet, UUIDField, Value, When

from invoicing.models import Invoice


def in_draw_order(queryset: QuerySet[Invoice], *first: str) -> QuerySet[Invoice]:
    """The invoices ordered by `first` fields (default: period start), then the deepest
    contracts' invoices first, each depth's children by contract id before every other, then
    contract id, then invoice id."""
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
        "contract_id",
        "id",
    )
