"""`manage.py revenue_schedule --month 2026-11 --format csv`: the month's daily revenue schedule
of the finalized invoices' lines (see payments/revenue/)."""

from django.core.management.base import BaseCommand, CommandError

from payments.revenue import month_bounds, revenue_schedule
from payments.revenue.export import write_csv, write_json


class Command(BaseCommand):
    help = "Write the daily revenue schedule of one month (CSV or JSON) to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, in UTC")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="A file to write (default: stdout)")

    def handle(self, *args, month: str, format: str, output: str | None, **options):
        try:
            start, end = month_bounds(month)
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from None
        rows = revenue_schedule(starting_at=start, ending_before=end)
        write = write_csv if format == "csv" else write_json
        if output:
            with open(output, "w", newline="", encoding="utf-8") as out:
                write(rows, out)
        else:
            write(rows, self.stdout)
