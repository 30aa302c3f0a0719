"""Packages: contract templates, created whole and archived (never edited)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import money
from ..models import (
    Package,
    RateCard,
)
from .common import already_archived, save_clean


@transaction.atomic
def package_create(
    *,
    name: str,
    rate_card: RateCard,
    aliases: Sequence[dict] = (),
    duration_unit: str = "",
    duration_value: int | None = None,
    usage_statement_frequency: str = "MONTHLY",
    usage_statement_day: str = "FIRST_OF_MONTH",
    net_payment_terms_days: int = 30,
    multiplier_override_prioritization: str = "LOWEST_MULTIPLIER",
    contract_name: str = "",
    terms: dict | None = None,
    uniqueness_key: str | None = None,
    created_by: str = "admin",
) -> Package:
    """A contract template. `terms` is the package document with offsets (ids added here)."""
    if rate_card.archived_at is not None:
        raise ValidationError(
            {"rate_card": "This rate card is archived; new packages cannot use it."}
        )
    package = Package(
        name=name,
        rate_card=rate_card,
        aliases=[_alias_json(a) for a in aliases],
        duration_unit=duration_unit or "",
        duration_value=duration_value,
        usage_statement_frequency=usage_statement_frequency,
        usage_statement_day=usage_statement_day,
        net_payment_terms_days=net_payment_terms_days,
        multiplier_override_prioritization=multiplier_override_prioritization,
        contract_name=contract_name or "",
        terms=package_terms_stored(terms),
        uniqueness_key=uniqueness_key or None,
        created_by=created_by,
    )
    save_clean(package)
    return package


def _alias_json(alias: dict) -> dict:
    return {
        "name": alias["name"],
        "starting_at": _iso(alias.get("starting_at")),
        "ending_before": _iso(alias.get("ending_before")),
    }


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


# Lists of filters, not terms: their items get no id.
_NOT_TERMS = {"specifiers", "threshold_balance_specifiers"}


def package_terms_stored(terms: dict | None) -> dict:
    """A checked terms document as a package stores it: every term and schedule item with an id,
    numbers as JSON-safe strings."""
    return _with_ids(terms or {})


def _with_ids(value, *, ids: bool = True):
    """Give every term and schedule item of a package an id, and make numbers JSON-safe strings."""
    if isinstance(value, dict):
        return {
            key: _with_ids(item, ids=ids and key not in _NOT_TERMS) for key, item in value.items()
        }
    if isinstance(value, list):
        items = [_with_ids(item, ids=ids) for item in value]
        for item in items:
            if ids and isinstance(item, dict) and "id" not in item and _is_term_or_item(item):
                item["id"] = str(uuid.uuid4())
        return items
    if isinstance(value, Decimal):
        return format(money.normalize(value), "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    return _iso(value)


def _is_term_or_item(item: dict) -> bool:
    return bool(
        {"product_id", "amount", "date_offset", "starting_at_offset", "subscription_rate"}
        & set(item)
    )


def package_archive(*, package: Package, now: datetime) -> Package:
    already_archived(package, "package")
    package.archived_at = now
    package.save(update_fields=["archived_at"])
    return package
