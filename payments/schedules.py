from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="payments.send_invoices",
        func="payments.tasks.send_invoices",
        minutes=1,
        help="Hand finalized invoices to Stripe once the connection's hand-off delay has passed "
        "(and void there what was voided here); errors are retried with backoff.",
    ),
]
