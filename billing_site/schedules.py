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


SCHEDULES: list[ScheduleSpec] = []
