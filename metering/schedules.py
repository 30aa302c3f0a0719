from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="metering.expire_ingested_transactions",
        func="metering.tasks.ingested_transactions_expire_task",
        minutes=24 * 60,
        help="Forget transaction ids older than the 34-day dedup window.",
    ),
    ScheduleSpec(
        name="metering.fold_usage_rollups",
        func="metering.tasks.usage_rollups_fold_task",
        minutes=5,
        help="Add the closed hours' usage to the day and month rows long windows read.",
    ),
]
