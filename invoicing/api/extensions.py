"""Fields that apps above invoicing add to the invoice API's answer.

Invoicing cannot import the apps above it (payments keeps each invoice's payment status and shows
it as Metronome's `external_invoice`), so they register a provider here from their
AppConfig.ready(), as they register outbox handlers. A provider takes the invoices of one answer
and returns, per invoice id, the fields to add: one call (one query) per answer, not per invoice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from invoicing.models import Invoice
from invoicing.selectors import invoice_payers

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
    """Metronome's `payer` ("required for account hierarchy usage invoices") on the invoices of
    an account hierarchy: the contract and customer that pay for it (`invoice_payers`: a child's
    parent with `payer: PARENT`, else its own; a consolidated invoice's contract), and
    `billable_status`: "unbillable" for a statement billed on a consolidated invoice (payments
    does not send it on its own), else "billable". One query per answer for a page with
    hierarchy invoices, none for one without."""
    payers = invoice_payers(invoices)
    fields = {}
    for invoice in invoices:
        payer = payers.get(invoice.pk)
        if payer is not None:
            fields[invoice.pk] = {
                "payer": {
                    "contract_id": str(payer.contract_id),
                    "customer_id": str(payer.customer_id),
                },
                "billable_status": "unbillable" if invoice.consolidated_into_id else "billable",
            }
    return fields
