"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

from django.utils import timezone

from customers.services import contract_transitions_roll_over_due


def roll_over_due_transitions() -> int:
    """Roll over the renewals whose new contract has started (made ahead of time)."""
    return contract_transitions_roll_over_due(now=timezone.now())
