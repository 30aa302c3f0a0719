"""Every django-q2 schedule the product needs, declared in code by the app that owns the work.

Each app lists its own in `<app>/schedules.py` as `SCHEDULES = [ScheduleSpec(...), ...]`;
`all_schedules()` gathers them from the installed apps, and `manage.py setup_schedules` installs
them by name (idempotent) and removes schedules of ours that no app declares any more.
"""

from dataclasses import dataclass
from importlib import import_module

from django.apps import apps


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int
    help: str


def all_schedules() -> list[ScheduleSpec]:
    """The SCHEDULES of every installed app's `schedules` module, in INSTALLED_APPS order."""
    found: list[ScheduleSpec] = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found.extend(getattr(module, "SCHEDULES", ()))
    return found


def app_of(func: str) -> str:
    """The app a scheduled function belongs to (`invoicing.tasks.x` -> `invoicing`)."""
    return func.split(".", 1)[0]


SCHEDULES = [
    ScheduleSpec(
        name="core.dispatch_outbox",
        func="core.tasks.dispatch_outbox",
        minutes=1,
        help="Run outbox handlers that failed (with backoff) or never ran.",
    ),
    ScheduleSpec(
        name="core.prune_outbox",
        func="core.tasks.prune_outbox",
        minutes=24 * 60,
        help="Forget handled outbox events older than OUTBOX_RETENTION_DAYS (30).",
    ),
]
