"""Every django-q2 schedule the product needs, declared in code and installed by setup_schedules.

Each app adds its entries here; the command creates or updates them by name, so it is idempotent.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int
    help: str


SCHEDULES: list[ScheduleSpec] = [
    ScheduleSpec(
        name="invoicing.ensure_drafts",
        func="invoicing.tasks.ensure_drafts",
        minutes=60,
        help="Create the current period's draft invoice of every active contract.",
    ),
    ScheduleSpec(
        name="invoicing.finalize_due_invoices",
        func="invoicing.tasks.finalize_due_invoices",
        minutes=15,
        help="Finalize drafts whose period ended more than BILLING_FINALIZATION_GRACE ago.",
    ),
    ScheduleSpec(
        name="customers.roll_over_due_transitions",
        func="customers.tasks.roll_over_due_transitions",
        minutes=15,
        help="Roll over renewals made ahead of time once their new contract starts.",
    ),
    ScheduleSpec(
        name="metering.expire_ingested_transactions",
        func="metering.tasks.ingested_transactions_expire_task",
        minutes=24 * 60,
        help="Forget transaction ids older than the 34-day dedup window.",
    ),
]
