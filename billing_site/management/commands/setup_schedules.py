from django.core.management.base import BaseCommand
from django_q.models import Schedule

from billing_site.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Install or update the django-q2 schedules declared in billing_site/schedules.py."

    def handle(self, *args, **options):
        for spec in SCHEDULES:
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
