"""Pieces every customers model uses: window checks, constraints, balance specifiers."""

from django.db import models
from django.db.models import F, Q

from catalog.models import (
    is_hour_aligned,
)

HOUR_MESSAGE = "Must be on an hour boundary (minutes and seconds zero, UTC)."


def window_errors(starting_at, ending_before, *, hour_aligned: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if hour_aligned:
        for name, value in (("starting_at", starting_at), ("ending_before", ending_before)):
            if not is_hour_aligned(value):
                errors[name] = HOUR_MESSAGE
    if starting_at and ending_before and ending_before <= starting_at:
        errors["ending_before"] = "Must be after the start."
    return errors


def start_before_end(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(ending_before__isnull=True) | Q(ending_before__gt=F("starting_at")),
        name=f"{prefix}_start_before_end",
        violation_error_message="The end must be after the start.",
    )


SPECIFIER_FIELDS = (
    "product_id",
    "product_tags",
    "pricing_group_values",
    "presentation_group_values",
)
SPECIFIERS_HELP = (
    "Metronome's specifiers: usage draws the balance when it meets ANY of them; one is met when "
    "ALL its fields given match (product_id, product_tags: all of them, pricing_group_values, "
    "presentation_group_values). Empty: applicable products and tags decide."
)


def specifier_errors(specifiers, *, tags) -> str | None:
    """Why stored `specifiers` (a list of {field: value} dicts) are not valid, or None."""
    if not isinstance(specifiers, list):
        return "A list of specifiers."
    for specifier in specifiers:
        if (
            not isinstance(specifier, dict)
            or not specifier
            or set(specifier) - set(SPECIFIER_FIELDS)
        ):
            return "Each specifier names some of: " + ", ".join(SPECIFIER_FIELDS) + "."
        if not isinstance(specifier.get("product_id", ""), str) or not _strings(
            specifier.get("product_tags", [])
        ):
            return "product_id is a string and product_tags a list of strings."
        for name in SPECIFIER_FIELDS[2:]:
            values = specifier.get(name, {})
            if not isinstance(values, dict) or not _strings([*values, *values.values()]):
                return f"{name} maps group keys to values (strings)."
    if specifiers and tags:
        return "Specifiers cannot be used with applicable product ids or tags."
    return None


def _strings(values) -> bool:
    return isinstance(values, list) and all(isinstance(value, str) for value in values)


class AccessType(models.TextChoices):
    """How a commit or credit is drawn down (Metronome's access_type)."""

    SPEND = "SPEND", "Spend (money)"
    QUANTITY = "QUANTITY", "Quantity (units)"


# What a QUANTITY balance answers for a credit type (units, in no pricing unit): Metronome's
# "null credit type UUID".
QUANTITY_CREDIT_TYPE_ID = "00000000-0000-0000-0000-000000000000"

ACCESS_TYPE_HELP = (
    "SPEND: usage draws its cost. QUANTITY: the access schedule holds units of its applicable "
    "usage products, and usage draws the units used (each covered at the line's rate)."
)


def quantity_errors(*, rate_type: str, tags, specifiers, postpaid: bool = False) -> dict[str, str]:
    """What a QUANTITY balance (or the recurring term making them) cannot be: its units are
    covered at each usage line's own rate, so neither a commit rate nor a true-up in money can
    price them; its products are named one by one (the terms service checks they are usage
    products once they are set)."""
    errors = {}
    if rate_type == "COMMIT_RATE":
        errors["rate_type"] = (
            "A QUANTITY balance covers units at the usage's own rate: use LIST_RATE."
        )
    if postpaid:
        errors["type"] = "A POSTPAID commit is trued up in money: a QUANTITY commit is PREPAID."
    if tags:
        errors["applicable_product_tags"] = (
            "A QUANTITY balance holds units of named products: give applicable_product_ids."
        )
    if any(not spec.get("product_id") for spec in specifiers or ()):
        errors["specifiers"] = (
            "A QUANTITY balance holds units of named products: each specifier gives a product_id."
        )
    return errors
