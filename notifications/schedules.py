from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="notifications.send_due_deliveries",
        func="notifications.tasks.send_due_deliveries",
        minutes=1,
        help="Send webhook retries that fell due and deliveries whose sender died.",
    ),
    ScheduleSpec(
        name="notifications.fire_lifecycle_moments",
        func="notifications.tasks.fire_lifecycle_moments",
        minutes=1,
        help="Record contract.start/end and segment start/end moments (and offset "
        "notifications) that have come, once each.",
    ),
    ScheduleSpec(
        name="notifications.evaluate_alerts",
        func="notifications.tasks.evaluate_alerts",
        minutes=1,
        help="Evaluate alerts of customers with new usage that no wake-up reached.",
    ),
    ScheduleSpec(
        name="notifications.sweep_alerts",
        func="notifications.tasks.sweep_alerts",
        minutes=60,
        help="Evaluate every watched customer's alerts (days left, new periods).",
    ),
    ScheduleSpec(
        name="notifications.prune_deliveries",
        func="notifications.tasks.prune_deliveries",
        minutes=24 * 60,
        help="Forget webhook deliveries older than 30 days.",
    ),
]
