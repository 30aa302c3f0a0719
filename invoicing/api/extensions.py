"""Fields that apps above invoicing add to the invoice API's answer.

Invoicing cannot import the apps above it (payments keeps each invoice's payment status and shows
it as Metronome's `external_invoice`), so they register a provider here from their
AppConfig.ready(), as they register outbox handlers. A provider takes the invoices of one answer
and returns, per invoice id, the fields to add: one call (one query) per answer, not per invoice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from customers.models import Contract
from invoicing.models import Invoice

InvoiceFieldsProvider = Callable[[Sequence[Invoice]], Mapping[object, dict]]

_providers: list[InvoiceFieldsProvider] = []


def register_invoice_fields(provider: InvoiceFieldsProvider) -> InvoiceFieldsProvider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def invoice_extra_fields(invoices: Sequence[Invoice]) -> dict[object, dict]:
    """Per invoice id, the fields every registered provider adds (later providers win a clash)."""
    extra: dict[object, dict] = {}
    if not invoices:
        return extra
    for provider in _providers:
        for invoice_id, fields in provider(invoices).items():
            extra.setdefault(invoice_id, {}).update(fields)
    return extra


def hierarchy_payers(invoices: Sequence[Invoice]) -> dict[object, dict]:
    """Metronome's `payer` ("required for account hierarchy usage invoices"): on the USAGE
    invoices of a child contract, the contract and customer that pay for it, its parent's with
    `payer: PARENT`, else its own. One query per answer. (The invoice is still issued to, and
    handed to the billing provider of, the child's customer.)"""
    usage = [
        invoice
        for invoice in invoices
        if invoice.type == Invoice.Type.USAGE
        # A loaded contract tells without a query whether it is a child.
        and not (
            Invoice.contract.is_cached(invoice) and invoice.contract.parent_contract_id is None
        )
    ]
    if not usage:
        return {}
    children = {
        pk: (parent, payer, parent_customer, customer)
        for pk, parent, payer, parent_customer, customer in Contract.objects.filter(
            pk__in={invoice.contract_id for invoice in usage}, parent_contract__isnull=False
        ).values_list(
            "pk",
            "parent_contract_id",
            "hierarchy_payer",
            "parent_contract__customer_id",
            "customer_id",
        )
    }
    result = {}
    for invoice in usage:
        found = children.get(invoice.contract_id)
        if found is None:
            continue
        parent, payer, parent_customer, customer = found
        pays = (parent, parent_customer) if payer == "PARENT" else (invoice.contract_id, customer)
        result[invoice.pk] = {"payer": {"contract_id": str(pays[0]), "customer_id": str(pays[1])}}
    return result
