"""Where invoicing reads usage: the per-group aggregate of a metric for a customer over a window.

Metering owns aggregation. When `metering.selectors` provides `metric_usage_by_group`, it is used
as is (pre-aggregates, read-your-writes). Until it exists, `_from_raw_events` computes the same
answer from the stored events so that drafts and finalization work end to end; it reads every event
of the window and is the slow path the benchmark is not meant to measure.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from catalog.models import BillableMetric
from catalog.money import to_decimal
from customers.models import Customer

GroupUsage = dict[tuple[str, ...], Decimal]


def metric_usage_by_group(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: list[str],
) -> GroupUsage:
    """{(group value, ...) in `group_keys` order: quantity} for events in [starting_at, ending_before)
    of the customer (its id or any ingest alias) that match the metric and carry every group key."""
    try:
        from metering import selectors
    except ImportError:
        selectors = None
    provided = getattr(selectors, "metric_usage_by_group", None)
    if provided is not None:
        return provided(
            metric=metric,
            customer=customer,
            starting_at=starting_at,
            ending_before=ending_before,
            group_keys=list(group_keys),
        )
    return _from_raw_events(
        metric=metric,
        customer=customer,
        starting_at=starting_at,
        ending_before=ending_before,
        group_keys=list(group_keys),
    )


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def event_matches(metric: BillableMetric, event_type: str, properties: dict) -> bool:
    """The metric's event-type filter, property filters, and a usable aggregation key."""
    if metric.event_types_in and event_type not in metric.event_types_in:
        return False
    if event_type in metric.event_types_not_in:
        return False
    for rule in metric.property_filters or []:
        present = rule["name"] in properties
        value = _text(properties[rule["name"]]) if present else None
        if rule.get("exists") is True and not present:
            return False
        if rule.get("exists") is False and present:
            return False
        if rule.get("in_values") is not None and value not in rule["in_values"]:
            return False
        if rule.get("not_in_values") is not None and present and value in rule["not_in_values"]:
            return False
    aggregation = metric.aggregation_type
    if aggregation in ("SUM", "MAX", "LATEST"):
        return _number(properties.get(metric.aggregation_key)) is not None
    if aggregation == "UNIQUE":
        return metric.aggregation_key in properties
    return True


def _from_raw_events(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: list[str],
) -> GroupUsage:
    from invoicing.selectors import customer_event_ids
    from metering.models import UsageEvent

    events = UsageEvent.objects.filter(
        customer_id__in=customer_event_ids(customer=customer),
        timestamp__gte=starting_at,
        timestamp__lt=ending_before,
    )
    if metric.event_types_in:
        events = events.filter(event_type__in=metric.event_types_in)
    aggregation = metric.aggregation_type
    key = metric.aggregation_key
    state: dict[tuple[str, ...], object] = {}
    rows = events.order_by("timestamp", "received_at", "id").values_list("event_type", "properties")
    for event_type, properties in rows.iterator(chunk_size=5000):
        properties = properties or {}
        if any(name not in properties for name in group_keys):
            continue
        if not event_matches(metric, event_type, properties):
            continue
        group = tuple(_text(properties[name]) for name in group_keys)
        if aggregation == "COUNT":
            state[group] = state.get(group, Decimal(0)) + 1
        elif aggregation == "SUM":
            state[group] = state.get(group, Decimal(0)) + _number(properties[key])
        elif aggregation == "MAX":
            value = _number(properties[key])
            state[group] = value if group not in state else max(state[group], value)
        elif aggregation == "LATEST":
            state[group] = _number(properties[key])
        elif aggregation == "UNIQUE":
            state.setdefault(group, set()).add(_text(properties[key]))
    if aggregation == "UNIQUE":
        return {group: Decimal(len(values)) for group, values in state.items()}
    return dict(state)
