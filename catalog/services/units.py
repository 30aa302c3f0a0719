"""Pricing units: create, archive."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from .. import money
from ..models import (
    PricingUnit,
)
from .common import already_archived, save_clean


def pricing_unit_create(*, name: str) -> PricingUnit:
    unit = PricingUnit(name=name, is_currency=False)
    save_clean(unit)
    return unit


def pricing_unit_archive(*, pricing_unit: PricingUnit, now: datetime) -> PricingUnit:
    if str(pricing_unit.pk) == money.USD_CENTS_ID:
        raise ValidationError("The built-in USD (cents) pricing unit cannot be archived.")
    already_archived(pricing_unit, "pricing unit")
    pricing_unit.archived_at = now
    pricing_unit.save(update_fields=["archived_at"])
    return pricing_unit
