"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

from django.utils import timezone

from invoicing.selectors import sql_metric_drafts_read
from invoicing.services import (
    contract_transitions_roll_over_due,
    drafts_ensure_all,
    invoices_finalize_due,
)
from invoicing.threshold_billing import thresholds_check_all


def finalize_due_invoices() -> int:
    """Finalize the usage drafts whose period ended more than the grace period ago, and the
    scheduled drafts whose date has come."""
    return invoices_finalize_due(now=timezone.now())


def ensure_drafts() -> int:
    """Create the missing current-period drafts of every active contract, and keep its
    scheduled drafts in step with its scheduled charges and commit invoice schedules."""
    return drafts_ensure_all(now=timezone.now())


def roll_over_due_transitions() -> int:
    """Roll over the renewals whose new contract has started (made ahead of time), net of what
    the earlier contract's current drafts draw."""
    return contract_transitions_roll_over_due(now=timezone.now())


def check_thresholds() -> int:
    """Evaluate every enabled threshold configuration (auto-recharge, spend threshold)."""
    return thresholds_check_all(now=timezone.now())


def read_sql_metric_drafts() -> int:
    """Read the drafts priced by SQL metrics, so that their kept results stay current: a period
    read for the first time (a new one) is read whole here, off the request path."""
    return sql_metric_drafts_read(now=timezone.now())


def warm_sql_metric_drafts(contract_ids: list[str]) -> int:
    """Read a new contract's drafts priced by SQL metrics (queued by
    `handlers.contract_created`): a contract made over existing events has its periods kept
    before a person reads a draft, which then reads no whole period."""
    return sql_metric_drafts_read(now=timezone.now(), contract_ids=contract_ids)
