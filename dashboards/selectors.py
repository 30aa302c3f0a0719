"""Dashboards' reads: the parties of an invoice document (frozen at finalization, or today's for
a draft), the pricing units its lines use, and the invoice documents as rendered."""

from __future__ import annotations

from datetime import datetime

from catalog.models import PricingUnit, Product
from customers.models import Customer
from invoicing.models import Invoice
from invoicing.selectors import InvoiceView, invoice_view

from .document import CUSTOMER, Document, Parties, Party, invoice_document
from .models import CompanyLogo, CompanyProfile, FrozenDocument


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def seller_of(profile: CompanyProfile) -> dict:
    return {
        "name": profile.name,
        "address_lines": list(_lines(profile.address)),
        "email": profile.email,
        "tax_id": profile.tax_id,
        "payment_instructions": profile.payment_instructions,
        "number_prefix": profile.invoice_number_prefix,
    }


def bill_to_of(customer: Customer) -> dict:
    return {
        "name": customer.bill_to_name,
        "address_lines": list(_lines(customer.billing_address)),
        "email": customer.billing_email,
    }


def products_of(product_ids) -> dict:
    """{product id: {"unit": display unit, "keys": pricing then presentation group keys}}."""
    return {
        str(product.pk): {
            "unit": product.unit_label,
            "keys": [*product.pricing_group_key, *product.presentation_group_key],
        }
        for product in Product.objects.filter(pk__in={pid for pid in product_ids if pid})
    }


def _parties(seller: dict, bill_to: dict, products: dict, logo: CompanyLogo | None) -> Parties:
    return Parties(
        seller=Party(
            name=seller["name"],
            address_lines=tuple(seller["address_lines"]),
            email=seller["email"],
            tax_id=seller["tax_id"],
        ),
        bill_to=Party(
            name=bill_to["name"],
            address_lines=tuple(bill_to["address_lines"]),
            email=bill_to["email"],
        ),
        products=products,
        logo_type=logo.content_type if logo else "",
        logo_data=bytes(logo.data) if logo else b"",
        payment_instructions=seller["payment_instructions"],
        number_prefix=seller["number_prefix"],
    )


def document_parties(*, view: InvoiceView) -> Parties:
    """A finalized or void invoice's parties as frozen when it was finalized; a draft's (or an
    invoice finalized before documents were frozen) from today's profile, customer and products."""
    invoice = view.invoice
    if invoice.status != Invoice.Status.DRAFT:
        frozen = FrozenDocument.objects.select_related("logo").filter(invoice=invoice).first()
        if frozen is not None:
            return _parties(frozen.seller, frozen.bill_to, frozen.products, frozen.logo)
    profile = CompanyProfile.current()
    return _parties(
        seller_of(profile),
        bill_to_of(invoice.customer),
        products_of(line.product_id for line in view.lines),
        profile.logo,
    )


def document_units(view: InvoiceView) -> dict[str, PricingUnit]:
    """The pricing units of the invoice and of its lines, by id (one query)."""
    ids = {str(view.invoice.credit_type_id), *(str(line.credit_type_id) for line in view.lines)}
    return {str(unit.pk): unit for unit in PricingUnit.objects.filter(pk__in=ids)}


def invoice_document_for(*, invoice: Invoice, now: datetime, audience: str = CUSTOMER) -> Document:
    """The document of `invoice` as of `now` (a draft is rated now)."""
    view = invoice_view(invoice=invoice, now=now)
    return invoice_document(
        view=view,
        parties=document_parties(view=view),
        units=document_units(view),
        audience=audience,
        now=now,
    )
