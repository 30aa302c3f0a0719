"""The contract terms a package (a contract template, `/v1/packages/create`) takes beyond
commits, credits, overrides, scheduled charges and subscriptions: recurring commits and credits,
threshold billing (a discount's cap measured by one of the package's spend trackers), spend
trackers, commit and credit specifiers (and each commit's and credit's own rules: a QUANTITY
one's), in the SDK's package shape (offsets from the
contract's start instead of dates); and, beyond the SDK's shape (extra fields), discounts (a
scheduled charge's shape), professional services and reseller royalties.

Each is checked by the serializers and conversions a contract's own terms go through (the
package's offsets are placed at a nominal start only to check products and units), stored as
JSON on the package, and shown in the SDK's package response shape. Registered with the
catalog's package endpoints by `register()` (from this app's AppConfig.ready); a contract made
from the package turns them into term specs in `customers.services.packages`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from catalog import money
from catalog.api import package_terms
from catalog.api.serializers import OffsetIn, PackageScheduleIn
from catalog.models import Product
from core.api import (
    StrictCharField,
    StringMapField,
    UUIDStringField,
    api_field_names,
    validated_at,
)
from customers import services
from customers.models import ResellerRoyalty
from customers.services import add_offset
from customers.services.royalties import ROYALTY_FIELDS

from . import more_terms
from . import specifiers as commit_specifiers
from . import spend_trackers as spend_trackers_api
from . import terms as base_terms
from .presenters import proration_rounding_json, threshold_json
from .serializers import RecurringScheduleIn

# Where a package's offsets are placed to check what they name (nothing is kept of it).
_NOMINAL_START = datetime(2000, 1, 1, tzinfo=UTC)

num = money.to_json_number


class _PackageRecurringMixin(serializers.Serializer):
    """Offsets from the contract's start in place of dates; a subscription_config names one of
    the package's subscriptions by its temporary_id."""

    starting_at_offset = OffsetIn()
    duration = OffsetIn(required=False)


class PackageRecurringCommitIn(_PackageRecurringMixin, more_terms.RecurringCommitIn):
    starting_at = None
    ending_before = None


class PackageRecurringCreditIn(_PackageRecurringMixin, more_terms.RecurringCreditIn):
    starting_at = None
    ending_before = None


def _recurring_check(serializer, kind: str):
    def check(value, *, rate_card, where: str, package: dict) -> list[dict]:
        items = [dict(item) for item in validated_at(serializer, value, where, many=True)]
        modes = {
            s["temporary_id"]: s.get("quantity_management_mode", "QUANTITY_ONLY")
            for s in package.get("subscriptions") or ()
            if s.get("temporary_id")
        }
        for index, item in enumerate(items):
            config = item.get("subscription_config")
            if config and config["subscription_id"] not in modes:
                raise serializers.ValidationError(
                    {
                        f"{where}[{index}].subscription_config.subscription_id": "Name one of "
                        "the package's subscriptions by its temporary_id."
                    }
                )
            if (
                config
                and config.get("allocation") == "INDIVIDUAL"
                and modes[config["subscription_id"]] != "SEAT_BASED"
            ):
                raise serializers.ValidationError(
                    {
                        f"{where}[{index}].subscription_config.allocation": "A per-seat "
                        "(INDIVIDUAL) allocation needs a SEAT_BASED subscription."
                    }
                )
        _products_of_type(
            items, where, Product.Type.FIXED, "Recurring commits and credits use a fixed product."
        )
        # The products, units and specifiers checked as a contract's recurring terms are.
        specs = more_terms.recurring(
            [{**item, "starting_at": _NOMINAL_START} for item in items], kind, where
        )
        for index, spec in enumerate(specs):
            if spec.access_type == "QUANTITY":
                with api_field_names():
                    services.quantity_balance_check(spec, f"{where}[{index}]")
        for index, item in enumerate(items):
            item["specifiers"] = commit_specifiers.stored(item, f"{where}[{index}]")
            if not item["specifiers"]:
                del item["specifiers"]
        return items

    return check


