from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from notifications.services import webhook_endpoint_create


class Command(BaseCommand):
    help = (
        "Add a webhook endpoint and print its signing secret (shown this once). "
        "--events takes event types (invoice.finalized, alerts.*, ...); none: every event."
    )

    def add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument("--events", nargs="*", default=[], metavar="TYPE")
        parser.add_argument("--description", default="")
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args, url, events, description, disabled, **options):
        types = [t for value in events for t in value.replace(",", " ").split()]
        try:
            endpoint, secret = webhook_endpoint_create(
                url=url, description=description, event_types=types, enabled=not disabled
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Endpoint {endpoint.pk} -> {endpoint.url}")
        self.stdout.write(f"Events: {', '.join(endpoint.event_types) or 'all'}")
        self.stdout.write("Signing secret (shown once, store it now):")
        self.stdout.write(secret)
