from django.apps import apps
from django.core.management.base import BaseCommand
from django_q.models import Schedule

from core.schedules import all_schedules, app_of


class Command(BaseCommand):
    help = (
        "Install or update the django-q2 schedules each app declares in <app>/schedules.py, and "
        "remove ours that no app declares any more."
    )

    def handle(self, *args, **options):
        specs = all_schedules()
        for spec in specs:
            _, created = Schedule.objects.update_or_create(
                name=spec.name,
                defaults={
                    "func": spec.func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": spec.minutes,
                    "repeats": -1,
                },
            )
            verb = "installed" if created else "up to date"
            self.stdout.write(f"{spec.name}: {verb} (every {spec.minutes} min) - {spec.help}")
        ours = {config.name for config in apps.get_app_configs()}
        declared = {spec.name for spec in specs}
        for schedule in Schedule.objects.exclude(name__in=declared):
            if app_of(schedule.func) in ours:
                schedule.delete()
                self.stdout.write(f"{schedule.name}: removed (no app declares it any more)")
