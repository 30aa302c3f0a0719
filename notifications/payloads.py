"""What a notification's body says, in Metronome's shapes.

- System lifecycle notifications (`contract.*`, `commit.*`, `credit.*`) are flat:
  `{"id", "type", "timestamp", "environment_type", "contract_id", "customer_id", ...,
  "*_custom_fields"}`, with `segment_id` / `segment_index` / `segment_count` for segment moments
  and `offset_id` / `offset_duration` for offset notifications.
- Every other type (`invoice.*`, `alerts.*`, and types other apps record later) wraps its details:
  `{"id", "type", "properties": {...}}`.
`id` is the notification's id (the outbox event's uuid): the same on every retry and for every
endpoint, so receivers can deduplicate with it.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from rest_framework.utils.encoders import JSONEncoder

from catalog import money
from core.api import format_timestamp
from core.models import DomainEvent
from customers.models import Contract, Customer

SYSTEM_PREFIXES = ("contract.", "commit.", "credit.")
SYSTEM_FIELDS = (
    "contract_id",
    "customer_id",
    "commit_id",
    "credit_id",
    "segment_id",
    "segment_index",
    "segment_count",
    "offset_id",
    "offset_duration",
)
# Amounts and quantities carried as exact decimal strings in the outbox, sent as JSON numbers.
NUMBERS = frozenset(
    {
        "threshold",
        "current_spend",
        "current_usage",
        "invoice_total",
        "remaining_balance",
        "remaining_percentage",
        "remaining_days",
        "amount",  # payment_gate.*: what is charged (the commit's invoice total)
        "commit_amount",  # payment_gate.*: the gated commit's face value
        "tax_amount",
    }
)
# Outbox events that only concern the apps themselves: never sent.
INTERNAL_TYPES = frozenset({"usage.marked", "custom_fields.changed"})
TEST_TYPE = "webhooks.test"


def is_system(event_type: str) -> bool:
    return event_type.startswith(SYSTEM_PREFIXES)


def notification(event: DomainEvent) -> dict:
    """The body of the notification an outbox event becomes."""
    payload = dict(event.payload or {})
    head = {"id": str(event.uuid), "type": event.type}
    if is_system(event.type):
        body = {
            **head,
            "timestamp": format_timestamp(_moment(payload, event.occurred_at)),
            "environment_type": "PRODUCTION",
        }
        body.update({name: payload[name] for name in SYSTEM_FIELDS if name in payload})
        body.update(_custom_fields(event.type, payload))
        return body
    if event.type.startswith("invoice."):
        properties = {
            "invoice_id": payload.get("invoice_id"),
            "customer_id": payload.get("customer_id"),
            "contract_id": payload.get("contract_id"),
        }
        action = event.type.removeprefix("invoice.")
        if action in ("finalized", "voided"):
            properties[f"invoice_{action}_date"] = format_timestamp(event.occurred_at)
        properties.update(
            {k: v for k, v in payload.items() if k not in properties and k != "number"}
        )
        return {**head, "properties": _numbers(properties)}
    return {**head, "properties": _numbers(payload)}


def encode(body: dict) -> str:
    """The exact text sent (and signed): compact JSON, decimals as JSON numbers."""
    return json.dumps(body, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _moment(payload: dict, default: datetime) -> datetime:
    text = payload.get("timestamp")
    return datetime.fromisoformat(text) if isinstance(text, str) else default


def _numbers(properties: dict) -> dict:
    return {
        key: money.to_json_number(Decimal(value))
        if key in NUMBERS and isinstance(value, str)
        else value
        for key, value in properties.items()
    }


def _custom_fields(event_type: str, payload: dict) -> dict:
    fields: dict = {}
    kind = event_type.split(".", 1)[0]
    if kind in ("commit", "credit"):
        fields[f"{kind}_custom_fields"] = {}
    contract_id = payload.get("contract_id")
    if contract_id:
        contract = Contract.objects.filter(pk=contract_id).values("custom_fields").first()
        fields["contract_custom_fields"] = (contract or {}).get("custom_fields") or {}
    customer_id = payload.get("customer_id")
    if customer_id:
        customer = Customer.objects.filter(pk=customer_id).values("custom_fields").first()
        fields["customer_custom_fields"] = (customer or {}).get("custom_fields") or {}
    return fields
