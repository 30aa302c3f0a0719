"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

from django.utils import timezone

from customers.services import recurring_balances_materialize_all


def materialize_recurring_balances() -> int:
    """Make the commits and credits recurring terms owe through the next period."""
    return recurring_balances_materialize_all(now=timezone.now())
