"""Consolidated invoices (USAGE_CONSOLIDATED) read: their constituents, in the order their
lines are shown (the parent's own statement first, then its children's by contract id: the
order they draw shared balances). The writes are `invoicing.consolidation`."""

from __future__ import annotations

from collections.abc import Iterable

from invoicing.models import Invoice


def consolidated_members(invoices: Iterable[Invoice]) -> dict[object, list[Invoice]]:
    """{consolidated invoice pk: its constituents in order} for the consolidated invoices among
    `invoices` (one query; none without one). Void constituents are left out: a voided
    statement of a draft lot leaves it (a finalized lot is voided whole, and shown as it was)."""
    heads = {invoice.pk: invoice for invoice in invoices if invoice.is_consolidated}
    if not heads:
        return {}
    found: dict = {pk: [] for pk in heads}
    members = (
        Invoice.objects.filter(consolidated_into_id__in=list(heads))
        .select_related("credit_type", "customer")
        .order_by("contract_id", "start_timestamp")
    )
    for member in members:
        head = heads[member.consolidated_into_id]
        if member.status != Invoice.Status.VOID or head.status == Invoice.Status.VOID:
            found[head.pk].append(member)
    for pk, listed in found.items():
        parent = heads[pk].contract_id
        listed.sort(key=lambda member: member.contract_id != parent)
    return found


def origins(view_constituents: Iterable[Invoice]) -> dict[object, dict]:
    """{constituent pk: {"contract_id", "customer_id", "invoice_id"}}: what a consolidated
    invoice's `constituent_invoices` and its lines' `origin` name."""
    return {
        member.pk: {
            "contract_id": str(member.contract_id),
            "customer_id": str(member.customer_id),
            "invoice_id": str(member.pk),
        }
        for member in view_constituents
    }
