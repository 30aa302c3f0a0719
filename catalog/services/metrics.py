"""Billable metrics: create (metering hears `billable_metric.create` and backfills), rename, archive."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core import outbox

from ..models import (
    BillableMetric,
)
from .common import already_archived, save_clean


def billable_metric_create(
    *,
    name: str,
    aggregation_type: str,
    aggregation_key: str = "",
    event_type_filter: dict | None = None,
    property_filters: list | None = None,
    group_keys: list | None = None,
    custom_fields: dict | None = None,
    now: datetime | None = None,
) -> BillableMetric:
    """A billable metric; metering measures the events already stored once it hears
    `billable_metric.create` (after commit)."""
    metric = BillableMetric(
        name=name,
        aggregation_type=aggregation_type,
        aggregation_key=aggregation_key or "",
        event_type_filter=event_type_filter or {},
        property_filters=property_filters or [],
        group_keys=group_keys or [],
        custom_fields=custom_fields or {},
    )
    return _made(metric, now)


def _made(metric: BillableMetric, now: datetime | None) -> BillableMetric:
    """Save a new metric and record `billable_metric.create`: metering hears it and measures
    the events stored before the metric existed."""
    with transaction.atomic():
        save_clean(metric)
        outbox.record(
            type="billable_metric.create",
            subject_id=metric.pk,
            occurred_at=now or timezone.now(),
            payload={"billable_metric_id": str(metric.pk)},
        )
    return metric


def sql_metric_check(sql: str):
    """A SQL metric's query checked (`catalog.sql_metric`) and, through the
    `CATALOG_SQL_METRIC_CHECK` hook (metering's), run once over no events so the database's own
    objections come now; the parsed query, or a ValidationError on `sql` saying what and
    where."""
    from ..sql_metric import SqlMetricError, parse_sql_metric

    try:
        parsed = parse_sql_metric(sql)
    except SqlMetricError as exc:
        raise ValidationError({"sql": str(exc)}) from None
    check = getattr(settings, "CATALOG_SQL_METRIC_CHECK", None)
    if check:
        try:
            import_string(check)(sql)
        except ValueError as exc:  # the database refused it
            raise ValidationError({"sql": str(exc)}) from None
    return parsed


def billable_metric_create_sql(
    *, name: str, sql: str, custom_fields: dict | None = None, now: datetime | None = None
) -> BillableMetric:
    """A SQL billable metric: its query checked (`catalog.sql_metric`: a ValidationError on
    `sql` says what and where), its group keys the query's other columns, and, through the
    `CATALOG_SQL_METRIC_CHECK` hook (metering's), run once over no events so the database's own
    objections come now. Metering hears `billable_metric.create` as for any metric."""
    parsed = sql_metric_check(sql)
    metric = BillableMetric(
        name=name,
        sql=sql,
        aggregation_type=BillableMetric.AggregationType.COUNT,
        group_keys=[list(parsed.group_keys)] if parsed.group_keys else [],
        custom_fields=custom_fields or {},
    )
    return _made(metric, now)


def billable_metric_rename(*, metric: BillableMetric, name: str) -> BillableMetric:
    if metric.archived_at is not None:
        raise ValidationError("This billable metric is archived; it cannot be renamed.")
    metric.name = name
    save_clean(metric)
    return metric


def billable_metric_archive(*, metric: BillableMetric, now: datetime) -> BillableMetric:
    already_archived(metric, "billable metric")
    metric.archived_at = now
    metric.save(update_fields=["archived_at"])
    return metric