def _dated_segment(item: dict) -> dict:
    """A package's access schedule item placed at the nominal start."""
    begins = add_offset(_NOMINAL_START, item["starting_at_offset"])
    return {
        "amount": item["amount"],
        "starting_at": begins,
        "ending_before": add_offset(begins, item["duration"]),
    }


def _commit_or_credit_check(term: dict, *, rate_card, where: str, **_) -> dict:
    """A package's commit or credit checked as a contract's will be: the products and pricing
    unit it names exist (404), and a QUANTITY one holds units of named usage products, in the
    contract's currency, at list rate, prepaid."""
    access = term["access_schedule"]
    dated = {
        **term,
        "access_schedule": {
            **access,
            "schedule_items": [_dated_segment(item) for item in access["schedule_items"]],
        },
    }
    spec = services.CreditSpec(**base_terms._balance(dated, where))
    if spec.access_type == "QUANTITY":
        with api_field_names():
            services.quantity_balance_check(spec, where, postpaid=term.get("type") == "POSTPAID")
    return term


def _threshold_check(serializer):
    def check(value, *, rate_card, where: str, package: dict) -> dict:
        data = validated_at(serializer, value, where)
        # No customer yet: a STRIPE gate is checked against the contract's customer.
        config = more_terms.threshold_config(data, where, None, rate_card)
        cap = (config.get("discount_configuration") or {}).get("cap")
        if cap is not None:
            _cap_tracker_check(config, cap, package, rate_card, where)
        return config

    return check


def _cap_tracker_check(config: dict, cap: dict, package: dict, rate_card, where: str) -> None:
    """A discount cap is measured by one of the package's spend trackers (the contract made
    from it gets them), counting the threshold's pricing unit: what a contract's create checks."""
    field = f"{where}.discount_configuration.cap.spend_tracker_alias"
    alias = cap["spend_tracker_alias"]
    tracker = next(
        (t for t in package.get("spend_trackers") or () if t.get("alias") == alias), None
    )
    if tracker is None:
        raise serializers.ValidationError(
            {field: f"The package has no spend tracker {alias!r}; add it (spend_trackers)."}
        )
    unit = config.get("custom_credit_type_id") or str(rate_card.fiat_credit_type_id)
    if str(tracker.get("credit_type_id")).lower() != unit:
        raise serializers.ValidationError(
            {
                field: f"The spend tracker {alias!r} counts another pricing unit than the "
                "threshold buys in."
            }
        )


def _spend_trackers_check(value, *, rate_card, where: str, **_) -> list[dict]:
    """Checked as a contract's (aliases unique, a pricing unit that exists); stored as given,
    with no dates (a tracker resets each billing period of the contract)."""
    items = validated_at(spend_trackers_api.SpendTrackerIn, value, where, many=True)
    spend_trackers_api.specs(items, where)
    return [
        {
            "alias": item["alias"],
            "applicable_spend_specifiers": [dict(s) for s in item["applicable_spend_specifiers"]],
            "credit_type_id": str(item["credit_type_id"]),
            "reset_frequency": item["reset_frequency"],
        }
        for item in items
    ]


def _specifiers_check(term: dict, *, rate_card, where: str, **_) -> list[dict]:
    given = validated_at(
        commit_specifiers.CommitSpecifierIn, term["specifiers"], f"{where}.specifiers", many=True
    )
    return commit_specifiers.stored({**term, "specifiers": given}, where)


class PackageDiscountIn(serializers.Serializer):
    """A discount of a package: a scheduled charge's shape (dates as offsets), taken off."""

    product_id = UUIDStringField()
    schedule = PackageScheduleIn()
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    custom_fields = StringMapField(required=False)


class PackageResellerRoyaltyIn(more_terms.ResellerRoyaltyIn):
    starting_at = None
    ending_before = None
    starting_at_offset = OffsetIn(required=False)
    duration = OffsetIn(required=False)


