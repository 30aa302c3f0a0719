"""Metering writes: ingest a batch of usage events, backfill a metric, expire the dedup ledger.

Every caller of ingestion (the API view, the admin's sandbox "send test event" form, tests) goes
through `usage_events_ingest`; the hot path and the backfill live in the event store
(`metering.stores`: the relational store or ClickHouse).

Late events: `is_late` is a hook the invoicing side will provide (it knows which periods are
finalized). It receives every `(customer_id as received, timestamp)` of a batch and answers one
boolean per event; metering does not import invoicing. The API view takes it from the setting
`METERING_LATE_EVENT_CHECK` (a dotted path to such a function), when that setting exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from catalog.models import BillableMetric
from core import outbox

from .models import UsageMark
from .stores import (
    Admit,
    EventStore,
    LateCheck,
    Progress,
    StoreResult,
    event_store,
    previewing,
)
from .validation import Event, IngestError, events_validate

__all__ = [
    "IngestError",
    "StoreResult",
    "ingested_transactions_expire",
    "late_event_check",
    "metric_aggregates_backfill",
    "usage_events_ingest",
    "usage_events_validate",
    "usage_marks_take",
    "usage_preview",
]

# Recorded when a batch marks customers with new usage while none was marked: whoever reads the
# marks (threshold alerts) may be idle and is woken by it. At most one per drain of the marks,
# not one per batch.
USAGE_MARKED = "usage.marked"


def usage_events_ingest(
    *,
    events: Sequence[dict] | object,
    now: datetime,
    is_late: LateCheck | None = None,
    admit: Admit | None = None,
) -> StoreResult:
    """Validate a batch (the parsed JSON array) and store it: all events or, on IngestError, none.

    Numbers in `events` must already be int or Decimal (parse JSON with `parse_float=Decimal`).
    Duplicates (inside the batch or of a transaction id accepted in the last 34 days) are
    dropped silently and reported in the result. `admit` (the sender's API token still valid) is
    asked where the batch is written; if it says no, nothing is stored (`result.refused`).
    """
    validated = events_validate(events, now=now)
    result = event_store().append(validated, now=now, is_late=is_late, admit=admit)
    if result.woke:
        # After the batch's own commit (the PostgreSQL statement runs in autocommit): were the
        # process to die in between, the marks stay and the readers' schedule finds them.
        with transaction.atomic():
            outbox.record(type=USAGE_MARKED, subject_id="usage", occurred_at=now)
    return result


def usage_marks_take(*, limit: int) -> list[str]:
    """Take up to `limit` marks of customer ids with new usage, oldest first, and return the ids
    (as events arrived: customer ids or aliases). Run it in the caller's transaction, before
    reading their usage: a batch stored after the take marks its customer again. Rows another
    reader holds are skipped (PostgreSQL)."""
    taken = list(
        UsageMark.objects.select_for_update(skip_locked=True)
        .order_by("marked_at", "customer_id")
        .values_list("customer_id", flat=True)[:limit]
    )
    if taken:
        UsageMark.objects.filter(customer_id__in=taken).delete()
    return taken


def late_event_check() -> LateCheck | None:
    """The late-event hook configured for the API (`METERING_LATE_EVENT_CHECK`), if any."""
    path = getattr(settings, "METERING_LATE_EVENT_CHECK", None)
    return import_string(path) if path else None


def metric_aggregates_backfill(*, metric: BillableMetric, progress: Progress | None = None) -> int:
    """Make `metric` measure the events stored before it existed (idempotent, safe while
    ingestion runs; see the store's `metric_backfill`). Call it after the metric is committed.
    Returns the events matched."""
    return event_store().metric_backfill(metric=metric, progress=progress)


def usage_preview(
    *, customer_ids: Sequence[str], forget: Sequence[tuple[datetime, datetime]] = ()
) -> contextlib.AbstractContextManager[EventStore]:
    """A what-if scope on the configured store (`EventStore.preview`): inside the block, this
    thread's ingests and usage reads see the stored events minus those of `customer_ids` in the
    `forget` windows, plus what the block ingests; other threads and processes see nothing of
    it, and nothing is left once the block ends (a draft preview)."""
    return previewing(customer_ids=customer_ids, forget=forget)


def usage_events_validate(*, events: Sequence[dict] | object, now: datetime) -> list[Event]:
    """The batch as ingestion would take it, stored nowhere (IngestError naming index and
    field)."""
    return events_validate(events, now=now)


def usage_rollups_fold(*, now: datetime) -> datetime | None:
    """Fold the hours closed by `now` into the event store's day and month tier (a schedule);
    returns how far the tier reaches (None: the store writes it with each insert)."""
    return event_store().rollups_fold(now=now)


def ingested_transactions_expire(*, now: datetime) -> int:
    """Forget transaction ids (and logged duplicates) older than the 34-day dedup window."""
    return event_store().expire(now=now)
