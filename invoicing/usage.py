"""Where invoicing reads usage: the per-group aggregate of a metric for a customer over a window.

Metering owns aggregation: its hourly pre-aggregates are read through
`metering.selectors.usage_by_segment` (read-your-writes, never scanning raw events). The only
exception is a window not on hour boundaries, which hourly aggregates cannot answer exactly:
`_from_raw_events` computes it from that window's events with metering's matching rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal

from catalog.models import BillableMetric
from catalog.money import to_decimal
from customers.models import Customer

GroupUsage = dict[tuple[str, ...], Decimal]

# The aggregate reads remembered inside `usage_reads_shared`: {(metric, group keys, window):
# {the customer's ingest ids, sorted: usage}}.
_shared_reads: ContextVar[dict | None] = ContextVar("shared usage reads", default=None)


@contextlib.contextmanager
def usage_reads_shared() -> Iterator[None]:
    """Inside it, a customer's usage of a metric by the same group keys over the same window is
    read once: `metric_usage_by_customer` and `metric_usage_by_group` (unfiltered, from the
    hourly aggregates) answer a customer already read from memory and read only the others. The
    alert worker's pass over a batch of customers rates their drafts (for their totals and their
    balance draws) and measures their usage alerts, which all read the current period of the same
    customers. Only for reads that nothing writes usage between (one evaluation pass, one
    transaction)."""
    token = _shared_reads.set({})
    try:
        yield
    finally:
        _shared_reads.reset(token)


def _remembered(metric, group_keys, starting_at, ending_before) -> dict | None:
    """The usage already read of this metric, keys and window (None: nothing is shared now)."""
    shared = _shared_reads.get()
    if shared is None:
        return None
    return shared.setdefault((metric.pk, tuple(group_keys), starting_at, ending_before), {})


def _hour_aligned(moment: datetime) -> bool:
    return moment.minute == 0 and moment.second == 0 and moment.microsecond == 0


def metric_usage_by_group(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: list[str],
    customer_ids: list[str] | None = None,
    only: tuple[str, list[str]] | None = None,
) -> GroupUsage:
    """{(group value, ...) in `group_keys` order: quantity} for events in [starting_at, ending_before)
    of the customer (its id or any ingest alias, or the given `customer_ids`) matching the metric.
    A value is None where an event did not carry that key. `only` (group key, values): just the
    events whose value of that key is one of the values (a contract's usage filter).

    Metering's pre-aggregates are hourly: a window that starts or ends inside an hour (a contract
    starting at 09:30) is computed from that window's events instead, which is exact for every
    aggregation (UNIQUE, MAX and LATEST cannot be assembled from a partial hour's aggregate).
    """
    try:
        from metering import selectors
    except ImportError:
        selectors = None
    if metric.sql:
        from metering.sql_metrics import sql_metric_usage

        if customer_ids is None:
            customer_ids = selectors.customer_ingest_ids(customer=customer)
        return sql_metric_usage(
            metric=metric,
            customer_ids=customer_ids,
            starting_at=starting_at,
            ending_before=ending_before,
            group_keys=list(group_keys),
            only=only,
        )
    by_segment = getattr(selectors, "usage_by_segment", None)
    if by_segment is not None and _hour_aligned(starting_at) and _hour_aligned(ending_before):
        if customer_ids is None:
            customer_ids = selectors.customer_ingest_ids(customer=customer)
        known = (
            _remembered(metric, group_keys, starting_at, ending_before) if only is None else None
        )
        key = tuple(sorted(customer_ids))
        if known is not None and key in known:
            return known[key]
        found = by_segment(
            metric=metric,
            customer_ids=customer_ids,
            boundaries=[starting_at, ending_before],
            group_keys=list(group_keys),
            only=only,
        )[0]
        if known is not None:
            known[key] = found
        return found
    return _from_raw_events(
        metric=metric,
        customer_ids=customer_ids,
        customer=customer,
        starting_at=starting_at,
        ending_before=ending_before,
        group_keys=list(group_keys),
        only=only,
    )


def metric_usage_by_customer(
    *,
    metric: BillableMetric,
    customer_ids: dict[tuple[str, ...], list[str]],
    starting_at: datetime,
    ending_before: datetime,
    group_keys: list[str],
) -> dict[tuple[str, ...], GroupUsage] | None:
    """`metric_usage_by_group` of many customers (key: their ingest ids) over one window, in one
    read of metering's pre-aggregates; None when the window is not on hour boundaries (each
    customer is then read from its events)."""
    try:
        from metering import selectors
    except ImportError:
        selectors = None
    by_customer = getattr(selectors, "usage_by_customer", None)
    if by_customer is None or not (_hour_aligned(starting_at) and _hour_aligned(ending_before)):
        return None
    known = _remembered(metric, group_keys, starting_at, ending_before)
    if known is None:
        return by_customer(
            metric=metric,
            customer_ids=customer_ids,
            starting_at=starting_at,
            ending_before=ending_before,
            group_keys=list(group_keys),
        )
    keys = {key: tuple(sorted(ids)) for key, ids in customer_ids.items()}
    missing = {key: customer_ids[key] for key, own in keys.items() if own not in known}
    if missing:
        found = by_customer(
            metric=metric,
            customer_ids=missing,
            starting_at=starting_at,
            ending_before=ending_before,
            group_keys=list(group_keys),
        )
        known.update((keys[key], usage) for key, usage in found.items())
    return {key: known[own] for key, own in keys.items()}


def metric_usage_running(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    cutoffs: list[datetime],
    group_keys: list[str],
    customer_ids: list[str] | None = None,
) -> list[GroupUsage]:
    """`metric_usage_by_group` over [starting_at, cutoff) for each of the increasing `cutoffs`:
    usage so far at each cutoff (the end of each day of a breakdown), in one aggregate read when
    every moment is on an hour, else from the raw events of each range."""
    try:
        from metering import selectors
    except ImportError:
        selectors = None
    running = getattr(selectors, "usage_running", None)
    moments = [starting_at, *cutoffs]
    if running is not None and all(_hour_aligned(moment) for moment in moments):
        if customer_ids is None:
            customer_ids = selectors.customer_ingest_ids(customer=customer)
        return running(
            metric=metric,
            customer_ids=customer_ids,
            boundaries=moments,
            group_keys=list(group_keys),
        )
    return [
        _from_raw_events(
            metric=metric,
            customer_ids=customer_ids,
            customer=customer,
            starting_at=starting_at,
            ending_before=cutoff,
            group_keys=list(group_keys),
        )
        for cutoff in cutoffs
    ]


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
    customer_ids: list[str] | None,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: list[str],
    only: tuple[str, list[str]] | None = None,
) -> GroupUsage:
    from invoicing.selectors import customer_event_ids
    from metering.selectors import events_between

    if customer_ids is None:
        customer_ids = customer_event_ids(customer=customer)
    aggregation = metric.aggregation_type
    key = metric.aggregation_key
    state: dict[tuple[str, ...], object] = {}
    rows = events_between(
        customer_ids=customer_ids,
        starting_at=starting_at,
        ending_before=ending_before,
        event_types=metric.event_types_in or None,
    )
    for event_type, properties in rows:
        if not event_matches(metric, event_type, properties):
            continue
        if only is not None and (
            only[0] not in properties or _text(properties[only[0]]) not in only[1]
        ):
            continue
        group = tuple(
            _text(properties[name]) if name in properties else None for name in group_keys
        )
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
