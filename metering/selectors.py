"""Metering reads: what a metric measured, for whom, over which hours; events and their customers.

Usage comes from the event store (`metering.stores`: the relational store's hourly pre-aggregates,
or ClickHouse), always for a customer's ingest ids: `str(customer.id)` plus its current ingest
aliases (`customer_ingest_ids`), so usage follows alias changes without rewriting anything.

Answers are exact `Decimal`s per group: `{(value of key 1, value of key 2, ...): quantity}` with the
values in the order of the requested `group_keys`; `None` stands for an event that did not carry
that key. A group with no matching event is absent. Time ranges are `[starting_at, ending_before)`
on UTC hour boundaries (the aggregates are hourly); anything else is a ValueError.

Roll-up: COUNT and SUM add, MAX takes the maximum, LATEST the value of the latest event (ties: the
greater transaction id). UNIQUE counts distinct values over the whole requested range and group
(never a sum of hourly counts).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from catalog.models import BillableMetric, is_hour_aligned
from customers.models import Customer, IngestAlias

from .definitions import EXACT, definitions_current
from .models import UsageMark
from .stores import Group, GroupUsage, event_store
from .validation import MAX_AGE

__all__ = ["Group", "GroupUsage"]


def customer_ingest_ids(*, customer: Customer) -> list[str]:
    """Every customer_id under which this customer's events may arrive."""
    aliases = IngestAlias.objects.filter(customer_id=customer.pk).values_list("alias", flat=True)
    return [str(customer.pk), *aliases]


def usage_marks_waiting() -> bool:
    """Whether some customer has usage stored since the apps above last took the marks."""
    return UsageMark.objects.exists()


def customers_by_ingest_id(ids: Iterable[str]) -> dict[str, Customer]:
    """The customer each id (a customer id or an alias) belongs to, for the ids that have one."""
    ids = set(ids)
    found: dict[str, Customer] = {}
    for alias in IngestAlias.objects.filter(alias__in=ids).select_related("customer"):
        found[alias.alias] = alias.customer
    uuids = {}
    for value in ids - set(found):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            continue
        if str(parsed) == value:
            uuids[parsed] = value
    for customer in Customer.objects.filter(pk__in=list(uuids)):
        found[uuids[customer.pk]] = customer
    return found


# --- Aggregation ------------------------------------------------------------------------------------


def _check_keys(metric: BillableMetric, group_keys: Sequence[str]) -> None:
    known = set(metric.all_group_keys)
    unknown = [k for k in group_keys if k not in known]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} is not a group key of metric {metric.name} "
            f"(group keys: {', '.join(sorted(known)) or 'none'})"
        )
    if len(set(group_keys)) != len(group_keys):
        raise ValueError("a group key is named twice")


def _check_boundaries(boundaries: Sequence[datetime]) -> list[datetime]:
    if len(boundaries) < 2:
        raise ValueError("need at least a start and an end")
    result = []
    for moment in boundaries:
        if moment.tzinfo is None or not is_hour_aligned(moment.astimezone(UTC)):
            raise ValueError(f"{moment.isoformat()} is not an aware UTC hour boundary")
        result.append(moment.astimezone(UTC))
    if any(b <= a for a, b in pairwise(result)):
        raise ValueError("boundaries must increase")
    return result


def metric_usage_by_group(
    *,
    metric: BillableMetric,
    customer: Customer,
    starting_at: datetime,
    ending_before: datetime,
    group_keys: Sequence[str],
) -> GroupUsage:
    """The metric's value per group (in `group_keys` order) for the customer over the range."""
    return metric_usage_by_segment(
        metric=metric,
        customer=customer,
        boundaries=[starting_at, ending_before],
        group_keys=group_keys,
    )[0]


def metric_usage_by_segment(
    *,
    metric: BillableMetric,
    customer: Customer,
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
) -> list[GroupUsage]:
    """One `metric_usage_by_group` answer per segment [b0, b1), [b1, b2), ... of hour-aligned
    `boundaries` (rate segments of a billing period, or usage windows)."""
    return usage_by_segment(
        metric=metric,
        customer_ids=customer_ingest_ids(customer=customer),
        boundaries=boundaries,
        group_keys=group_keys,
    )


