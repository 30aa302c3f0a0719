from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="customers.roll_over_due_transitions",
        func="customers.tasks.roll_over_due_transitions",
        minutes=15,
        help="Roll over renewals made ahead of time once their new contract starts.",
    ),
]
