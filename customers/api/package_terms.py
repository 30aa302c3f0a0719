"""The contract terms a package (a contract template, `/v1/packages/create`) takes beyond
commits, credits, overrides, scheduled charges and subscriptions: recurring commits and credits,
threshold billing, commit and credit specifiers, in the SDK's package shape (offsets from the
contract's start instead of dates).

Each is checked by the serializers and conversions a contract's own terms go through (the
package's offsets are placed at a nominal start only to check products and units), stored as
JSON on the package, and shown in the SDK's package response shape. Registered with the
catalog's package endpoints by `register()` (from this app's AppConfig.ready); a contract made
from the package turns them into term specs in `customers.services.packages`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rest_framework import serializers

from catalog import money
from catalog.api import package_terms
from catalog.api.serializers import OffsetIn
from catalog.models import Product
from core.api import validated_at

from . import more_terms
from . import specifiers as commit_specifiers
from .presenters import threshold_json

# Where a package's offsets are placed to check what they name (nothing is kept of it).
_NOMINAL_START = datetime(2000, 1, 1, tzinfo=UTC)

num = money.to_json_number


class _PackageRecurringMixin(serializers.Serializer):
    """Offsets from the contract's start in place of dates."""

    starting_at_offset = OffsetIn()
    duration = OffsetIn(required=False)

    def validate_subscription_config(self, value):
        raise serializers.ValidationError(
            "A package's recurring commits and credits are not linked to subscriptions; give "
            "access_amount.quantity."
        )


class PackageRecurringCommitIn(_PackageRecurringMixin, more_terms.RecurringCommitIn):
    starting_at = None
    ending_before = None


class PackageRecurringCreditIn(_PackageRecurringMixin, more_terms.RecurringCreditIn):
    starting_at = None
    ending_before = None


def _recurring_check(serializer, kind: str):
    def check(value, *, rate_card, where: str) -> list[dict]:
        items = [dict(item) for item in validated_at(serializer, value, where, many=True)]
        # The products, units and specifiers checked as a contract's recurring terms are.
        more_terms.recurring(
            [{**item, "starting_at": _NOMINAL_START} for item in items], kind, where
        )
        for index, item in enumerate(items):
            item["specifiers"] = commit_specifiers.stored(item, f"{where}[{index}]")
            if not item["specifiers"]:
                del item["specifiers"]
        return items

    return check


def _threshold_check(serializer):
    def check(value, *, rate_card, where: str) -> dict:
        data = validated_at(serializer, value, where)
        # No customer yet: a STRIPE gate is checked against the contract's customer.
        return more_terms.threshold_config(data, where, None, rate_card)

    return check


def _specifiers_check(term: dict, *, rate_card, where: str) -> list[dict]:
    given = validated_at(
        commit_specifiers.CommitSpecifierIn, term["specifiers"], f"{where}.specifiers", many=True
    )
    return commit_specifiers.stored({**term, "specifiers": given}, where)


def _number(value) -> float | int | None:
    return None if value is None else num(Decimal(str(value)))


def recurring_json(term: dict, *, is_commit: bool) -> dict:
    """A package's recurring commit or credit in the SDK's package shape."""
    access = term["access_amount"]
    unit = str(access.get("credit_type_id") or money.USD_CENTS_ID)
    product = Product.objects.filter(pk=term["product_id"]).values("id", "name").first() or {}
    data = {
        "id": term["id"],
        "access_amount": {
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
        "starting_at_offset": term["starting_at_offset"],
        "duration": term.get("duration"),
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
    package_terms.register("specifiers", check=_specifiers_check, present=commit_specifiers.as_json)
