"""Dashboards' writes: the company profile and its logo, freezing an invoice document's parties
at finalization."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from invoicing.models import Invoice, InvoiceLineItem

from .models import CompanyLogo, CompanyProfile, FrozenDocument
from .selectors import invoices_bill_to, products_of, seller_of


def documents_freeze(
    *, invoices: list[Invoice], frozen_at: dict[object, datetime]
) -> list[FrozenDocument]:
    """Keep what each finalized invoice's document prints besides its lines (seller, bill-to,
    product units and key order) as they are now, for a batch of invoices (their customers
    selected with them) in a few queries; `frozen_at`: {invoice id: when it was finalized}.
    Idempotent: a document is frozen once."""
    frozen = set(
        FrozenDocument.objects.filter(invoice__in=invoices).values_list("invoice_id", flat=True)
    )
    invoices = [invoice for invoice in invoices if invoice.pk not in frozen]
    if not invoices:
        return []
    profile = CompanyProfile.current()
    seller = seller_of(profile)
    product_ids: dict = {invoice.pk: set() for invoice in invoices}
    for invoice_id, product_id in InvoiceLineItem.objects.filter(
        invoice__in=invoices, product_id__isnull=False
    ).values_list("invoice_id", "product_id"):
        product_ids[invoice_id].add(str(product_id))
    products = products_of(set().union(*product_ids.values()))
    bill_to = invoices_bill_to(invoices)
    return FrozenDocument.objects.bulk_create(
        FrozenDocument(
            invoice=invoice,
            seller=seller,
            bill_to=bill_to[invoice.pk],
            products={pk: unit for pk, unit in products.items() if pk in product_ids[invoice.pk]},
            logo=profile.logo,
            frozen_at=frozen_at[invoice.pk],
        )
        for invoice in invoices
    )


def logo_image(data: bytes) -> tuple[str, bytes]:
    """(content type, bytes) of an uploaded logo, or ValueError if it is not an image we print."""
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    types = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
    try:
        with Image.open(BytesIO(data)) as image:
            image.verify()
            kind = types.get(image.format or "")
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValueError("The logo is not a readable image.") from None
    if kind is None:
        raise ValueError("The logo must be a PNG, JPEG, GIF or WebP image.")
    return kind, data


@transaction.atomic
def company_profile_save(
    *, profile: CompanyProfile, logo: tuple[str, bytes] | None = None, remove_logo: bool = False
) -> CompanyProfile:
    """Save the profile; a new logo is stored once by content (documents frozen with the old
    one keep it)."""
    if logo is not None:
        content_type, data = logo
        profile.logo, _ = CompanyLogo.objects.get_or_create(
            sha256=CompanyLogo.digest(data), defaults={"content_type": content_type, "data": data}
        )
    elif remove_logo:
        profile.logo = None
    profile.full_clean()
    profile.save()
    return profile
