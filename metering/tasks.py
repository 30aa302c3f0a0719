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


def sql_metric_hours_keep_task(metric_id, customer_ids, starting_at, ending_before, only) -> bool:
    """Keep an hourly SQL metric's hours for a window (queued by its first read)."""
    from .sql_metrics import sql_metric_hours_keep

    return sql_metric_hours_keep(
        metric=BillableMetric.objects.get(pk=metric_id),
        customer_ids=customer_ids,
        starting_at=starting_at,
        ending_before=ending_before,
        only=(only[0], only[1]) if only else None,
    )