def _products_of_type(items: list[dict], where: str, product_type: str, message: str) -> None:
    """Each item's product exists (404) and is of `product_type` (what the term's model checks
    when a contract gets it, checked here so the package is refused, not its contracts)."""
    for index, item in enumerate(items):
        field = f"{where}[{index}].product_id"
        if base_terms._product(item["product_id"], field).type != product_type:
            raise serializers.ValidationError({field: message})


def _discounts_check(value, *, rate_card, where: str, **_) -> list[dict]:
    items = [dict(item) for item in validated_at(PackageDiscountIn, value, where, many=True)]
    _products_of_type(items, where, Product.Type.FIXED, "Discounts use a fixed product.")
    for index, item in enumerate(items):
        schedule = item["schedule"] = dict(item["schedule"])
        if schedule.get("recurring_schedule"):
            schedule["recurring_schedule"] = _recurring_schedule_check(
                schedule["recurring_schedule"],
                rate_card=rate_card,
                where=f"{where}[{index}].schedule.recurring_schedule",
            )
    return items


def _services_check(value, *, rate_card, where: str, **_) -> list[dict]:
    items = [
        dict(item)
        for item in validated_at(more_terms.ProfessionalServiceIn, value, where, many=True)
    ]
    _products_of_type(
        items,
        where,
        Product.Type.PRO_SERVICE,
        "Professional services use a PRO_SERVICE product.",
    )
    return items


def _royalties_check(value, *, rate_card, where: str, **_) -> list[dict]:
    """Each royalty checked as the contract's new segment will be (its model's clean(), at the
    nominal start), so the package is refused rather than its contracts."""
    flat = more_terms.reseller_royalties(
        validated_at(PackageResellerRoyaltyIn, value, where, many=True), where
    )
    for index, item in enumerate(flat):
        at = f"{where}[{index}]"
        for name in ("fraction", "netsuite_reseller_id"):
            if name not in item:
                raise serializers.ValidationError({f"{at}.{name}": "This field is required."})
        begins = add_offset(_NOMINAL_START, item.get("starting_at_offset"))
        row = ResellerRoyalty(
            reseller_type=item["reseller_type"],
            starting_at=begins,
            ending_before=add_offset(begins, item["duration"]) if item.get("duration") else None,
            **{k: v for k, v in item.items() if k in ROYALTY_FIELDS},
        )
        try:
            row.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {f"{at}.{field}": messages for field, messages in exc.message_dict.items()}
            ) from None
    return flat


class PackageRecurringScheduleIn(RecurringScheduleIn):
    """A contract's recurring_schedule with offsets: from `starting_at_offset` (from the
    contract's start) for `duration`."""

    starting_at = None
    ending_before = None
    starting_at_offset = OffsetIn()
    duration = OffsetIn()

    def validate(self, attrs):
        begins = add_offset(_NOMINAL_START, attrs["starting_at_offset"])
        dated = {
            **attrs,
            "starting_at": begins,
            "ending_before": add_offset(begins, attrs["duration"]),
        }
        try:
            super().validate(dated)
        except serializers.ValidationError as exc:
            if "ending_before" in exc.detail:
                raise serializers.ValidationError({"duration": "Must be more than 0."}) from None
            raise
        return attrs


def _recurring_schedule_check(value, *, rate_card, where: str, **_) -> dict:
    return dict(validated_at(PackageRecurringScheduleIn, value, where))


def _number(value) -> float | int | None:
    return None if value is None else num(Decimal(str(value)))


_NUMBERS = {"unit_price", "quantity", "max_amount", "fraction", "reseller_contract_value", "amount"}


_OFFSETS = {"date_offset", "starting_at_offset", "duration"}


def _offset_json(offset: dict | None) -> dict | None:
    return None if offset is None else {"unit": offset["unit"], "value": int(offset["value"])}


