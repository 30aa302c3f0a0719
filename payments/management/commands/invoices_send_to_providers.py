"""Hand off, at once, every finalized invoice whose hand-off delay has passed (what the
`payments.send_invoices` schedule does every minute)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from payments.services import invoice_payments_send_due


class Command(BaseCommand):
    help = "Send finalized invoices due to their billing provider (Stripe) now."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10_000)

    def handle(self, *args, limit: int, **options):
        counts = invoice_payments_send_due(now=timezone.now(), limit=limit)
        self.stdout.write(
            f"sent {counts.sent}, voided {counts.voided}, failed {counts.failed} "
            f"({counts.calls} Stripe calls)"
        )
