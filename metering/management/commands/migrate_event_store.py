"""Bring the ClickHouse event store's schema up to date (versioned migrations, as Snuba does)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metering.stores.clickhouse import migrate
from metering.stores.clickhouse.client import EventStoreError, client_for, parse_url


class Command(BaseCommand):
    help = (
        "Apply the ClickHouse event store's pending schema migrations (EVENT_STORE_URL). "
        "--plan prints the DDL for the URL's layout (single node, or ?cluster=NAME) without "
        "connecting. With the relational store (EVENT_STORE_URL empty) there is nothing to do: "
        "`manage.py migrate` owns its tables."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default=None, help="An event store URL (default: EVENT_STORE_URL)."
        )
        parser.add_argument(
            "--plan", action="store_true", help="Print every migration's DDL; change nothing."
        )

    def handle(self, *args, url, plan, **options):
        url = settings.EVENT_STORE_URL if url is None else url
        if not url:
            self.stdout.write(
                "EVENT_STORE_URL is empty: events live in the relational database, whose tables "
                "`manage.py migrate` creates. Nothing to do."
            )
            return
        try:
            location = parse_url(url)
            if plan:
                for version, statements in migrate.plan(
                    database=location.database, cluster=location.cluster
                ):
                    self.stdout.write(f"-- {version}")
                    for statement in statements:
                        self.stdout.write(statement + ";")
                return
            client = client_for(url)
            done = migrate.apply(client, progress=self.stdout.write)
        except EventStoreError as exc:
            raise CommandError(str(exc)) from exc
        if done:
            self.stdout.write(self.style.SUCCESS(f"{len(done)} migration(s) applied."))
        else:
            self.stdout.write("The event store's schema is up to date.")
