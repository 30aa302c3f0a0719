"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

import os

from django.conf import settings
from django.utils import timezone

from .services import (
    alerts_evaluate_pending,
    alerts_queue_all,
    deliveries_prune,
    deliveries_send,
    deliveries_send_due,
    lifecycle_moments_fire,
)


def send_deliveries(ids) -> int:
    """Send deliveries just queued (enqueued after the commit that queued them)."""
    return deliveries_send(ids=ids)


def send_due_deliveries() -> int:
    """Retries that fell due, and deliveries whose sender died mid-way."""
    return deliveries_send_due(now=timezone.now())


def _lower_priority() -> None:
    """Run below request serving (`ALERTS_EVALUATION_NICE`, 0: as is). A process's niceness
    only goes up: the django-q2 worker that ran an evaluation stays this nice for every task
    it runs after (until it is recycled)."""
    wanted = settings.ALERTS_EVALUATION_NICE
    current = os.nice(0)
    if wanted > current:
        os.nice(wanted - current)


def evaluate_alerts() -> int:
    """Evaluate the alerts of customers with new usage or changed balances."""
    _lower_priority()
    return alerts_evaluate_pending(running="notifications.tasks.evaluate_alerts")


def sweep_alerts() -> int:
    """Queue every watched customer (time alone moves some values), then evaluate."""
    _lower_priority()
    alerts_queue_all(now=timezone.now())
    return alerts_evaluate_pending(running="notifications.tasks.sweep_alerts")


def fire_lifecycle_moments() -> int:
    """contract.start/end and segment start/end moments (and offsets) that have come."""
    return lifecycle_moments_fire(now=timezone.now())


def prune_deliveries() -> int:
    """Forget deliveries older than 30 days."""
    return deliveries_prune(now=timezone.now())
