from django.core.management.base import BaseCommand
from django.utils import timezone

from billing_site.demo import demo_world_load


class Command(BaseCommand):
    help = "Load the quickstart demo world (Input Tokens, Standard Rate Card, Acme AI). Idempotent."

    def handle(self, *args, **options):
        created = demo_world_load(now=timezone.now())
        if created:
            self.stdout.write("Demo data loaded: " + ", ".join(created) + ".")
        else:
            self.stdout.write("Demo data already present; nothing changed.")
