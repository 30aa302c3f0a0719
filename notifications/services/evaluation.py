"""Evaluating threshold alerts, off the ingest path.

Ingestion marks customers with new usage (metering's `UsageMark`, one write per batch); the first
mark after a drain records `usage.marked`, whose handler wakes the `evaluate_alerts` task. The task
turns marks into `PendingEvaluation` rows (many batches of one customer become one evaluation:
that is the debounce), then evaluates each pending customer in its own transaction: the row's
deletion, the new states and the `alerts.*` outbox events commit together, so a crossing fires
once and a worker that dies mid-way leaves the customer pending.

What each alert type measures is in `measures`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime
from heapq import merge

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.api import format_timestamp
from customers.models import Customer
from invoicing.usage import usage_reads_shared
from metering.selectors import customers_by_ingest_id, usage_marks_waiting
from metering.services import usage_marks_take

from ..models import Alert, AlertEvaluator, CustomerAlert, PendingEvaluation
from .alerts import EVALUATE_TASK, alerts_for, tasks_waiting
from .measures import BatchValues, CustomerValues, Measure, measures_for

logger = logging.getLogger(__name__)

BATCH = 200
MARKS = 1000


def _base(alert: Alert, customer: Customer, now: datetime, measure: Measure) -> dict:
    return {
        "customer_id": str(customer.pk),
        "alert_id": str(alert.pk),
        "alert_name": alert.name,
        "timestamp": format_timestamp(now),
        "threshold": str(alert.threshold),
        "triggered_by": measure.triggered_by,
        **measure.properties,
    }


def resolved_type(alert_type: str) -> str:
    return alert_type.removesuffix("_reached") + "_resolved"


def _apply(
    alert: Alert, customer: Customer, state: CustomerAlert, measures: list[Measure], now: datetime
) -> int:
    """Compare, record what crossed (each subject fires once) and what fell back; the caller
    saves the state."""
    crossed = [m for m in measures if alert.reached(m.value)]
    before = set(state.alarmed)
    fired = 0
    if not state.silent:
        for measure in crossed:
            if measure.subject not in before:
                outbox.record(
                    type=f"alerts.{alert.type}",
                    subject_id=alert.pk,
                    customer_id=customer.pk,
                    occurred_at=now,
                    payload=_base(alert, customer, now, measure),
                )
                fired += 1
        for measure in measures:
            if measure.subject in before and not alert.reached(measure.value):
                outbox.record(
                    type=f"alerts.{resolved_type(alert.type)}",
                    subject_id=alert.pk,
                    customer_id=customer.pk,
                    occurred_at=now,
                    payload=_base(alert, customer, now, measure),
                )
    status = CustomerAlert.Status.IN_ALARM if crossed else CustomerAlert.Status.OK
    values = [m.value for m in measures]
    headline = (max(values) if alert.is_high else min(values)) if values else None
    if status != state.status:
        state.updated_at = now
    state.status = status
    state.alarmed = sorted(m.subject for m in crossed)
    state.value = headline
    newly = [m for m in crossed if m.subject not in before]
    if newly:
        state.triggered_by = newly[0].triggered_by[:300]
    elif not crossed:
        state.triggered_by = ""
    state.silent = False
    state.evaluated_at = now
    return fired


# What an evaluation changes now and then (saved only for the rows it changed); `value` and
# `evaluated_at` change every time and are saved apart (`_values_save`): Django's bulk_update
# writes a CASE per row and field, which cost three quarters of an evaluation when every field of
# every row was written that way.
MOVED_FIELDS = ["status", "alarmed", "triggered_by", "silent", "updated_at"]


def _moved(state: CustomerAlert) -> tuple:
    return tuple(getattr(state, name) for name in MOVED_FIELDS)


def customers_alerts_evaluate(*, customer_ids, now: datetime, pending: bool = True) -> int:
    """Evaluate every alert watching these customers, in one transaction (the values of the
    whole batch read once); returns how many webhooks fired. With `pending`, only the customers
    still pending, whose rows are deleted here: two workers never evaluate the same change twice
    (a row another worker holds is skipped)."""
    with transaction.atomic(), usage_reads_shared():
        ids = list(customer_ids)
        if pending:
            ids = list(
                PendingEvaluation.objects.select_for_update(skip_locked=True)
                .filter(customer_id__in=ids)
                .values_list("customer_id", flat=True)
            )
            PendingEvaluation.objects.filter(customer_id__in=ids).delete()
        alerts = alerts_for(ids)
        customers = list(Customer.objects.filter(pk__in=ids))
        if not alerts or not customers:
            return 0
        # Without their customers (the batch's are at hand): a join would build each customer
        # once per alert watching it.
        states = {
            (s.alert_id, s.customer_id): s
            for s in CustomerAlert.objects.select_for_update().filter(
                customer__in=customers, alert__in=alerts
            )
        }
        batch = BatchValues(customers, now)
        fired = 0
        made, moved, seen = [], [], []
        # Each customer's alerts, in `alerts_for`'s order: the global ones merged with its own.
        everyone = [a for a in alerts if a.customer_id is None]
        own = defaultdict(list)
        for alert in alerts:
            if alert.customer_id is not None:
                own[alert.customer_id].append(alert)
        for customer in customers:
            values = CustomerValues(customer, now, batch)
            watching = merge(everyone, own[customer.pk], key=lambda a: (a.created_at, a.pk))
            for alert in watching:
                state = states.get((alert.pk, customer.pk))
                if state is None:
                    state = CustomerAlert(alert=alert, customer=customer, updated_at=now)
                    made.append(state)
                else:
                    seen.append(state)
                before = _moved(state)
                fired += _apply(alert, customer, state, measures_for(alert, values), now)
                if state.pk is not None and _moved(state) != before:
                    moved.append(state)
        CustomerAlert.objects.bulk_create(made, batch_size=500)
        CustomerAlert.objects.bulk_update(moved, MOVED_FIELDS, batch_size=500)
        _values_save(seen, now)
        return fired


def _values_save(states: list[CustomerAlert], now: datetime) -> None:
    """Each state's `value` and the evaluation's moment, for the whole batch: on PostgreSQL one
    statement over two arrays, elsewhere bulk_update (a CASE per row)."""
    if not states:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CustomerAlert._meta.db_table} AS a "
                "SET value = v.value, evaluated_at = %s "
                "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, value) WHERE a.id = v.id",
                [now, [s.pk for s in states], [s.value for s in states]],
            )
        return
    CustomerAlert.objects.bulk_update(states, ["value", "evaluated_at"], batch_size=500)


def customer_alerts_evaluate(*, customer_id, now: datetime, pending: bool = True) -> int:
    """`customers_alerts_evaluate` for one customer."""
    return customers_alerts_evaluate(customer_ids=[customer_id], now=now, pending=pending)


def _marks_wait(now: datetime, interval: float) -> float:
    """Seconds until the marks may be taken again (0: now)."""
    taken = AlertEvaluator.objects.filter(pk=AlertEvaluator.ONE).values_list(
        "marks_taken_at", flat=True
    )
    last = next(iter(taken), None)
    if last is None:
        return 0.0
    return max(0.0, (last - now).total_seconds() + interval)


def _marks_to_pending(now: datetime) -> int:
    """Turn metering's marks (all of them, MARKS at a time) into pending evaluations of the
    customers that alerts watch; a take remembers its moment (the debounce)."""
    taken = 0
    while True:
        with transaction.atomic():
            ids = usage_marks_take(limit=MARKS)
            if not ids:
                return taken
            AlertEvaluator.objects.update_or_create(
                pk=AlertEvaluator.ONE, defaults={"marks_taken_at": now}
            )
            customers = {c.pk for c in customers_by_ingest_id(ids).values()}
            watched = _watched(customers)
            PendingEvaluation.objects.bulk_create(
                [PendingEvaluation(customer_id=pk, queued_at=now) for pk in watched],
                ignore_conflicts=True,
            )
        taken += len(ids)
        if len(ids) < MARKS:
            return taken


def _watched(customer_ids: set) -> set:
    alerts = Alert.objects.filter(status=Alert.Status.ENABLED)
    if alerts.filter(customer__isnull=True).exists():
        return set(customer_ids)
    return set(alerts.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True))


def _yield(started: float, budget: float, running: str | None, waited: float = 0.0) -> bool:
    """Whether the worker should stop now and come back later: other tasks wait for it (a
    webhook delivery: never behind a whole cycle of evaluations) or its budget is spent. It
    enqueues itself again unless a copy already waits."""
    waiting = tasks_waiting(running=running)
    over = time.monotonic() - started + waited > budget
    if not over and not waiting:
        return False
    if waiting is None or EVALUATE_TASK not in waiting:
        from django_q.tasks import async_task

        async_task(EVALUATE_TASK)
    return True


def alerts_evaluate_pending(
    *,
    budget: float = 50.0,
    interval: float | None = None,
    running: str | None = None,
    sleep=time.sleep,
) -> int:
    """The worker: evaluate pending customers (balance changes, resets, the sweep) and the
    customers with new usage, taking metering's marks at most once per `interval` seconds
    (`ALERTS_EVALUATION_INTERVAL`): each customer is evaluated at most once per interval however
    fast its events arrive, and a crossing is seen within the interval plus one cycle. Between
    takes it sleeps (no CPU), but gives the worker up to any other task and after `budget`
    seconds, enqueueing itself again. `running` names the task running it (its own queue row is
    not another task). Returns how many webhooks fired."""
    if interval is None:
        interval = settings.ALERTS_EVALUATION_INTERVAL
    started = time.monotonic()
    fired = 0
    failed: set = set()  # left pending for the next run (the hourly sweep at the latest)
    while True:
        now = timezone.now()
        wait = _marks_wait(now, interval)
        if not wait:
            _marks_to_pending(now)
        pending = list(
            PendingEvaluation.objects.exclude(customer_id__in=failed)
            .order_by("queued_at")
            .values_list("customer_id", flat=True)[:BATCH]
        )
        if pending:
            fired += _evaluate_batch(pending, failed)
            if _yield(started, budget, running):
                return fired
            continue
        if not usage_marks_waiting():
            return fired
        # New usage, for the next take: sleep until then unless the worker is wanted elsewhere.
        wait = _marks_wait(timezone.now(), interval)
        if _yield(started, budget, running, waited=wait):
            return fired
        sleep(min(max(wait, 0.05), 1.0))


def _evaluate_batch(pending: list, failed: set) -> int:
    try:
        return customers_alerts_evaluate(customer_ids=pending, now=timezone.now())
    except Exception:
        # One at a time, to evaluate the others and name the customer that fails.
        fired = 0
        for customer_id in pending:
            try:
                fired += customer_alerts_evaluate(customer_id=customer_id, now=timezone.now())
            except Exception:
                logger.exception("alerts: evaluating customer %s failed", customer_id)
                failed.add(customer_id)
        return fired
