"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

from django.utils import timezone

from core.outbox import dispatch_due
from core.services import domain_events_prune


def dispatch_outbox() -> int:
    """Run outbox handlers that failed and are due again, or that never ran."""
    return dispatch_due(now=timezone.now())


def prune_outbox() -> int:
    """Forget handled events older than the retention."""
    return domain_events_prune(now=timezone.now())
