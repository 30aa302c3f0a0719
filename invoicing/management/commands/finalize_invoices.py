from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from invoicing.services import invoices_finalize_due


def _parse(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--now {value!r} is not an ISO-8601 timestamp") from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Finalize the drafts whose period ended more than BILLING_FINALIZATION_GRACE ago."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="Act as if it were this moment (ISO-8601; naive means UTC)."
        )

    def handle(self, *args, **options):
        now = _parse(options["now"]) if options["now"] else timezone.now()
        count = invoices_finalize_due(now=now)
        self.stdout.write(f"Finalized {count} invoice(s) as of {now.isoformat()}.")
