"""Customers: create, ingest aliases, rename, archive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    Customer,
    IngestAlias,
)
from .common import IngestAliasInUse, clean, prefixed
from .contracts import contract_archive

# --- Customers -----------------------------------------------------------------------------------------


def _aliases_set(customer: Customer, aliases: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(aliases))
    # An alias the customer keeps is not checked again: it would clash with its own row.
    kept = set(customer.ingest_aliases.filter(alias__in=wanted).values_list("alias", flat=True))
    for alias in wanted:
        if alias in kept:
            continue
        candidate = IngestAlias(customer=customer, alias=alias)
        try:
            candidate.full_clean(exclude=["customer"])
        except ValidationError as exc:
            if (
                "alias" in getattr(exc, "error_dict", {})
                and IngestAlias.objects.filter(alias=alias).exclude(customer=customer).exists()
            ):
                raise IngestAliasInUse({"ingest_aliases": exc.message_dict["alias"]}) from None
            raise prefixed(exc, "ingest_aliases") from None
    customer.ingest_aliases.exclude(alias__in=wanted).delete()
    existing = set(customer.ingest_aliases.values_list("alias", flat=True))
    for alias in wanted:
        if alias not in existing:
            IngestAlias.objects.create(customer=customer, alias=alias)


@transaction.atomic
def customer_create(
    *,
    name: str,
    ingest_aliases: Sequence[str] = (),
    external_id: str = "",
    custom_fields: dict | None = None,
) -> Customer:
    """A customer and its ingest aliases; a deprecated `external_id` is also an ingest alias."""
    customer = Customer(name=name, external_id=external_id or "", custom_fields=custom_fields or {})
    clean(customer)
    customer.save()
    aliases = list(ingest_aliases)
    if external_id and external_id not in aliases:
        aliases.append(external_id)
    _aliases_set(customer, aliases)
    return customer


@transaction.atomic
def customer_set_ingest_aliases(*, customer: Customer, ingest_aliases: Sequence[str]) -> Customer:
    """Replace the alias set (events sent under a removed alias no longer reach this customer)."""
    _aliases_set(customer, ingest_aliases)
    customer.save(update_fields=["updated_at"])
    return customer


def customer_set_name(*, customer: Customer, name: str) -> Customer:
    if customer.archived_at is not None:
        raise ValidationError("This customer is archived; it cannot be renamed.")
    customer.name = name
    clean(customer)
    customer.save()
    return customer


@transaction.atomic
def customer_archive(*, customer: Customer, now: datetime) -> Customer:
    """Archive a customer and, with it, its contracts (and their invoices)."""
    if customer.archived_at is not None:
        raise ValidationError("This customer is already archived.")
    for contract in customer.contracts.filter(archived_at__isnull=True):
        contract_archive(contract=contract, void_invoices=True, now=now)
    customer.archived_at = now
    customer.save(update_fields=["archived_at", "updated_at"])
    return customer