def _numbers_json(value):
    """A stored term as sent (its numbers as JSON numbers again)."""
    if isinstance(value, dict):
        return {
            k: _number(v)
            if k in _NUMBERS and v is not None
            else _offset_json(v)
            if k in _OFFSETS
            else v
            if k == "custom_fields"
            else _numbers_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_numbers_json(item) for item in value]
    return value


def recurring_json(term: dict, *, is_commit: bool) -> dict:
    """A package's recurring commit or credit in the SDK's package shape."""
    access = term["access_amount"]
    unit = str(access.get("credit_type_id") or money.USD_CENTS_ID)
    product = Product.objects.filter(pk=term["product_id"]).values("id", "name").first() or {}
    data = {
        "id": term["id"],
        "access_amount": {
            "access_type": access.get("access_type"),
            "credit_type_id": unit,
            "unit_price": _number(access["unit_price"]),
            "quantity": _number(access.get("quantity")),
        },
        "commit_duration": {
            "value": _number(term["commit_duration"]["value"]),
            "unit": "PERIODS",
        },
        "priority": _number(term["priority"]),
        "product": {"id": str(term["product_id"]), "name": product.get("name", "")},
        "rate_type": term.get("rate_type", "LIST_RATE"),
        "starting_at_offset": _offset_json(term["starting_at_offset"]),
        "duration": _offset_json(term.get("duration")),
        "applicable_product_ids": term.get("applicable_product_ids") or None,
        "applicable_product_tags": term.get("applicable_product_tags") or None,
        "description": term.get("description") or None,
        "name": term.get("name") or None,
        "proration": term.get("proration", "FIRST_AND_LAST"),
        "recurrence_frequency": term.get("recurrence_frequency") or None,
        "rollover_fraction": _number(term.get("rollover_fraction")),
        "specifiers": commit_specifiers.as_json(term.get("specifiers")),
    }
    data["access_amount"] = {k: v for k, v in data["access_amount"].items() if v is not None}
    invoice = term.get("invoice_amount")
    if is_commit and invoice:
        data["invoice_amount"] = {
            "credit_type_id": str(invoice["credit_type_id"]),
            "quantity": _number(invoice["quantity"]),
            "unit_price": _number(invoice["unit_price"]),
        }
    data["proration_rounding"] = proration_rounding_json(
        services.proration_rounding_spec(term.get("proration_rounding"))
    )
    config = term.get("subscription_config")
    if config:
        data["subscription_config"] = {
            "allocation": config.get("allocation", "POOLED"),
            "apply_seat_increase_config": dict(config["apply_seat_increase_config"]),
            "subscription_template_id": config["subscription_id"],
        }
    return {k: v for k, v in data.items() if v is not None}


def register() -> None:
    package_terms.register(
        "recurring_commits",
        check=_recurring_check(PackageRecurringCommitIn, "COMMIT"),
        present=lambda terms: [recurring_json(t, is_commit=True) for t in terms],
    )
    package_terms.register(
        "recurring_credits",
        check=_recurring_check(PackageRecurringCreditIn, "CREDIT"),
        present=lambda terms: [recurring_json(t, is_commit=False) for t in terms],
    )
    package_terms.register(
        "prepaid_balance_threshold_configuration",
        check=_threshold_check(more_terms.PrepaidThresholdIn),
        present=threshold_json,
    )
    package_terms.register(
        "spend_threshold_configuration",
        check=_threshold_check(more_terms.SpendThresholdIn),
        present=threshold_json,
    )
    package_terms.register("spend_trackers", check=_spend_trackers_check, present=_numbers_json)
    package_terms.register("specifiers", check=_specifiers_check, present=commit_specifiers.as_json)
    package_terms.register("commit_or_credit", check=_commit_or_credit_check, present=dict)
    package_terms.register(
        "recurring_schedule", check=_recurring_schedule_check, present=_numbers_json
    )
    package_terms.register("discounts", check=_discounts_check, present=_numbers_json)
    package_terms.register("professional_services", check=_services_check, present=_numbers_json)
    package_terms.register("reseller_royalties", check=_royalties_check, present=_numbers_json)
