"""Threshold alerts: create, archive, reset, and queue customers for evaluation (`evaluation`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Contract, Customer

from ..models import Alert, CustomerAlert, PendingEvaluation


def evaluator_wake() -> None:
    """Evaluate pending customers soon: a django-q2 task enqueued after the caller's commit."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(EVALUATE_TASK))


EVALUATE_TASK = "notifications.tasks.evaluate_alerts"


def tasks_waiting(*, running: str | None = None) -> list[str] | None:
    """The functions of the django-q2 tasks waiting for the worker (at most 100), the task now
    running (`running`) left out once; None when the broker cannot tell (only the ORM broker,
    the product's, can). Taken rows count: the cluster takes a task ahead of its worker."""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.conf import Conf
    from django_q.models import OrmQ

    if Conf.SYNC:
        return []
    broker = get_broker()
    if not isinstance(broker, ORM):
        return None
    funcs = [row.func() for row in OrmQ.objects.filter(key=broker.list_key).order_by("id")[:100]]
    if running in funcs:
        funcs.remove(running)
    return funcs


def customers_queue(*, customer_ids: Iterable, now: datetime, wake: bool = True) -> int:
    """Queue customers for evaluation (each once however often it is queued)."""
    rows = [PendingEvaluation(customer_id=pk, queued_at=now) for pk in set(customer_ids)]
    if not rows:
        return 0
    PendingEvaluation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    if wake:
        evaluator_wake()
    return len(rows)


def alert_customers(alert: Alert) -> list:
    """The ids of the customers an alert watches: its customer, or every customer with a live
    contract (a global alert)."""
    if alert.customer_id is not None:
        return [alert.customer_id]
    return list(
        Contract.objects.filter(archived_at__isnull=True, customer__archived_at__isnull=True)
        .values_list("customer_id", flat=True)
        .distinct()
    )


def alert_create(*, now: datetime, **fields) -> Alert:
    """Store a validated alert and queue its customers. With `evaluate_on_create` false, their
    first evaluation only records where they stand (no webhook for a threshold already passed)."""
    with transaction.atomic():
        alert = Alert(**fields)
        alert.full_clean()
        alert.save()
        customer_ids = alert_customers(alert)
        if not alert.evaluate_on_create:
            CustomerAlert.objects.bulk_create(
                [
                    CustomerAlert(alert=alert, customer_id=pk, silent=True, updated_at=now)
                    for pk in customer_ids
                ],
                batch_size=1000,
            )
        customers_queue(customer_ids=customer_ids, now=now)
    return alert


def alert_archive(*, alert: Alert, release_uniqueness_key: bool, now: datetime) -> Alert:
    """Stop evaluating it for every customer (idempotent); optionally free its uniqueness key."""
    changed = []
    if alert.status != Alert.Status.ARCHIVED:
        alert.status = Alert.Status.ARCHIVED
        alert.archived_at = now
        changed += ["status", "archived_at"]
    if release_uniqueness_key and alert.uniqueness_key is not None:
        alert.uniqueness_key = None
        changed.append("uniqueness_key")
    if changed:
        alert.save(update_fields=[*changed, "updated_at"])
    return alert


def customer_alert_reset(*, alert: Alert, customer: Customer, now: datetime) -> CustomerAlert:
    """Forget where the customer stood (status `evaluating`) and evaluate again: a threshold
    still passed fires the webhook again."""
    with transaction.atomic():
        state, _ = CustomerAlert.objects.update_or_create(
            alert=alert,
            customer=customer,
            defaults={
                "status": CustomerAlert.Status.EVALUATING,
                "alarmed": [],
                "triggered_by": "",
                "value": None,
                "silent": False,
                "updated_at": now,
            },
        )
        customers_queue(customer_ids=[customer.pk], now=now)
    return state


def alerts_for(customer_ids) -> list[Alert]:
    """The enabled alerts that watch these customers: their own and the global ones (their
    metrics and pricing units read once each and shared, not once per alert)."""
    return list(
        Alert.objects.filter(status=Alert.Status.ENABLED)
        .filter(Q(customer_id__in=list(customer_ids)) | Q(customer__isnull=True))
        .prefetch_related("billable_metric", "credit_type")
        .order_by("created_at", "id")
    )


def alerts_queue_all(*, now: datetime | None = None) -> int:
    """The hourly sweep: queue every customer an enabled alert watches (time alone moves some
    values: days left in a segment, a new billing period)."""
    now = now or timezone.now()
    alerts = Alert.objects.filter(status=Alert.Status.ENABLED)
    if alerts.filter(customer__isnull=True).exists():
        ids = alert_customers(Alert(customer=None))
    else:
        ids = list(alerts.values_list("customer_id", flat=True).distinct())
    return customers_queue(customer_ids=ids, now=now)
