"""What metering does when the catalog (below it) tells it something happened (`core.outbox`)."""

from __future__ import annotations

from catalog.models import BillableMetric
from core.models import DomainEvent
from core.outbox import handles

from .services import metric_aggregates_backfill


@handles("billable_metric.create", atomic=False)
def billable_metric_created(event: DomainEvent) -> None:
    """A new metric measures the events stored before it existed (the backfill commits a day
    at a time and is idempotent, so it runs outside the outbox's transaction)."""
    metric = BillableMetric.objects.filter(pk=event.payload["billable_metric_id"]).first()
    if metric is not None:
        metric_aggregates_backfill(metric=metric)
