"""Spend trackers over the API: `spend_trackers` on contract create, `add_spend_trackers` /
`archive_spend_trackers` on a v2 edit, a commit's `spend_tracker_attributes`, and the
contract's `spend_trackers` with what each has accumulated in the current billing period."""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from catalog import money
from core.api import EnumField, StrictBooleanField, StrictCharField, UUIDStringField
from core.api import format_timestamp as ts
from customers import services
from customers.models import Contract, SpendTracker
from customers.selectors import spend_trackers_accumulated

from . import terms as base_terms


class SpendSpecifierIn(serializers.Serializer):
    sources = serializers.ListField(
        child=EnumField(["THRESHOLD_RECHARGE", "MANUAL"]), allow_empty=False
    )
    spend_type = EnumField(["COMMIT_PURCHASE"])
    discounted = EnumField(["ANY", "DISCOUNTED_ONLY", "UNDISCOUNTED_ONLY"], required=False)


class SpendTrackerIn(serializers.Serializer):
    alias = StrictCharField(max_length=200)
    applicable_spend_specifiers = SpendSpecifierIn(many=True, allow_empty=False)
    credit_type_id = UUIDStringField()
    reset_frequency = EnumField(["BILLING_PERIOD"])


class SpendTrackerAttributesIn(serializers.Serializer):
    counts_as_discounted = StrictBooleanField()


def specs(items: list[dict], key: str) -> list[services.SpendTrackerSpec]:
    """Validated trackers as the service's specs (aliases unique within the request)."""
    seen = set()
    made = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if item["alias"] in seen:
            raise serializers.ValidationError({f"{where}.alias": "Aliases must be unique."})
        seen.add(item["alias"])
        made.append(
            services.SpendTrackerSpec(
                alias=item["alias"],
                credit_type=base_terms._unit(item["credit_type_id"], f"{where}.credit_type_id"),
                applicable_spend_specifiers=[
                    {
                        "sources": list(s["sources"]),
                        "spend_type": s["spend_type"],
                        **({"discounted": s["discounted"]} if "discounted" in s else {}),
                    }
                    for s in item["applicable_spend_specifiers"]
                ],
                reset_frequency=item["reset_frequency"],
            )
        )
    return made


def spend_tracker_json(tracker: SpendTracker, accumulated: tuple) -> dict:
    """Metronome's SpendTracker, with `accumulated_spend` (what it holds, over which billing
    period: left out outside the contract's dates)."""
    data = {
        "alias": tracker.alias,
        "applicable_spend_specifiers": tracker.applicable_spend_specifiers,
        "credit_type_id": str(tracker.credit_type_id),
        "reset_frequency": tracker.reset_frequency,
    }
    amount, period = accumulated
    if period is not None:
        data["accumulated_spend"] = {
            "amount": money.to_json_number(amount),
            "period_starting_at": ts(period.starting_at),
            "period_ending_before": ts(period.ending_before),
        }
    return data


def spend_trackers_json(contract: Contract, now: datetime) -> list[dict] | None:
    """The contract's live trackers, each with what it accumulated in the period of `now`."""
    trackers = [t for t in contract.spend_trackers.all() if t.archived_at is None]
    if not trackers:
        return None
    held = spend_trackers_accumulated(contract=contract, trackers=trackers, now=now)
    return [spend_tracker_json(t, held[t.pk]) for t in trackers]
