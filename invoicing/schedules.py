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
    ScheduleSpec(
        name="invoicing.roll_over_due_transitions",
        func="invoicing.tasks.roll_over_due_transitions",
        minutes=15,
        help="Roll over renewals made ahead of time once their new contract starts (net of "
        "what the earlier contract's drafts draw).",
    ),
    ScheduleSpec(
        name="invoicing.check_thresholds",
        func="invoicing.tasks.check_thresholds",
        minutes=5,
        help="Threshold billing: recharge prepaid balances that fell below their threshold and "
        "bill spend that reached its threshold.",
    ),
    ScheduleSpec(
        name="invoicing.read_sql_metric_drafts",
        func="invoicing.tasks.read_sql_metric_drafts",
        minutes=30,
        help="Read the drafts priced by SQL metrics, so that a person's first read of one is "
        "corrected by the last half hour's events instead of reading the whole period.",
    ),
]
