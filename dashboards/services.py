"""Dashboards' writes: the company profile and its logo, freezing an invoice document's parties
at finalization."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from invoicing.models import Invoice

from .models import CompanyLogo, CompanyProfile, FrozenDocument
from .selectors import invoice_bill_to, products_of, seller_of


def document_freeze(*, invoice: Invoice, now: datetime) -> FrozenDocument:
    """Keep what the finalized invoice's document prints besides its lines (seller, bill-to,
    product units and key order) as they are now. Idempotent: a document is frozen once."""
    existing = FrozenDocument.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    profile = CompanyProfile.current()
    product_ids = invoice.line_items.values_list("product_id", flat=True)
    return FrozenDocument.objects.create(
        invoice=invoice,
        seller=seller_of(profile),
        bill_to=invoice_bill_to(invoice),
        products=products_of(product_ids),
        logo=profile.logo,
        frozen_at=now,
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
