"""A v2 edit's `update_recurring_commits`, `update_recurring_credits` and `update_discounts`:
the request serializers (Metronome's shapes: `UpdateRecurringCommit`, `UpdateRecurringCredit`,
the edit history's `UpdateDiscount`), their conversion into the services' updates, and how the
edit history shows them. `update_refund_invoices` is refused with the reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rest_framework import serializers

from catalog.api.fields import NumberField
from catalog.api.serializers import COMMIT_OR_LIST_RATE
from catalog.money import to_json_number as num
from core.api import EnumField, StrictCharField, StringMapField, TimestampField, UUIDStringField
from core.api import format_timestamp as ts
from customers import services

from . import more_terms
from . import serializers as s
from . import terms as base_terms

REFUND_INVOICES_REFUSED = (
    "Refund invoices do not exist in this product: a finalized invoice is corrected by voiding "
    "it (/v1/invoices/void) and regenerating it (/v1/invoices/regenerate)."
)


class AmountUpdateIn(serializers.Serializer):
    unit_price = NumberField(required=False, min_value=0)
    quantity = NumberField(required=False, min_value=0)


class _RecurringUpdateIn(serializers.Serializer):
    access_amount = AmountUpdateIn(required=False)
    ending_before = TimestampField(required=False, allow_null=True)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False)


class RecurringCommitUpdateIn(_RecurringUpdateIn):
    recurring_commit_id = UUIDStringField()
    invoice_amount = AmountUpdateIn(required=False)
    # null clears the rounding; an entry left out stays, an entry sent null is cleared.
    proration_rounding = more_terms.CommitProrationRoundingIn(required=False, allow_null=True)


class RecurringCreditUpdateIn(_RecurringUpdateIn):
    recurring_credit_id = UUIDStringField()
    proration_rounding = more_terms.CreditProrationRoundingIn(required=False, allow_null=True)


class DiscountUpdateIn(serializers.Serializer):
    id = UUIDStringField()
    name = StrictCharField(required=False, allow_blank=True, allow_null=True, max_length=200)
    custom_fields = StringMapField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)
    schedule = s.ScheduleIn(required=False)


class ContractEditIn(s.ContractEditIn):
    """contracts/edit with the recurring and discount updates."""

    update_recurring_commits = RecurringCommitUpdateIn(many=True, required=False)
    update_recurring_credits = RecurringCreditUpdateIn(many=True, required=False)
    update_discounts = DiscountUpdateIn(many=True, required=False)

    def validate(self, attrs):
        if "update_refund_invoices" in self.initial_data:
            raise serializers.ValidationError({"update_refund_invoices": REFUND_INVOICES_REFUSED})
        return super().validate(attrs)


def _given(data: dict, name: str):
    return data.get(name, services.UNCHANGED)


def _rounding_update(item: dict):
    """proration_rounding of an update: UNCHANGED when left out, else {"access"|"invoice":
    (places, method) or None (cleared)} for the entries given (null: both cleared)."""
    if "proration_rounding" not in item:
        return services.UNCHANGED
    given = item["proration_rounding"]
    if given is None:
        return {"access": None, "invoice": None}
    return {
        prefix: None if entry is None else (int(entry["decimal_places"]), entry["rounding_method"])
        for prefix, entry in given.items()
    }


def recurring_updates(items: list[dict], id_field: str) -> list[services.RecurringUpdate]:
    updates = []
    for item in items:
        access = item.get("access_amount") or {}
        invoice = item.get("invoice_amount") or {}
        updates.append(
            services.RecurringUpdate(
                id=item[id_field],
                access_unit_price=_given(access, "unit_price"),
                access_quantity=_given(access, "quantity"),
                invoice_unit_price=_given(invoice, "unit_price"),
                invoice_quantity=_given(invoice, "quantity"),
                ending_before=_given(item, "ending_before"),
                rate_type=_given(item, "rate_type"),
                proration_rounding=_rounding_update(item),
            )
        )
    return updates


def discount_updates(items: list[dict]) -> list[services.DiscountUpdate]:
    updates = []
    for item in items:
        schedule = item.get("schedule")
        updates.append(
            services.DiscountUpdate(
                id=item["id"],
                name=_given(item, "name"),
                custom_fields=_given(item, "custom_fields"),
                schedule_given=schedule is not None,
                items=tuple(base_terms._items((schedule or {}).get("schedule_items", []))),
                recurring=base_terms._recurring(schedule),
            )
        )
    return updates


def edit_specs(data: dict) -> dict:
    """The contract_edit arguments of these three keys."""
    return {
        "update_recurring_commits": recurring_updates(
            data.get("update_recurring_commits", []), "recurring_commit_id"
        ),
        "update_recurring_credits": recurring_updates(
            data.get("update_recurring_credits", []), "recurring_credit_id"
        ),
        "update_discounts": discount_updates(data.get("update_discounts", [])),
    }


# --- The edit history ---------------------------------------------------------------------------------


def _numbers(data: dict) -> dict:
    """A stored change with its decimal strings as JSON numbers (timestamps and ids as they are)."""
    shown = {}
    for key, value in data.items():
        if isinstance(value, dict):
            shown[key] = _numbers(value) if key != "custom_fields" else value
        elif isinstance(value, list):
            shown[key] = [_numbers(v) for v in value]
        elif key in ("unit_price", "quantity", "amount") and value is not None:
            shown[key] = num(Decimal(value))
        elif key in ("starting_at", "ending_before", "timestamp") and value is not None:
            shown[key] = ts(datetime.fromisoformat(value))
        else:
            shown[key] = value
    return shown


def history_json(changes: dict) -> dict:
    """The edit history's update_recurring_commits / update_recurring_credits /
    update_discounts of one stored edit (absent when it changed none)."""
    return {
        key: [_numbers(entry) for entry in changes[key]]
        for key in ("update_recurring_commits", "update_recurring_credits", "update_discounts")
        if changes.get(key)
    }
