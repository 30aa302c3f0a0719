"""Who pays for an invoice of an account hierarchy (Metronome's `payer`: "the contract and
customer that pay for this invoice").

A child contract's invoices are paid for by its payer (`customers.selectors.contract_payers`:
itself with payer SELF, its parent, or further up, with payer PARENT); a consolidated invoice
and its constituents by the contract of the consolidated invoice (the parent, or whoever pays
for it). The invoice stays the child's (its customer and contract); the billing provider hands
it to the payer (payments), and the invoice document names the payer as bill-to (dashboards)."""

from __future__ import annotations

from collections.abc import Sequence

from customers.models import Contract
from customers.selectors import Payer, contract_payers
from invoicing.models import Invoice


def _outside_hierarchy(invoice: Invoice) -> bool:
    """Known without a query: a plain invoice of a contract loaded with no parent."""
    return (
        invoice.consolidated_into_id is None
        and not invoice.is_consolidated
        and Invoice.contract.is_cached(invoice)
        and invoice.contract.parent_contract_id is None
    )


def invoice_payers(invoices: Sequence[Invoice]) -> dict[object, Payer]:
    """{invoice pk: Payer} for the invoices of an account hierarchy among `invoices`: those of
    a child contract, consolidated invoices and their constituents. Others are left out (their
    own customer pays). One query, plus one per level of the hierarchies found."""
    candidates = [invoice for invoice in invoices if not _outside_hierarchy(invoice)]
    if not candidates:
        return {}
    # A constituent is paid for by its consolidated invoice's payer: the consolidated invoice's
    # contract (looked up beside the others).
    into = {invoice.consolidated_into_id for invoice in candidates if invoice.consolidated_into_id}
    paying_contract = dict(
        Invoice.objects.filter(pk__in=into).values_list("pk", "contract_id") if into else ()
    )
    contract_of = {
        invoice.pk: paying_contract.get(invoice.consolidated_into_id, invoice.contract_id)
        for invoice in candidates
    }
    payers = contract_payers(contract_ids=set(contract_of.values()))
    hierarchy_roots = {
        contract_id
        for invoice in candidates
        if invoice.is_consolidated or invoice.consolidated_into_id
        for contract_id in [contract_of[invoice.pk]]
        if contract_id not in payers
    }
    if hierarchy_roots:
        payers.update(
            {
                pk: Payer(contract_id=pk, customer_id=customer)
                for pk, customer in Contract.objects.filter(pk__in=hierarchy_roots).values_list(
                    "pk", "customer_id"
                )
            }
        )
    return {
        invoice.pk: payers[contract_of[invoice.pk]]
        for invoice in candidates
        if contract_of[invoice.pk] in payers
    }


def invoice_payer_contract(invoice: Invoice) -> Contract:
    """The contract whose billing provider configuration bills `invoice`: its payer's, or its
    own outside a hierarchy."""
    payer = invoice_payers([invoice]).get(invoice.pk)
    if payer is None or payer.contract_id == invoice.contract_id:
        return invoice.contract
    return Contract.objects.select_related("billing_provider_configuration").get(
        pk=payer.contract_id
    )
