"""Named schedules (a rate card's, a contract's or a customer's) and the customer's config."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ..models import Customer, NamedScheduleSegment
from .common import clean


def _schedule(owner: dict, name: str, properties: dict | None):
    rows = NamedScheduleSegment.objects.filter(name=name, **owner)
    if "contract" in owner:
        rows = rows.filter(properties=properties or {})
    return rows


@transaction.atomic
def named_schedule_update(
    *,
    owner: dict,
    name: str,
    starting_at: datetime,
    value,
    ending_before: datetime | None = None,
    properties: dict | None = None,
) -> NamedScheduleSegment:
    """Set a named schedule's value over [starting_at, ending_before) (open-ended without an
    end). `owner`: {"rate_card": ...}, {"contract": ...} or {"customer": ...}; a contract's
    schedules are also told apart by their `properties`. The segments it covers are cut: what
    lay before and after keeps its value."""
    segment = NamedScheduleSegment(
        name=name,
        properties=dict(properties or {}) if "contract" in owner else {},
        starting_at=starting_at,
        ending_before=ending_before,
        value=value,
        **owner,
    )
    clean(segment)
    for row in _schedule(owner, name, properties).select_for_update():
        row_ends_after = ending_before is not None and (
            row.ending_before is None or row.ending_before > ending_before
        )
        if row.ending_before is not None and row.ending_before <= starting_at:
            continue
        if ending_before is not None and row.starting_at >= ending_before:
            continue
        if row_ends_after:
            # The part after the new segment keeps its value.
            NamedScheduleSegment.objects.create(
                name=row.name,
                properties=row.properties,
                starting_at=ending_before,
                ending_before=row.ending_before,
                value=row.value,
                rate_card=row.rate_card,
                contract=row.contract,
                customer=row.customer,
            )
        if row.starting_at < starting_at:
            row.ending_before = starting_at
            row.save(update_fields=["ending_before"])
        else:
            row.delete()
    segment.save()
    return segment


def customer_update_config(
    *,
    customer: Customer,
    salesforce_account_id=None,
    leave_stripe_invoices_in_draft=None,
    given: frozenset[str] = frozenset(),
) -> Customer:
    """Change the customer's config: only the fields named in `given` (null clears one)."""
    fields = []
    if "salesforce_account_id" in given:
        customer.salesforce_account_id = salesforce_account_id or ""
        fields.append("salesforce_account_id")
    if "leave_stripe_invoices_in_draft" in given:
        customer.leave_stripe_invoices_in_draft = leave_stripe_invoices_in_draft
        fields.append("leave_stripe_invoices_in_draft")
    if fields:
        clean(customer)
        customer.save(update_fields=[*fields, "updated_at"])
    return customer
