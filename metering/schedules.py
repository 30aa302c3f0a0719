from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="metering.expire_ingested_transactions",
        func="metering.tasks.ingested_transactions_expire_task",
        minutes=24 * 60,
        help="Forget transaction ids older than the 34-day dedup window.",
    ),
]