def usage_by_segment(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
    only: tuple[str, Sequence[str]] | None = None,
) -> list[GroupUsage]:
    """`metric_usage_by_segment` for explicit ingest ids (several customers at once, or none).

    `only` = (group key, values): count only the events whose value of that group key is one of
    `values` (a contract's usage filter). It is applied to the full group values before rolling
    up, so it is exact for every aggregation, UNIQUE included."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    if only is not None:
        _check_keys(metric, [only[0]])
        only = (only[0], frozenset(only[1]))
    bounds = _check_boundaries(boundaries)
    if not customer_ids:
        return [{} for _ in range(len(bounds) - 1)]
    if metric.sql:
        # A SQL metric is its query over each segment's events (see metering.sql_metrics).
        from .sql_metrics import sql_metric_usage_by_segment

        return sql_metric_usage_by_segment(
            metric=metric,
            customer_ids=list(customer_ids),
            bounds=bounds,
            group_keys=group_keys,
            only=only,
        )
    return event_store().usage_by_segment(
        metric=metric,
        customer_ids=list(customer_ids),
        bounds=bounds,
        group_keys=group_keys,
        only=only,
    )


def usage_by_customer(
    *,
    metric: BillableMetric,
    customer_ids: dict[str, Sequence[str]],
    starting_at: datetime,
    ending_before: datetime,
    group_keys: Sequence[str],
) -> dict[str, GroupUsage]:
    """`usage_by_segment` over one window for many customers: {key: the usage of the ingest ids
    `customer_ids[key]`}, in one read of the configured event store grouped by customer (a SQL
    metric: its query per customer)."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    bounds = _check_boundaries([starting_at, ending_before])
    keys = list(customer_ids)
    if metric.sql:
        return {
            key: usage_by_segment(
                metric=metric,
                customer_ids=customer_ids[key],
                boundaries=bounds,
                group_keys=group_keys,
            )[0]
            for key in keys
        }
    answers = event_store().usage_by_customer(
        metric=metric,
        customers=[list(customer_ids[key]) for key in keys],
        starting_at=bounds[0],
        ending_before=bounds[1],
        group_keys=group_keys,
    )
    return dict(zip(keys, answers, strict=True))


def usage_running(
    *,
    metric: BillableMetric,
    customer_ids: Sequence[str],
    boundaries: Sequence[datetime],
    group_keys: Sequence[str],
) -> list[GroupUsage]:
    """Running totals: answer k is the metric over [b0, b(k+1)), for hour-aligned `boundaries`
    (usage so far at the end of each day of a period), in one read of the aggregates.

    COUNT and SUM add the segments up, MAX keeps the largest, LATEST the value of the last
    segment that had an event. UNIQUE counts each distinct value from the segment it first
    appears in, so a value seen on several days is counted once."""
    group_keys = list(group_keys)
    _check_keys(metric, group_keys)
    bounds = _check_boundaries(boundaries)
    if metric.aggregation_type == BillableMetric.AggregationType.UNIQUE:
        firsts: list[GroupUsage] = [{} for _ in range(len(bounds) - 1)]
        if customer_ids:
            firsts = event_store().unique_first_seen(
                metric=metric, customer_ids=list(customer_ids), bounds=bounds, group_keys=group_keys
            )
        segments, aggregation = firsts, "COUNT"
    else:
        segments = usage_by_segment(
            metric=metric, customer_ids=customer_ids, boundaries=bounds, group_keys=group_keys
        )
        aggregation = metric.aggregation_type
    running: list[GroupUsage] = []
    so_far: GroupUsage = {}
    for segment in segments:
        so_far = dict(so_far)
        for group, value in segment.items():
            before = so_far.get(group)
            if before is None or aggregation == "LATEST":
                so_far[group] = value
            elif aggregation in ("COUNT", "SUM"):
                so_far[group] = EXACT.add(before, value)
            elif value > before:  # MAX
                so_far[group] = value
        running.append(so_far)
    return running


def window_boundaries(
    starting_at: datetime, ending_before: datetime, window: str
) -> list[datetime]:
    """Boundaries of HOUR, DAY or NONE windows over [starting_at, ending_before)."""
    if window == "NONE":
        return [starting_at, ending_before]
    step = timedelta(hours=1) if window == "HOUR" else timedelta(days=1)
    bounds = []
    moment = starting_at
    while moment < ending_before:
        bounds.append(moment)
        moment += step
    bounds.append(ending_before)
    return bounds


@dataclass(frozen=True)
class MetricUsage:
    metric: BillableMetric
    value: Decimal


def customer_usage_summary(
    *, customer: Customer, starting_at: datetime, ending_before: datetime
) -> list[MetricUsage]:
    """Every metric (archived too) that measured something for the customer in the range, with
    its ungrouped value; for the customer's admin page."""
    ids = customer_ingest_ids(customer=customer)
    result = []
    for metric in BillableMetric.objects.order_by("name"):
        value = usage_by_segment(
            metric=metric,
            customer_ids=ids,
            boundaries=[starting_at, ending_before],
            group_keys=[],
        )[0].get(())
        if value is not None:
            result.append(MetricUsage(metric=metric, value=value))
    return result


