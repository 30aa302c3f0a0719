from django.core.management.base import BaseCommand

from core.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token and print it once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for, e.g. 'ingest-prod'.")

    def handle(self, *args, name: str, **options):
        _, raw = ApiToken.generate(name=name)
        self.stdout.write(raw)
