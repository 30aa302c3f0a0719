from django.core.management.base import BaseCommand, CommandError

from billing_site.backups import BackupError, backup, events_path


class Command(BaseCommand):
    help = (
        "Write a backup of the whole database to PATH while the product runs: SQLite's online "
        "backup API (the WAL included) or pg_dump's custom format; with a ClickHouse event store, "
        "its tables into PATH.events/. Restore with `restore PATH`."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the backup file to write (replaced once complete)")
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options):
        try:
            kind, tables = backup(options["path"], using=options["database"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backed up the {kind} database to {options['path']}.")
        if tables:
            self.stdout.write(
                f"Backed up the event store's tables ({', '.join(tables)}) "
                f"to {events_path(options['path'])}."
            )
