"""Invoices in Metronome's wire shape (reference 3.7): amounts in the pricing unit as JSON numbers,
tier `starting_at` / `size` as decimal strings, timestamps RFC 3339 with a Z."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from catalog.money import normalize, to_json_number
from core.api import format_timestamp
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.rating import Line
from invoicing.selectors import InvoiceView, origins

PRODUCT_LIST_ITEM = {
    "USAGE": "UsageProductListItem",
    "SUBSCRIPTION": "SubscriptionProductListItem",
    "COMPOSITE": "CompositeProductListItem",
    "FIXED": "FixedProductListItem",
    "PRO_SERVICE": "ProServiceProductListItem",
}


def _decimal_string(value) -> str | None:
    return None if value is None else format(normalize(value), "f")


def _credit_type(invoice: Invoice) -> dict:
    return {"id": str(invoice.credit_type_id), "name": invoice.credit_type.name}


@lru_cache(maxsize=1024)
def _timestamp(value: datetime | None) -> str | None:
    """`format_timestamp`, once per instant: a draft's lines share a few period boundaries."""
    return format_timestamp(value)


def line_item_data(line: InvoiceLineItem, credit_type: dict, origins: dict | None = None) -> dict:
    """A line row (stored, or made from a draft's engine line) on the wire; `origins`: a
    consolidated invoice's constituents (`selectors.origins`), its lines name theirs."""
    tier = None
    if line.tier_level is not None:
        tier = (line.tier_level, line.tier_starting_at, line.tier_size)
    unit = credit_type
    if line.credit_type_id and str(line.credit_type_id) != credit_type["id"]:
        unit = {"id": str(line.credit_type_id), "name": line.credit_type.name}
    data = _line_data(line, unit, tier)
    if line.origin_invoice_id and origins:
        # A consolidated invoice's line: the constituent line it was copied from.
        data["origin"] = {
            **origins[line.origin_invoice_id],
            "line_item_id": str(line.origin_line_item_id),
        }
    return data


def rated_line_data(line: Line, credit_type: dict, units: dict[str, dict]) -> dict:
    """A draft's engine line on the wire, as `line_item_data` writes its row (`units`: the
    custom units' `credit_type` by id). Without the row: a 10,000-line draft spent as long
    making the model instances as writing them."""
    tier = line.tier
    unit = credit_type
    if line.credit_type_id and line.credit_type_id != credit_type["id"]:
        unit = units[line.credit_type_id]
    return _line_data(
        line, unit, None if tier is None else (tier.level, tier.starting_at, tier.size)
    )


def _line_data(line: InvoiceLineItem | Line, unit: dict, tier: tuple | None) -> dict:
    """The fields a line row and an engine line share by name; the line's pricing unit and
    its tier (level, starting_at, size) are read by the caller."""
    data: dict = {
        "name": line.name,
        "type": line.type,
        "credit_type": unit,
        "total": to_json_number(line.total),
        "starting_at": _timestamp(line.starting_at),
        "ending_before": _timestamp(line.ending_before),
        "is_prorated": line.is_prorated,
    }
    if line.product_id:
        data["product_id"] = str(line.product_id)
    if line.product_type:
        data["product_type"] = PRODUCT_LIST_ITEM.get(line.product_type, line.product_type)
    if line.quantity is not None:
        data["quantity"] = to_json_number(line.quantity)
    if line.unit_price is not None:
        data["unit_price"] = to_json_number(line.unit_price)
    if line.group_key:
        data["group_key"] = line.group_key
        data["group_value"] = line.group_value or None
    if line.pricing_group_values:
        data["pricing_group_values"] = dict(line.pricing_group_values)
    if line.presentation_group_values:
        data["presentation_group_values"] = dict(line.presentation_group_values)
    if tier is not None:
        data["tier"] = {
            "level": tier[0],
            "starting_at": _decimal_string(tier[1]),
            "size": _decimal_string(tier[2]),
        }
    if line.subscription_id:
        data["subscription_id"] = str(line.subscription_id)
    if line.scheduled_charge_id:
        data["scheduled_charge_id"] = str(line.scheduled_charge_id)
    if line.discount_id:
        data["discount_id"] = str(line.discount_id)
    if line.professional_service_id:
        data["professional_service_id"] = str(line.professional_service_id)
    if line.commit_id:
        data["commit_id"] = str(line.commit_id)
    if line.applied_commit_or_credit_id:
        data["applied_commit_or_credit"] = {
            "id": str(line.applied_commit_or_credit_id),
            "type": line.applied_commit_or_credit_type,
        }
    return data


def invoice_data(
    view: InvoiceView, *, skip_zero_qty_line_items: bool = False, extra: dict | None = None
) -> dict:
    """One invoice on the wire; `extra`: the fields apps above add (see extensions.py)."""
    invoice = view.invoice
    credit_type = _credit_type(invoice)
    constituents = origins(view.constituents)
    data = {
        "id": str(invoice.id),
        "customer_id": str(invoice.customer_id),
        "contract_id": str(invoice.contract_id),
        "credit_type": credit_type,
        "status": invoice.status,
        "type": invoice.type,
        "start_timestamp": format_timestamp(invoice.start_timestamp),
        "end_timestamp": format_timestamp(invoice.end_timestamp),
        "created_at": format_timestamp(invoice.created_at),
        "subtotal": to_json_number(view.subtotal),
        "total": to_json_number(view.total),
        "net_payment_terms_days": invoice.net_payment_terms_days,
        "line_items": _line_items(view, credit_type, skip_zero_qty_line_items, constituents),
        "invoice_adjustments": [],
        "custom_fields": {},
    }
    if invoice.issued_at is not None:
        data["issued_at"] = format_timestamp(invoice.issued_at)
    if invoice.regenerated_from_id is not None:
        data["regenerated_from_invoice_id"] = str(invoice.regenerated_from_id)
    if invoice.is_consolidated:
        data["constituent_invoices"] = list(constituents.values())
    if extra:
        data.update(extra)
    return data


def _line_items(
    view: InvoiceView, credit_type: dict, skip_zero: bool, constituents: dict
) -> list[dict]:
    """A draft's from its engine lines, a finalized invoice's (and a consolidated one's) from
    its rows."""

    def shown(lines):
        if not skip_zero:
            return lines
        return [line for line in lines if line.quantity is None or line.quantity != 0]

    if view.rows is None and view.rated is not None:
        units = {u.id: {"id": u.id, "name": u.name} for u in view.rated.custom_units}
        return [rated_line_data(line, credit_type, units) for line in shown(view.rated.lines)]
    return [line_item_data(line, credit_type, constituents) for line in shown(view.lines)]
