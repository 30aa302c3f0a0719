from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="customers.materialize_recurring_balances",
        func="customers.tasks.materialize_recurring_balances",
        minutes=60,
        help="Make the next period's commits and credits of open-ended recurring commits and "
        "credits.",
    ),
]
