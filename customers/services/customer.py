"""Customers: create, ingest aliases, rename, custom fields (and the billing fields among them),
archive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    Customer,
    IngestAlias,
)
from .common import IngestAliasInUse, prefixed
from .contracts import contract_archive

# --- Customers -----------------------------------------------------------------------------------------


def _aliases_set(customer: Customer, aliases: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(aliases))
    # An alias the customer keeps is validated as its own row, so it does not clash with itself.
    kept = {row.alias: row for row in customer.ingest_aliases.filter(alias__in=wanted)}
    for alias in wanted:
        candidate = kept.get(alias) or IngestAlias(customer=customer, alias=alias)
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
    for alias in wanted:
        if alias not in kept:
            IngestAlias.objects.create(customer=customer, alias=alias)


def _billing_split(values: dict) -> tuple[dict, dict]:
    """(custom fields, billing fields) of custom field values: the billing keys are columns."""
    billing = {k: v for k, v in values.items() if k in Customer.BILLING_FIELDS}
    return {k: v for k, v in values.items() if k not in billing}, billing


def _clean_customer(customer: Customer) -> None:
    """Validate; an error in a billing field is named as the API sent it (a custom field)."""
    try:
        customer.full_clean()
    except ValidationError as exc:
        raise ValidationError(
            {
                (f"custom_fields.{key}" if key in Customer.BILLING_FIELDS else key): messages
                for key, messages in exc.message_dict.items()
            }
        ) from None


@transaction.atomic
def customer_create(
    *,
    name: str,
    ingest_aliases: Sequence[str] = (),
    external_id: str = "",
    custom_fields: dict | None = None,
) -> Customer:
    """A customer and its ingest aliases; a deprecated `external_id` is also an ingest alias.
    `custom_fields` may carry the billing fields (`Customer.BILLING_FIELDS`)."""
    custom, billing = _billing_split(custom_fields or {})
    customer = Customer(name=name, external_id=external_id or "", custom_fields=custom, **billing)
    _clean_customer(customer)
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
    _clean_customer(customer)
    customer.save()
    return customer


def customer_custom_fields_set(*, customer: Customer, values: dict[str, str]) -> Customer:
    """Set custom field values (Metronome's customFields/setValues): the billing keys set the
    billing fields, others are kept in `custom_fields`; keys not named are left as they are."""
    custom, billing = _billing_split(values)
    customer.custom_fields = {**customer.custom_fields, **custom}
    for key, value in billing.items():
        setattr(customer, key, value)
    _clean_customer(customer)
    customer.save()
    return customer


def customer_custom_fields_delete(*, customer: Customer, keys: Sequence[str]) -> Customer:
    """Remove custom field values (customFields/deleteValues); a billing key empties its field."""
    for key in keys:
        if key in Customer.BILLING_FIELDS:
            setattr(customer, key, "")
    customer.custom_fields = {k: v for k, v in customer.custom_fields.items() if k not in keys}
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
