from core.schedules import ScheduleSpec

SCHEDULES = [
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
]
