"""django-q2 entry points: thin wrappers over metering services."""

from django.utils import timezone

from catalog.models import BillableMetric

from . import services


def metric_aggregates_backfill_task(metric_id: str) -> int:
    """Backfill one metric's aggregates (queued when a metric is created)."""
    metric = BillableMetric.objects.get(pk=metric_id)
    return services.metric_aggregates_backfill(metric=metric)


def ingested_transactions_expire_task() -> int:
    """Daily: forget transaction ids older than the 34-day dedup window."""
    return services.ingested_transactions_expire(now=timezone.now())


def usage_rollups_fold_task() -> str | None:
    """Every few minutes: fold the closed hours into the day and month tier."""
    reached = services.usage_rollups_fold(now=timezone.now())
    return reached.isoformat() if reached else None