@dataclass(frozen=True)
class UnattributedId:
    customer_id: str
    events: int
    last_timestamp: datetime


def unattributed_customer_ids(
    *, now: datetime | None = None, limit: int = 200
) -> list[UnattributedId]:
    """customer_ids of events received in the last 34 days that match no customer id and no
    ingest alias, most recent first: what staff should add as an alias. The store lists the
    distinct ids (the relational store by a skip scan of its index); only the unknown ids'
    events are then counted."""
    since = (now or datetime.now(UTC)) - MAX_AGE
    store = event_store()
    ids = store.event_customer_ids()
    known = customers_by_ingest_id(ids)
    unknown = sorted(set(ids) - set(known))
    missing = store.customer_id_activity(customer_ids=unknown, since=since) if unknown else []
    missing.sort(key=lambda row: (row.last_timestamp, row.customer_id), reverse=True)
    return [
        UnattributedId(
            customer_id=row.customer_id, events=row.events, last_timestamp=row.last_timestamp
        )
        for row in missing[:limit]
    ]


# --- Events -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundEvent:
    id: uuid.UUID
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict
    received_at: datetime
    is_duplicate: bool
    customer: Customer | None
    metrics: list[BillableMetric]


def usage_events_search(*, transaction_ids: Sequence[str], now: datetime) -> list[FoundEvent]:
    """Events (and dropped duplicates) received in the last 34 days under these transaction ids,
    with the customer they resolve to now and the metrics they match now."""
    found = event_store().events_by_transaction(
        transaction_ids=list(transaction_ids), since=now - MAX_AGE
    )
    found.sort(key=lambda event: (event.received_at, event.is_duplicate, event.transaction_id))
    customers = customers_by_ingest_id(event.customer_id for event in found)
    definitions = definitions_current()
    metric_ids = {
        m.id for event in found for m in definitions.matching(event.event_type, event.properties)
    }
    metrics = BillableMetric.objects.in_bulk(list(metric_ids))
    result = []
    for event in found:
        matched = [
            metrics[m.id]
            for m in definitions.matching(event.event_type, event.properties)
            if m.id in metrics
        ]
        result.append(
            FoundEvent(
                id=event.id,
                transaction_id=event.transaction_id,
                customer_id=event.customer_id,
                event_type=event.event_type,
                timestamp=event.timestamp,
                properties=event.properties,
                received_at=event.received_at,
                is_duplicate=event.is_duplicate,
                customer=customers.get(event.customer_id),
                metrics=matched,
            )
        )
    return result


def transaction_accepted_at(*, transaction_id: str, now: datetime) -> datetime | None:
    """When an event under this transaction id was accepted in the last 34 days, if it was
    (a new event under it would be dropped as a duplicate)."""
    return event_store().transaction_accepted_at(transaction_id=transaction_id, since=now - MAX_AGE)


def events_between(
    *,
    customer_ids: Sequence[str],
    starting_at: datetime,
    ending_before: datetime,
    event_types: Sequence[str] | None = None,
) -> Iterator[tuple[str, dict]]:
    """(event type, properties) of the events of these customer ids in [starting_at,
    ending_before), in timestamp order: for windows that do not start and end on an hour."""
    return event_store().events_between(
        customer_ids=list(customer_ids),
        starting_at=starting_at,
        ending_before=ending_before,
        event_types=list(event_types) if event_types else None,
    )


def late_event_count(*, customer_ids: Sequence[str]) -> int:
    """How many events of these customer ids arrived after their period was finalized."""
    return event_store().late_event_count(customer_ids=list(customer_ids))


def recent_events(**filters):
    """Events newest first for the admin's event list (see `EventStore.recent_events`)."""
    return event_store().recent_events(**filters)


def daily_usage(
    *,
    metric_ids: Iterable,
    customer_ids: Iterable[str],
    starting_at: datetime,
    ending_before: datetime,
) -> list[tuple]:
    """Per metric, customer id, UTC day and group values: the events counted and the sum of
    their aggregation-key values (one read of the store). Revenue recognition spreads a usage
    line over the days its usage happened."""
    return event_store().daily_usage(
        metric_ids=list(metric_ids),
        customer_ids=list(customer_ids),
        starting_at=starting_at,
        ending_before=ending_before,
    )
