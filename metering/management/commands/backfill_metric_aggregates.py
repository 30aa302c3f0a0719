"""Rebuild billable metrics' pre-aggregates from the stored events, with progress output."""

from django.core.management.base import BaseCommand, CommandError

from catalog.models import BillableMetric
from metering import services


class Command(BaseCommand):
    help = (
        "Rebuild the hourly usage aggregates of the given billable metrics (or --all) from the "
        "stored usage events. Idempotent; safe while ingestion runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("metric_ids", nargs="*", help="Billable metric ids.")
        parser.add_argument("--all", action="store_true", help="Every billable metric.")

    def handle(self, *args, metric_ids, all, **options):
        if all == bool(metric_ids):
            raise CommandError("Give billable metric ids, or --all (not both).")
        metrics = BillableMetric.objects.order_by("created_at")
        if metric_ids:
            metrics = metrics.filter(pk__in=metric_ids)
            if metrics.count() != len(set(metric_ids)):
                found = {str(pk) for pk in metrics.values_list("pk", flat=True)}
                missing = ", ".join(sorted(set(metric_ids) - found))
                raise CommandError(f"No billable metric with id {missing}.")
        for metric in metrics:
            matched = services.metric_aggregates_backfill(
                metric=metric, progress=lambda line: self.stdout.write(line)
            )
            self.stdout.write(self.style.SUCCESS(f"{metric.name}: {matched} events measured."))
